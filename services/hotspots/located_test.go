package hotspots

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

func TestComplaintsFormHotspotWithMembersAndEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2, c3 := located("c1", 0, 0, t0), located("c2", 20, 10, t0.Add(hours(1))), located("c3", -15, 5, t0.Add(hours(2)))
	far := located("far", 2000, 0, t0.Add(hours(3)))
	e.handle(t, c1, c2, c3, far)

	hs, ok := member(t, e.pool, "c3")
	if !ok || hs == "" {
		t.Fatalf("c3: member %v with hotspot %q, want a hotspot", ok, hs)
	}
	for _, id := range []string{"c1", "c2"} {
		if got, _ := member(t, e.pool, id); got != hs {
			t.Errorf("%s is in hotspot %q, want %q with c3", id, got, hs)
		}
	}
	if got, ok := member(t, e.pool, "far"); !ok || got != "" {
		t.Errorf("far: member %v in hotspot %q, want stored in none", ok, got)
	}

	h, ok := hotspot(t, e.pool, hs)
	if !ok {
		t.Fatalf("no hotspots row %s", hs)
	}
	if h.Category != "noise" || h.District != "siming" || h.Status != "emerging" || h.Count != 3 || h.Place != "中山路步行街" {
		t.Errorf("hotspot %s = %+v, want noise, siming, emerging, 3 complaints at 中山路步行街", hs, h)
	}
	lon, lat := offset(5.0/3, 5)
	if h.Lon == nil || math.Abs(*h.Lon-lon) > 1e-7 || math.Abs(*h.Lat-lat) > 1e-7 {
		t.Errorf("centroid %v,%v, want %v,%v", h.Lon, h.Lat, lon, lat)
	}

	subject, ev := clusteredEvent(t, e.pool, "c3")
	if subject != "complaint.clustered.siming.noise" || ev.HotspotID == nil || *ev.HotspotID != hs {
		t.Errorf("c3 clustered on %s with hotspot %v, want complaint.clustered.siming.noise with %s", subject, ev.HotspotID, hs)
	}
	if ev.EventID != "c3.clustered" || ev.TicketID != "T-c3" || ev.Place != c3.Place || !ev.ReceivedAt.Equal(c3.ReceivedAt) {
		t.Errorf("c3 clustered event %+v does not carry the located complaint", ev)
	}
	if _, ev := clusteredEvent(t, e.pool, "c1"); ev.HotspotID != nil {
		t.Errorf("c1 clustered with hotspot %s before any hotspot formed", *ev.HotspotID)
	}
	subject, opened, ok := hotspotEvent(t, e.pool, hs+".opened")
	if !ok || subject != "hotspot.opened" || opened.Status != "emerging" || opened.ComplaintCount != 3 || opened.District != "siming" {
		t.Errorf("opened event on %q: %+v", subject, opened)
	}

	var lookup *string
	if err := e.pool.QueryRow(context.Background(), `SELECT hotspot_id FROM complaint_lookup WHERE ticket_id = 'T-c1'`).Scan(&lookup); err != nil {
		t.Fatal(err)
	}
	if lookup == nil || *lookup != hs {
		t.Errorf("the hotline look-up shows hotspot %v for c1, want %s", lookup, hs)
	}

	// A fourth complaint grows the hotspot and says so.
	e.handle(t, located("c4", 5, 5, t0.Add(hours(4))))
	if h, _ := hotspot(t, e.pool, hs); h.Count != 4 || h.Status != "active" {
		t.Errorf("after c4 hotspot is %s with %d complaints, want active with 4", h.Status, h.Count)
	}
	if _, up, ok := hotspotEvent(t, e.pool, hs+".updated.c4"); !ok || up.ComplaintCount != 4 {
		t.Errorf("updated event for c4: %v %+v", ok, up)
	}
}

