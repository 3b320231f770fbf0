package hotspots

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// refuseMembersOf makes every write of the given complaints' member rows
// fail, as a constraint violation or a bad row would, for good.
func refuseMembersOf(t *testing.T, pool *pgxpool.Pool, complaintIDs ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE FUNCTION refuse_member() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.complaint_id = ANY(TG_ARGV) THEN
				RAISE EXCEPTION 'member % refused', NEW.complaint_id;
			END IF;
			RETURN NEW;
		END $$`); err != nil {
		t.Fatal(err)
	}
	args := ""
	for i, id := range complaintIDs {
		if i > 0 {
			args += ", "
		}
		args += fmt.Sprintf("'%s'", id)
	}
	if _, err := pool.Exec(ctx, `CREATE TRIGGER refuse_member BEFORE INSERT OR UPDATE ON hotspot_members
		FOR EACH ROW EXECUTE FUNCTION refuse_member(`+args+`)`); err != nil {
		t.Fatal(err)
	}
}

// TestAComplaintThatCannotBeStoredCostsNoRebuildPerDelivery sends, in one
// batch, a complaint whose member row the database always refuses and
// complaints of other places: the others are stored, the refused one is
// redelivered until it is dead-lettered, and the engine is rebuilt at
// most once for it (the batch that first held it), not at every delivery.
func TestAComplaintThatCannotBeStoredCostsNoRebuildPerDelivery(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	log := testenv.Log(t)
	refuseMembersOf(t, pool, "poison")

	cfg := DefaultConfig()
	cfg.Batch = 32
	cfg.MaxDeliver = 4 // redelivered after 0.5, 1 and 2 s, then dead-lettered
	s, err := New(cfg, pool, n.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reasons []string
	s.afterRebuild = func(why string) {
		mu.Lock()
		reasons = append(reasons, why)
		mu.Unlock()
	}

	ctx, cancel := context.WithCancel(context.Background())
	relay := &outbox.Relay{Pool: pool, JS: n.JS, Log: log, Poll: 50 * time.Millisecond}
	done := make(chan struct{}, 2)
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	go func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
		done <- struct{}{}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})

	// Three complaints at one place form a hotspot; two more elsewhere
	// are alone; the poison is in the middle of the batch.
	evs := []event.ComplaintLocated{
		located("g1", 0, 0, t0), located("g2", 10, 0, t0.Add(hours(1))),
		located("poison", 3000, 3000, t0.Add(hours(1))),
		located("g3", 0, 10, t0.Add(hours(2))),
		located("g4", -3000, 0, t0.Add(hours(2))), located("g5", 0, -3000, t0.Add(hours(3))),
	}
	publish(t, pool, evs...)
	waitClustered(t, pool, "g1", "g2", "g3", "g4", "g5")
	testenv.Eventually(t, 60*time.Second, "the poison dead-lettered", func() bool {
		return count(t, pool, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = 'poison.located'`, s.Durable()) == 1
	})
	if d := count(t, pool, `SELECT deliveries FROM dead_letters WHERE event_id = 'poison.located'`); d != cfg.MaxDeliver {
		t.Errorf("dead-lettered after %d deliveries, want %d", d, cfg.MaxDeliver)
	}
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5"} {
		if _, ok := member(t, pool, id); !ok {
			t.Errorf("%s not stored", id)
		}
	}
	if _, ok := member(t, pool, "poison"); ok {
		t.Error("the poison stored")
	}
	hs, _ := member(t, pool, "g3")
	if h, ok := hotspot(t, pool, hs); !ok || h.Count != 3 {
		t.Errorf("hotspot %q: %+v, want g1, g2, g3", hs, h)
	}

	// Memory is what is committed: the engine counts the hotspot as the
	// database does, and a later complaint joins it.
	s.mu.Lock()
	got := 0
	if h, ok := s.engine.Hotspot(hs); ok && !s.stale() {
		got = h.Count
	}
	s.mu.Unlock()
	if got != 3 {
		t.Errorf("the engine counts %d complaints in %s (or is stale), the database 3", got, hs)
	}
	publish(t, pool, located("g6", 5, 5, t0.Add(hours(4))))
	waitClustered(t, pool, "g6")
	if h, _ := hotspot(t, pool, hs); h.Count != 4 {
		t.Errorf("hotspot %s has %d complaints after g6, want 4", hs, h.Count)
	}

	mu.Lock()
	defer mu.Unlock()
	// The first is the start's.
	if len(reasons) == 0 || reasons[0] != "start" {
		t.Fatalf("rebuilds %q, want the start's first", reasons)
	}
	t.Logf("rebuilds after the start: %d %q", len(reasons)-1, reasons[1:])
	if n := len(reasons) - 1; n > 1 {
		t.Errorf("%d rebuilds for one complaint that cannot be stored (%q), want at most 1", n, reasons[1:])
	}
}

// TestWritesRefusedToEveryComplaintRebuildOnceTheyAreTaken refuses every
// member, as a full disk would: batch after batch fails, and the engine,
// which the first of them moved, is rebuilt once, when the database takes
// writes again, not at every failed batch.
func TestWritesRefusedToEveryComplaintRebuildOnceTheyAreTaken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rebuilt := 0
	e.svc.mu.Lock()
	e.svc.afterRebuild = func(string) { rebuilt++ } // under s.mu
	e.svc.mu.Unlock()
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `CREATE FUNCTION refuse_member() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no space left on device'; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `CREATE TRIGGER refuse_member BEFORE INSERT OR UPDATE ON hotspot_members
		FOR EACH ROW EXECUTE FUNCTION refuse_member()`); err != nil {
		t.Fatal(err)
	}
	first := []event.ComplaintLocated{located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2)))}
	second := []event.ComplaintLocated{located("c4", 5, 5, t0.Add(hours(3))), located("c5", 3000, 0, t0.Add(hours(3)))}
	addComplaints(t, e.pool, append(first, second...)...)
	for range 3 {
		for _, evs := range [][]event.ComplaintLocated{first, second} {
			for i, err := range consume(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintsLocated, evs...) {
				if err == nil || isInvalid(err) {
					t.Fatalf("%s: %v, want a failure to retry", evs[i].ComplaintID, err)
				}
			}
		}
	}
	if rebuilt != 0 {
		t.Errorf("%d rebuilds while every write fails, want none", rebuilt)
	}

	if _, err := e.pool.Exec(ctx, `DROP TRIGGER refuse_member ON hotspot_members`); err != nil {
		t.Fatal(err)
	}
	e.consumeAll(t, 256, append(first, second...)...)
	if rebuilt != 1 {
		t.Errorf("%d rebuilds, want 1 once the database takes writes", rebuilt)
	}
	hs, _ := member(t, e.pool, "c4")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 4 {
		t.Fatalf("hotspot %q: %+v, want c1 to c4", hs, h)
	}
	if got := engineCount(t, e.svc, hs); got != 4 {
		t.Errorf("the engine holds %d complaints in %s, the database 4", got, hs)
	}
}
