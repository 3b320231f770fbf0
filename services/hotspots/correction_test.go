package hotspots

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// A supervisor corrects a complaint the router could not route (it was
// clustered already): the geocoder publishes its corrected location under
// <id>.located.c1, and the detector answers it with a complaint.clustered
// of its own, carrying the corrected district and category, so that the
// router sees the corrected complaint. A redelivery of the correction
// publishes nothing more.
func TestACorrectedComplaintIsClusteredAgainForTheRouter(t *testing.T) {
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0))
	fixed := located("c1", 0, 0, t0)
	fixed.EventID = "c1.located.c1"
	fixed.District, fixed.Category, fixed.Subcategory = "siming", "dust", "construction_site"
	e.handle(t, fixed)
	e.handle(t, fixed)
	rows, err := e.pool.Query(context.Background(), `SELECT event_id, subject, payload->>'district', payload->>'category'
		FROM outbox WHERE subject LIKE 'complaint.clustered.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][4]string
	for rows.Next() {
		var r [4]string
		if err := rows.Scan(&r[0], &r[1], &r[2], &r[3]); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[1] != [4]string{"c1.clustered.c1", "complaint.clustered.siming.dust", "siming", "dust"} {
		t.Errorf("clustered events %v, want the first and one for the correction (c1.clustered.c1, siming, dust)", got)
	}
	// The detector counts it as dust, where the weekly report's hotspots
	// read it.
	if n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE complaint_id = 'c1' AND category = 'dust'`); n != 1 {
		t.Error("c1 is not stored as dust")
	}
}

// corrected is ev as the geocoder publishes its n-th correction.
func corrected(ev event.ComplaintLocated, n int) event.ComplaintLocated {
	ev.EventID = fmt.Sprintf("%s.located.c%d", ev.ComplaintID, n)
	return ev
}