func TestBridgeComplaintMergesHotspots(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Two hotspots 260 m apart, further than the 150 m noise radius.
	var a, b []event.ComplaintLocated
	for i, id := range ids("a", 3) {
		a = append(a, located(id, float64(i)*3, 0, t0.Add(hours(i))))
	}
	for i, id := range ids("b", 3) {
		b = append(b, located(id, 260+float64(i)*3, 0, t0.Add(hours(10+i))))
	}
	e.handle(t, slices.Concat(a, b)...)
	ha, _ := member(t, e.pool, "a1")
	hb, _ := member(t, e.pool, "b1")
	if ha == "" || hb == "" || ha == hb {
		t.Fatalf("before the bridge: hotspots %q and %q, want two", ha, hb)
	}

	e.handle(t, located("bridge", 131, 0, t0.Add(hours(20))))

	for _, id := range append(ids("a", 3), append(ids("b", 3), "bridge")...) {
		if got, _ := member(t, e.pool, id); got != ha {
			t.Errorf("%s is in %q after the merge, want the earlier hotspot %s", id, got, ha)
		}
	}
	if h, _ := hotspot(t, e.pool, ha); h.Count != 7 || h.Status == "merged" {
		t.Errorf("survivor %s: %+v, want 7 complaints", ha, h)
	}
	if h, _ := hotspot(t, e.pool, hb); h.Status != "merged" || h.MergedInto != ha {
		t.Errorf("absorbed %s: %+v, want merged into %s", hb, h, ha)
	}
	subject, ev, ok := hotspotEvent(t, e.pool, ha+".merged.bridge")
	if !ok || subject != "hotspot.merged" || !slices.Equal(ev.MergedFrom, []string{hb}) || ev.ComplaintCount != 7 {
		t.Errorf("merged event on %q: %v %+v, want %s absorbing %s", subject, ok, ev, ha, hb)
	}
	if _, ev := clusteredEvent(t, e.pool, "bridge"); ev.HotspotID == nil || *ev.HotspotID != ha {
		t.Errorf("bridge clustered into %v, want %s", ev.HotspotID, ha)
	}
}

func TestRestartContinuesTheSameHotspots(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "c1")
	if hs == "" {
		t.Fatal("no hotspot before the restart")
	}

	restarted := newService(t, e.pool, e.clock)
	handleWith(t, e.pool, restarted, located("c4", 5, 5, t0.Add(hours(30))))

	if got, _ := member(t, e.pool, "c4"); got != hs {
		t.Errorf("after the restart c4 joined %q, want the existing %s", got, hs)
	}
	if h, _ := hotspot(t, e.pool, hs); h.Count != 4 {
		t.Errorf("hotspot %s has %d complaints after the restart, want 4", hs, h.Count)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM hotspots`); n != 1 {
		t.Errorf("%d hotspots after the restart, want 1", n)
	}
	if _, _, ok := hotspotEvent(t, e.pool, hs+".updated.c4"); !ok {
		t.Error("no hotspot.updated for c4 after the restart")
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	evs := []event.ComplaintLocated{located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2)))}
	e.handle(t, evs...)
	snapshot := func() [4]int {
		return [4]int{
			count(t, e.pool, `SELECT count(*) FROM outbox WHERE event_id NOT LIKE '%.clustered.c%'`),
			count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE hotspot_id IS NOT NULL`),
			count(t, e.pool, `SELECT sum(complaint_count) FROM hotspots`),
			count(t, e.pool, `SELECT count(*) FROM hotspots`),
		}
	}
	before := snapshot()

	// The same events again, and c2 located a second time under a new
	// event id (a supervisor's correction).
	again := located("c2", 10, 0, t0.Add(hours(1)))
	again.EventID = "c2.located.c1"
	e.handle(t, append(evs, again)...)

	if after := snapshot(); after != before {
		t.Errorf("redelivery changed outbox, members, counts, hotspots from %v to %v", before, after)
	}
	// The correction is answered by a complaint.clustered of its own.
	if n := count(t, e.pool, `SELECT count(*) FROM outbox WHERE event_id = 'c2.clustered.c1'`); n != 1 {
		t.Errorf("%d complaint.clustered for the correction, want 1", n)
	}
}

