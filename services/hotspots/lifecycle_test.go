package hotspots

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

func day(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func TestTickCoolsThenClosesQuietHotspots(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "c1")
	last := t0.Add(hours(2))
	ctx := context.Background()

	steps := []struct {
		now    time.Time
		want   int
		status string
		event  string
	}{
		{last.Add(day(6)), 0, "emerging", ""},
		{last.Add(day(7)), 1, "cooling", fmt.Sprintf("%s.cooled.3.%d", hs, last.UnixMilli())},
		{last.Add(day(8)), 0, "cooling", ""},
		{last.Add(day(30)), 1, "closed", fmt.Sprintf("%s.closed.3.%d", hs, last.UnixMilli())},
		{last.Add(day(31)), 0, "closed", ""},
	}
	for _, st := range steps {
		e.clock.Set(st.now)
		n, err := e.svc.TickOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := hotspot(t, e.pool, hs)
		if n != st.want || h.Status != st.status {
			t.Errorf("tick at +%v: %d changes, status %s; want %d, %s", st.now.Sub(last), n, h.Status, st.want, st.status)
		}
		if st.event != "" {
			if _, ev, ok := hotspotEvent(t, e.pool, st.event); !ok || ev.Status != st.status {
				t.Errorf("tick at +%v: event %s %v %+v", st.now.Sub(last), st.event, ok, ev)
			}
		}
	}

	// A restart keeps the status: nothing to announce again.
	restarted := newService(t, e.pool, e.clock)
	if n, err := restarted.TickOnce(ctx); err != nil || n != 0 {
		t.Errorf("tick after restart: %d changes, %v; want none", n, err)
	}
}