// setCorrections stores the geocoder's count of a complaint's applied
// corrections, which numbers their located events.
func setCorrections(t *testing.T, pool *pgxpool.Pool, complaintID string, at time.Time, n int) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO locations (complaint_id, located, received_at, corrections)
		VALUES ($1, true, $2, $3) ON CONFLICT (complaint_id) DO UPDATE SET corrections = $3`, complaintID, at, n); err != nil {
		t.Fatal(err)
	}
}

// redeliver hands events to the batch handler in a transaction of their
// own, past the consumer's record of processed events (as after its
// retention): the handler alone must change nothing.
func redeliver(t *testing.T, e env, evs ...event.ComplaintLocated) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		return e.svc.HandleComplaintsLocated(ctx, tx, evs, make([]natsx.Meta, len(evs)))
	})
	if err != nil {
		t.Fatalf("redeliver: %v", err)
	}
}

// A supervisor moves one of a Siming hotspot's four complaints to Huli,
// next to two Huli complaints. The Siming hotspot counts three, and says
// so (hotspot.updated); the corrected complaint is counted in Huli, where
// it makes a hotspot with the other two. The correction again, and the
// complaint's first location delivered late, change nothing; after a
// restart, a complaint at either place joins the hotspot of its place.
func TestACorrectedComplaintLeavesItsHotspot(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("a1", 0, 0, t0), located("a2", 10, 0, t0.Add(hours(1))), located("a3", 0, 10, t0.Add(hours(2))),
		located("a4", 10, 10, t0.Add(hours(3))))
	hs, _ := member(t, e.pool, "a1")
	if h, _ := hotspot(t, e.pool, hs); hs == "" || h.Count != 4 {
		t.Fatalf("Siming's hotspot %q counts %d, want 4", hs, h.Count)
	}
	e.handle(t, inHuli(located("h1", 0, 0, t0.Add(hours(4)))), inHuli(located("h2", 10, 0, t0.Add(hours(5)))))

	fixed := corrected(inHuli(located("a4", 5, 5, t0.Add(hours(3)))), 1)
	e.handle(t, fixed)
	setCorrections(t, e.pool, "a4", t0.Add(hours(3)), 1)

	check := func(when string, siming, huli int) {
		t.Helper()
		h, _ := hotspot(t, e.pool, hs)
		if h.Count != siming || h.Status == "closed" || h.Status == "merged" {
			t.Errorf("%s: Siming's hotspot %s is %s with %d complaints, want %d and open", when, hs, h.Status, h.Count, siming)
		}
		if n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE hotspot_id = $1`, hs); n != siming {
			t.Errorf("%s: %d members stored under Siming's hotspot, want %d", when, n, siming)
		}
		hh, _ := member(t, e.pool, "a4")
		if hh == "" || hh == hs {
			t.Fatalf("%s: a4 is in hotspot %q, want a Huli one", when, hh)
		}
		if got, _ := member(t, e.pool, "h1"); got != hh {
			t.Errorf("%s: h1 is in %q, want a4's %s", when, got, hh)
		}
		if h, _ := hotspot(t, e.pool, hh); h.District != "huli" || h.Count != huli {
			t.Errorf("%s: a4's hotspot %s is in %s with %d complaints, want Huli's with %d", when, hh, h.District, h.Count, huli)
		}
		if n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE complaint_id = 'a4' AND district = 'huli'`); n != 1 {
			t.Errorf("%s: a4's member is not stored in Huli", when)
		}
		if n := count(t, e.pool, `SELECT count(*) FROM outbox WHERE subject = 'hotspot.updated' AND payload->>'hotspot_id' = $1
			AND (payload->>'complaint_count')::int = 3`, hs); n != 1 {
			t.Errorf("%s: %d hotspot.updated of %s with 3 complaints, want 1", when, n, hs)
		}
	}
	check("after the correction", 3, 3)
	if _, ev, ok := hotspotEvent(t, e.pool, hs+".updated.a4.c1"); !ok || ev.Kind != "updated" || ev.ComplaintCount != 3 || ev.District != "siming" {
		t.Errorf("hotspot event of a4 leaving %s: %+v (found %v), want updated with 3 complaints", hs, ev, ok)
	}
	outbox := count(t, e.pool, `SELECT count(*) FROM outbox`)

	redeliver(t, e, fixed)
	redeliver(t, e, located("a4", 10, 10, t0.Add(hours(3))))
	check("after the correction again and the first location late", 3, 3)
	if n := count(t, e.pool, `SELECT count(*) FROM outbox`); n != outbox {
		t.Errorf("%d events in the outbox after the copies, want %d as before", n, outbox)
	}

	e.svc = newService(t, e.pool, e.clock)
	e.handle(t, located("a5", 5, 0, t0.Add(hours(6))), inHuli(located("h3", 5, 0, t0.Add(hours(7)))))
	check("after a restart and a complaint at each place", 4, 4)
	if got, _ := member(t, e.pool, "a5"); got != hs {
		t.Errorf("a5 joined %q, want Siming's %s", got, hs)
	}
}

// A correction that leaves a hotspot with fewer complaints than make one
// closes it with none: its other complaints are in no hotspot, and
// hotspot.closed says so. A new complaint there makes a hotspot again,
// under another id. A correction behind one the geocoder has applied
// since moves nothing.
func TestACorrectionThatEmptiesAHotspotClosesIt(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("b1", 0, 0, t0), located("b2", 10, 0, t0.Add(hours(1))), located("b3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "b1")
	if hs == "" {
		t.Fatal("b1 to b3 make no hotspot")
	}
	// The supervisor's second correction of b3 moves it to Huli; the
	// event of the first one, to Siming, is late.
	e.handle(t, corrected(inHuli(located("b3", 0, 10, t0.Add(hours(2)))), 2))
	setCorrections(t, e.pool, "b3", t0.Add(hours(2)), 2)
	if h, _ := hotspot(t, e.pool, hs); h.Status != "closed" || h.Count != 0 {
		t.Errorf("hotspot %s is %s with %d complaints, want closed with none", hs, h.Status, h.Count)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		if got, _ := member(t, e.pool, id); got != "" {
			t.Errorf("%s is in hotspot %q, want none", id, got)
		}
	}
	if subject, ev, ok := hotspotEvent(t, e.pool, hs+".closed.b3.c2"); !ok || subject != "hotspot.closed" || ev.Status != "closed" || ev.ComplaintCount != 0 {
		t.Errorf("hotspot event of b3 leaving %s: %s %+v (found %v), want hotspot.closed with no complaint", hs, subject, ev, ok)
	}

	e.handle(t, corrected(located("b3", 5, 10, t0.Add(hours(2))), 1))
	if n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE complaint_id = 'b3' AND district = 'huli'`); n != 1 {
		t.Errorf("the first correction, late, moved b3 out of Huli")
	}

	e.handle(t, located("b4", 5, 5, t0.Add(hours(3))))
	again, _ := member(t, e.pool, "b4")
	if again == "" || again == hs {
		t.Fatalf("b4 is in hotspot %q, want a new one", again)
	}
	if h, _ := hotspot(t, e.pool, again); h.Count != 3 || h.District != "siming" {
		t.Errorf("new hotspot %s counts %d in %s, want 3 in Siming", again, h.Count, h.District)
	}
	if h, _ := hotspot(t, e.pool, hs); h.Status != "closed" || h.Count != 0 {
		t.Errorf("the closed hotspot %s is %s with %d complaints again", hs, h.Status, h.Count)
	}
}