func TestFailedBatchRebuildsTheEngine(t *testing.T) {
	t.Parallel()
	e := setup(t)
	evs := []event.ComplaintLocated{located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2)))}
	addComplaints(t, e.pool, evs...)
	// The batch is handled, then its commit fails.
	for _, err := range batch(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintLocated, false, evs...) {
		if err != nil {
			t.Fatal(err)
		}
	}

	// The next batch finds out that the engine still holds them, and
	// rebuilds it before clustering: alone in the database, c4 forms
	// nothing.
	c4 := located("c4", 5, 5, t0.Add(hours(3)))
	e.handle(t, c4)
	if got, ok := member(t, e.pool, "c4"); !ok || got != "" {
		t.Errorf("c4 stored %v in hotspot %q, want in none: the rolled-back complaints are gone", ok, got)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM hotspots`); n != 0 {
		t.Errorf("%d hotspots from a rolled-back batch", n)
	}

	// Redelivered, the batch forms the hotspot with c4.
	e.handle(t, evs...)
	hs, _ := member(t, e.pool, "c1")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 4 {
		t.Errorf("after redelivery hotspot %q has %+v, want 4 complaints", hs, h)
	}
}

func TestFailedHandlerLeavesNoTraceInTheEngine(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2 := located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(2)))
	ghost := located("ghost", 5, 0, t0.Add(hours(1))) // no intake row: its member cannot be stored
	addComplaints(t, e.pool, c1, c2)
	errs := batch(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintLocated, true, c1, ghost, c2)
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("handler errors %v, want only the ghost's", errs)
	}
	for _, id := range []string{"c1", "c2"} {
		if got, ok := member(t, e.pool, id); !ok || got != "" {
			t.Errorf("%s stored %v in hotspot %q, want in none: two complaints are no hotspot", id, ok, got)
		}
	}
	if n := count(t, e.pool, `SELECT count(*) FROM hotspots`); n != 0 {
		t.Errorf("%d hotspots counted the failed complaint", n)
	}

	// Its redelivery, once it can be stored, completes the hotspot.
	e.handle(t, ghost)
	hs, _ := member(t, e.pool, "ghost")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 3 {
		t.Errorf("hotspot %q: %+v, want 3 complaints", hs, h)
	}
}

func TestInvalidComplaintsAreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, "siming")
	half := located("half", 0, 0, t0)
	half.Lat = nil
	other := located("other", 0, 0, t0)
	other.District = "huli"
	unknown := located("unknown", 0, 0, t0)
	unknown.Category = "odour"
	for _, tc := range []struct {
		name string
		ev   event.ComplaintLocated
	}{{"half a point", half}, {"another partition", other}, {"unknown category", unknown}} {
		addComplaints(t, e.pool, tc.ev)
		errs := batch(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintLocated, true, tc.ev)
		if errs[0] == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if !isInvalid(errs[0]) {
			t.Errorf("%s: %v is not marked invalid, so it would be retried", tc.name, errs[0])
		}
	}
}

func TestRebuildOutlastingTheBatchDeadlineIsNotRepeated(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2 := located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1)))
	e.handle(t, c1)
	addComplaints(t, e.pool, c2)

	rebuilt := 0
	e.svc.mu.Lock()
	e.svc.markStale("a batch failed after the engine moved")
	e.svc.afterRebuild = func(string) {
		rebuilt++
		time.Sleep(400 * time.Millisecond) // a rebuild longer than the batch may take
	}
	e.svc.mu.Unlock()

	// The batch's deadline passes during the rebuild: it fails, and the
	// engine is left rebuilt, not marked for another rebuild.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		return e.svc.HandleComplaintsLocated(ctx, tx, []event.ComplaintLocated{c2}, []natsx.Meta{{}})
	})
	if err == nil {
		t.Fatal("the batch outlived its deadline and did not fail")
	}
	if rebuilt != 1 {
		t.Fatalf("%d rebuilds, want 1", rebuilt)
	}
	// The next delivery clusters without rebuilding again.
	e.handle(t, c2)
	if rebuilt != 1 {
		t.Fatalf("%d rebuilds, want still 1: every batch would fail the same way", rebuilt)
	}
	if _, ok := member(t, e.pool, "c2"); !ok {
		t.Fatal("c2 was not stored")
	}
}

// A late complaint at a hotspot the detector has forgotten (closed, and
// quiet for longer than it keeps in memory) is counted into the stored
// record, whose other complaints lie outside what the late one loads.
func TestLateComplaintAtAForgottenHotspotKeepsItsCount(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var evs []event.ComplaintLocated
	for i := 0; i <= 30; i++ {
		evs = append(evs, located(fmt.Sprintf("a%02d", i), float64(i%3)*10, 0, t0.Add(day(i*5))))
	}
	e.consumeAll(t, 256, evs...)
	hs, _ := member(t, e.pool, "a00")
	e.clock.Set(t0.Add(day(300)))
	if _, err := e.svc.TickOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h, _ := hotspot(t, e.pool, hs); h.Status != "closed" || h.Count != 31 {
		t.Fatalf("hotspot before: %s with %d", h.Status, h.Count)
	}
	evs = evs[:0]
	for d := 300; d <= 420; d++ {
		evs = append(evs, located(fmt.Sprintf("far%03d", d), 20000, float64(d%7)*1000, t0.Add(day(d))))
	}
	e.consumeAll(t, 256, evs...)
	e.svc.mu.Lock()
	_, inMemory := e.svc.engine.Hotspot(hs)
	e.svc.mu.Unlock()
	if inMemory {
		t.Fatal("the hotspot is still in memory; the test needs it forgotten")
	}

	e.consumeAll(t, 256, located("late", 5, 0, t0.Add(day(3))))
	if got, _ := member(t, e.pool, "late"); got != hs {
		t.Fatalf("the late complaint is in %q, want %s", got, hs)
	}
	if h, _ := hotspot(t, e.pool, hs); h.Status != "closed" || h.Count != 32 {
		t.Errorf("hotspot after the late complaint: %s with %d complaints; want closed with 32", h.Status, h.Count)
	}
}