// openCase stores a case of a hotspot held by team, as the router does.
func openCase(t testing.TB, pool *pgxpool.Pool, caseID, hotspotID, team, district string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO cases (id, category, district, team, status, hotspot_id, opened_at)
		VALUES ($1, 'noise', $4, $3, 'assigned', NULLIF($2, ''), $5)`, caseID, hotspotID, team, district, t0)
	if err != nil {
		t.Fatal(err)
	}
}

func TestRepeatAfterResolutionEscalates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "c1")
	openCase(t, e.pool, "case-1", hs, "siming-eco", "siming")
	openCase(t, e.pool, "case-2", "", "siming-eco", "siming")

	resolvedAt := t0.Add(day(3))
	res := []event.CaseChanged{
		{EventID: "case-1.resolved.1", CaseID: "case-1", Kind: "resolved", Status: "resolved", Category: "noise", District: "siming", Actor: "officer:o1", At: resolvedAt},
		{EventID: "case-2.resolved.1", CaseID: "case-2", Kind: "resolved", Status: "resolved", Category: "noise", District: "siming", Actor: "officer:o1", At: resolvedAt},
	}
	for _, err := range batch(t, e.pool, e.svc.durableResolved(), e.svc.HandleCaseResolved, true, res...) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := hotspot(t, e.pool, hs); h.ResolvedAt == nil || !h.ResolvedAt.Equal(resolvedAt) {
		t.Fatalf("hotspot resolved at %v, want %v", h.ResolvedAt, resolvedAt)
	}

	// The restarted detector still knows, and the next complaint there is
	// a repeat after close-out.
	restarted := newService(t, e.pool, e.clock)
	handleWith(t, e.pool, restarted, located("c4", 5, 5, t0.Add(day(5))))
	_, ev, ok := hotspotEvent(t, e.pool, hs+".escalated.c4")
	if !ok || ev.Status != "escalated" || ev.ComplaintCount != 4 {
		t.Errorf("escalated event after the repeat: %v %+v", ok, ev)
	}
	h, _ := hotspot(t, e.pool, hs)
	if h.Status != "escalated" || h.ResolvedAt != nil {
		t.Errorf("hotspot after the repeat: %s resolved %v, want escalated and no longer resolved", h.Status, h.ResolvedAt)
	}
}

func TestResolutionOfAnotherPartitionIsIgnored(t *testing.T) {
	t.Parallel()
	e := setup(t, "huli")
	// A Siming hotspot stored by the Siming instance.
	other := newService(t, e.pool, e.clock, "siming")
	handleWith(t, e.pool, other, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "c1")
	openCase(t, e.pool, "case-1", hs, "siming-eco", "siming")
	ev := event.CaseChanged{EventID: "case-1.resolved.1", CaseID: "case-1", Kind: "resolved", Status: "resolved",
		Category: "noise", District: "siming", Actor: "officer:o1", At: t0.Add(day(3))}
	for _, err := range batch(t, e.pool, e.svc.durableResolved(), e.svc.HandleCaseResolved, true, ev) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := hotspot(t, e.pool, hs); h.ResolvedAt != nil {
		t.Errorf("the Huli instance resolved Siming's hotspot %s", hs)
	}
}

func TestTickStoresEveryHotspotItChangesButARefusedOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var evs []event.ComplaintLocated
	for i, dx := range []float64{0, 2000, 4000} {
		for j := range 3 {
			evs = append(evs, located(fmt.Sprintf("p%dc%d", i, j), dx+float64(j*5), 0, t0.Add(hours(j))))
		}
	}
	e.consumeAll(t, 256, evs...)
	var hs []string
	for i := range 3 {
		h, _ := member(t, e.pool, fmt.Sprintf("p%dc0", i))
		hs = append(hs, h)
	}
	// Another writer counted a complaint in the last one meanwhile.
	if _, err := e.pool.Exec(context.Background(), `UPDATE hotspots SET complaint_count = 4 WHERE id = $1`, hs[2]); err != nil {
		t.Fatal(err)
	}
	last := t0.Add(hours(2))
	e.clock.Set(last.Add(day(7)))
	n, err := e.svc.TickOnce(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("tick: %d changes, %v; want the 2 hotspots the database agrees on", n, err)
	}
	for i, id := range hs {
		h, _ := hotspot(t, e.pool, id)
		_, _, announced := hotspotEvent(t, e.pool, fmt.Sprintf("%s.cooled.3.%d", id, last.UnixMilli()))
		want := i < 2
		if (h.Status == "cooling") != want || announced != want {
			t.Errorf("hotspot %d: status %s, cooled announced %v; want cooled %v", i, h.Status, announced, want)
		}
	}
	// A complaint in flight would explain one refusal, and the engine is
	// kept; the same refusal at the next tick is a database that holds
	// another record than the engine, which is rebuilt.
	stale := func() bool {
		e.svc.mu.Lock()
		defer e.svc.mu.Unlock()
		return e.svc.stale()
	}
	if stale() {
		t.Error("the engine is marked for rebuilding after one refusal")
	}
	if n, err := e.svc.TickOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("second tick: %d changes, %v; want none", n, err)
	}
	if !stale() {
		t.Error("the engine is not marked for rebuilding after the same refusal at two ticks")
	}
	// The rebuilt engine holds the database's record, and the next tick
	// cools the hotspot with its 4 complaints. The rebuild is counted
	// with its reason.
	counted := rebuilds.WithLabelValues("the database holds other records of hotspots than the engine")
	before := counterValue(t, counted)
	if n, err := e.svc.TickOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("tick after the rebuild: %d changes, %v; want 1", n, err)
	}
	if got := counterValue(t, counted) - before; got != 1 {
		t.Errorf("%v rebuilds counted for the refusal, want 1", got)
	}
	if h, _ := hotspot(t, e.pool, hs[2]); h.Status != "cooling" || h.Count != 4 {
		t.Errorf("hotspot 2 after the rebuild's tick: %s with %d complaints, want cooling with 4", h.Status, h.Count)
	}
}

func TestTickOvertakenByAComplaintKeepsTheEngine(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "c1")
	last := t0.Add(hours(2))
	rebuilt := 0
	e.svc.mu.Lock()
	e.svc.afterRebuild = func(string) { rebuilt++ }
	e.svc.mu.Unlock()

	// The tick decides to cool the hotspot; before it writes, a complaint
	// at the place is clustered and committed.
	back := last.Add(day(7) + hours(1))
	e.svc.beforeTickWrite = func() { e.handle(t, located("c4", 5, 5, back)) }
	e.clock.Set(last.Add(day(7)))
	n, err := e.svc.TickOnce(context.Background())
	e.svc.beforeTickWrite = nil
	if err != nil || n != 0 {
		t.Fatalf("tick: %d changes, %v; want none stored: the complaint came first", n, err)
	}
	if _, _, ok := hotspotEvent(t, e.pool, fmt.Sprintf("%s.cooled.3.%d", hs, last.UnixMilli())); ok {
		t.Error("hotspot.cooled announced for a hotspot a complaint had just come to")
	}
	h, _ := hotspot(t, e.pool, hs)
	e.svc.mu.Lock()
	stale := e.svc.stale()
	mem, _ := e.svc.engine.Hotspot(hs)
	e.svc.mu.Unlock()
	if h.Status == "cooling" || h.Count != 4 {
		t.Errorf("hotspot in the database: %s with %d complaints; want active with 4", h.Status, h.Count)
	}
	if string(mem.Status) != h.Status || mem.Count != h.Count || !mem.LastAt.Equal(back) {
		t.Errorf("engine %s/%d/%v, database %s/%d: they disagree", mem.Status, mem.Count, mem.LastAt, h.Status, h.Count)
	}
	if stale || rebuilt != 0 {
		t.Errorf("stale %v after %d rebuilds: the complaint overtook the tick, and the engine holds what the database does", stale, rebuilt)
	}

	// The hotspot cools a week after the new complaint, from the engine
	// as it is.
	e.clock.Set(back.Add(day(7)))
	if n, err := e.svc.TickOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("tick a week later: %d changes, %v; want 1", n, err)
	}
	if h, _ := hotspot(t, e.pool, hs); h.Status != "cooling" || rebuilt != 0 {
		t.Errorf("a week later: %s after %d rebuilds; want cooling after none", h.Status, rebuilt)
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
