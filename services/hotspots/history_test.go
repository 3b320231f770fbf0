package hotspots

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// placeAt is a place of the backfill test: its offset from the origin, and
// the days (before now) of its live complaints, oldest first.
type placeAt struct {
	name   string
	dx     float64
	live   []float64
	status string // of its live hotspot, as of now
}

// A year of work orders loaded as history (nuisance replay -history) after
// the system went live, each older than the window of the live hotspot of
// its place, leaves every live hotspot as it stands without them: an
// active one active, an escalated one escalated, a cooling one cooling
// and a closed one closed, each with its own count, and no hotspot event
// of theirs comes of the backfill. The hotspots history makes on its own
// are all closed as of now, none escalated on the way (monthly bursts of
// a year ago are no news today), and the history's complaint.clustered
// events carry the mark. The backfill is fed as the consume loop would, in
// batches of the file's order, with the minute's tick in between.
func TestAYearOfHistoryLeavesTodaysHotspotsAsTheyAre(t *testing.T) {
	t.Parallel()
	now := t0.AddDate(1, 0, 0)
	places := []placeAt{
		{"active", 0, []float64{10, 9, 8, 5, 2}, "active"},
		{"escalated", 3000, []float64{3, 2.5, 2, 1.5, 1, 0.5}, "escalated"},
		{"cooling", 6000, []float64{20, 19, 18, 17}, "cooling"},
		{"closed", 9000, []float64{60, 59, 58, 57}, "closed"},
		{"history-only", 12000, nil, ""},
	}
	at := func(daysAgo float64) time.Time { return now.Add(-time.Duration(daysAgo * float64(24*time.Hour))) }
	var live []event.ComplaintLocated
	for _, p := range places {
		for i, d := range p.live {
			live = append(live, located(fmt.Sprintf("live-%s-%d", p.name, i), p.dx+float64(i%3)*10, float64(i%2)*10, at(d)))
		}
	}
	slices.SortFunc(live, func(a, b event.ComplaintLocated) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	// History at every place, from a year ago to more than a window (30
	// days) before the place's first live complaint: one every other day,
	// and each month a burst of six in a day, which escalates a hotspot
	// fed as it happens.
	var history []event.ComplaintLocated
	for _, p := range places {
		until := now
		if len(p.live) > 0 {
			until = at(p.live[0])
		}
		until = until.Add(-31 * 24 * time.Hour)
		n := 0
		add := func(t time.Time) {
			ev := located(fmt.Sprintf("hist-%s-%d", p.name, n), p.dx+float64(n%4)*10, float64(n%3)*10, t)
			ev.History = true
			history = append(history, ev)
			n++
		}
		for d := 365.0; at(d).Before(until); d -= 2 {
			add(at(d))
			if int(d)%30 == 1 {
				for k := range 6 {
					add(at(d).Add(time.Duration(k) * time.Hour))
				}
			}
		}
	}
	slices.SortStableFunc(history, func(a, b event.ComplaintLocated) int { return a.ReceivedAt.Compare(b.ReceivedAt) })

	ctx := context.Background()
	without, with := setup(t), setup(t)
	for _, e := range []env{without, with} {
		e.clock.Set(now)
		e.consumeAll(t, 64, live...)
		if _, err := e.svc.TickOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var before int64
	if err := with.pool.QueryRow(ctx, `SELECT max(seq) FROM outbox`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(history); i += 256 {
		with.consumeAll(t, 256, history[i:min(i+256, len(history))]...)
		if _, err := with.svc.TickOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []env{without, with} {
		if _, err := e.svc.TickOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	for _, p := range places {
		if len(p.live) == 0 {
			continue
		}
		id, _ := member(t, without.pool, "live-"+p.name+"-0")
		if id == "" {
			t.Fatalf("%s: no live hotspot", p.name)
		}
		a, _ := hotspot(t, without.pool, id)
		b, ok := hotspot(t, with.pool, id)
		if a.Status != p.status {
			t.Errorf("%s: live hotspot %s is %s without history, want %s (the test's premise)", p.name, id, a.Status, p.status)
		}
		if !ok || b.Status != a.Status || b.Count != a.Count {
			t.Errorf("%s: live hotspot %s is %s with %d complaints after a year of history, %s with %d without",
				p.name, id, b.Status, b.Count, a.Status, a.Count)
		}
		for i := range p.live {
			if hs, _ := member(t, with.pool, fmt.Sprintf("live-%s-%d", p.name, i)); hs != id {
				t.Errorf("%s: live complaint %d moved to hotspot %q with history", p.name, i, hs)
			}
		}
		if n := count(t, with.pool, `SELECT count(*) FROM outbox WHERE seq > $1 AND subject LIKE 'hotspot.%' AND payload->>'hotspot_id' = $2`, before, id); n != 0 {
			t.Errorf("%s: the backfill published %d events of the live hotspot %s", p.name, n, id)
		}
	}
	if n := count(t, with.pool, `SELECT count(*) FROM hotspot_members WHERE complaint_id LIKE 'hist-%'`); n != len(history) {
		t.Errorf("%d of %d history complaints clustered", n, len(history))
	}
	if n := count(t, with.pool, `SELECT count(DISTINCT hotspot_id) FROM hotspot_members WHERE complaint_id LIKE 'hist-%'`); n < len(places) {
		t.Errorf("history makes %d hotspots, want one at least at each of the %d places", n, len(places))
	}
	if n := count(t, with.pool, `SELECT count(*) FROM hotspots h WHERE status NOT IN ('closed', 'merged')
		AND NOT EXISTS (SELECT 1 FROM hotspot_members m WHERE m.hotspot_id = h.id AND m.complaint_id LIKE 'live-%')`); n != 0 {
		t.Errorf("%d hotspots of history alone are not closed as of now", n)
	}
	if n := count(t, with.pool, `SELECT count(*) FROM hotspots WHERE status NOT IN ('closed', 'merged')`); n != count(t, without.pool, `SELECT count(*) FROM hotspots WHERE status NOT IN ('closed', 'merged')`) {
		t.Errorf("%d hotspots open as of now with history, %d without", n, count(t, without.pool, `SELECT count(*) FROM hotspots WHERE status NOT IN ('closed', 'merged')`))
	}
	if n := count(t, with.pool, `SELECT count(*) FROM outbox WHERE subject LIKE 'complaint.clustered.%' AND event_id LIKE 'hist-%' AND (payload->>'history')::boolean IS NOT TRUE`); n != 0 {
		t.Errorf("%d complaint.clustered events of history without the mark", n)
	}
	if _, ev := clusteredEvent(t, with.pool, history[0].ComplaintID); !ev.History {
		t.Error("complaint.clustered of history without the mark")
	}

	if n := count(t, with.pool, `SELECT count(*) FROM outbox WHERE seq > $1 AND subject = 'hotspot.escalated'`, before); n != 0 {
		t.Errorf("the backfill escalated %d hotspots", n)
	}
	// Loaded before the system went live, with no live feed yet to be late
	// behind, the year of history is long past by the clock: its hotspots
	// are made, escalate nothing, and are closed as of now.
	alone := setup(t)
	alone.clock.Set(now)
	for i := 0; i < len(history); i += 256 {
		alone.consumeAll(t, 256, history[i:min(i+256, len(history))]...)
		if _, err := alone.svc.TickOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, alone.pool, `SELECT count(*) FROM outbox WHERE subject = 'hotspot.escalated'`); n != 0 {
		t.Errorf("a backfill into a system without a live feed escalated %d hotspots", n)
	}
	if n := count(t, alone.pool, `SELECT count(*) FROM hotspots WHERE status NOT IN ('closed', 'merged')`); n != 0 {
		t.Errorf("%d hotspots of history alone are not closed as of now", n)
	}
	if a, b := count(t, alone.pool, `SELECT count(DISTINCT hotspot_id) FROM hotspot_members`), count(t, with.pool, `SELECT count(DISTINCT hotspot_id) FROM hotspot_members WHERE complaint_id LIKE 'hist-%'`); a != b {
		t.Errorf("history makes %d hotspots before the system went live, %d after", a, b)
	}

	// A restart rebuilds the same statuses: its first tick changes nothing.
	restarted := newService(t, with.pool, with.clock)
	if n, err := restarted.TickOnce(ctx); err != nil || n != 0 {
		t.Errorf("first tick after a restart: %d changes (%v), want none", n, err)
	}
}
