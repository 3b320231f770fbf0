package hotspots

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// engineCount returns a hotspot's count as the service's engine holds it.
func engineCount(t *testing.T, s *Service, id string) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.engine == nil || s.stale() {
		t.Fatalf("engine not in step with the database")
	}
	h, ok := s.engine.Hotspot(id)
	if !ok {
		return 0
	}
	return h.Count
}

func TestComplaintsAtOnePlaceInOneBatchMakeOneHotspot(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var evs []event.ComplaintLocated
	for i := range 5 {
		evs = append(evs, located(fmt.Sprintf("c%d", i+1), float64(i*3), float64(i*2), t0.Add(hours(i))))
	}
	e.consumeAll(t, 256, evs...)

	if n := count(t, e.pool, `SELECT count(*) FROM hotspots`); n != 1 {
		t.Fatalf("%d hotspots, want 1", n)
	}
	hs, _ := member(t, e.pool, "c5")
	h, ok := hotspot(t, e.pool, hs)
	if !ok || h.Count != 5 || h.Place != "中山路步行街" {
		t.Errorf("hotspot %q stored as %+v, want its final state: 5 complaints, the place of its complaints", hs, h)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE hotspot_id = $1`, hs); n != 5 {
		t.Errorf("%d members in hotspot %s, want 5", n, hs)
	}
	if got := engineCount(t, e.svc, hs); got != 5 {
		t.Errorf("the engine holds %d complaints in %s, the database 5", got, hs)
	}
	if _, ev, ok := hotspotEvent(t, e.pool, hs+".opened"); !ok || ev.ComplaintCount != 3 {
		t.Errorf("hotspot.opened %v with %d complaints, want it at the third complaint", ok, ev.ComplaintCount)
	}
	if _, ev, ok := hotspotEvent(t, e.pool, hs+".updated.c5"); !ok || ev.ComplaintCount != 5 {
		t.Errorf("hotspot.updated for c5 %v with %d complaints, want 5", ok, ev.ComplaintCount)
	}
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		if _, ev := clusteredEvent(t, e.pool, c); ev.HotspotID == nil && c != "c1" && c != "c2" {
			t.Errorf("%s clustered into no hotspot", c)
		}
	}

	// A restarted service continues from what the batch stored.
	s := newService(t, e.pool, e.clock)
	c6 := located("c6", 4, 4, t0.Add(hours(6)))
	addComplaints(t, e.pool, c6)
	for _, err := range consume(t, e.pool, s.Durable(), s.HandleComplaintsLocated, c6) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := hotspot(t, e.pool, hs); h.Count != 6 {
		t.Errorf("after a restart hotspot %s has %d complaints, want 6", hs, h.Count)
	}
}

// dump is what the tests compare of two databases: every hotspot, member
// and event, without the write times.
func dump(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, category, COALESCE(subcategory, ''), district, COALESCE(subdistrict, ''), status, complaint_count,
			first_at, last_at, round(lon::numeric, 9), round(lat::numeric, 9), COALESCE(place, ''), COALESCE(place_key, ''),
			COALESCE(merged_into, ''), resolved_at FROM hotspots ORDER BY id`,
		`SELECT complaint_id, COALESCE(hotspot_id, '') FROM hotspot_members ORDER BY complaint_id`,
		// A correction's complaint.clustered (<id>.clustered.c<n>) is
		// the one thing a correction adds; the tests count those apart.
		`SELECT event_id, subject, payload::text FROM outbox WHERE event_id NOT LIKE '%.clustered.c%' ORDER BY event_id`,
	} {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestBatchesStoreWhatOneAtATimeStores clusters a month of complaints,
// hotspots opening, growing and merging, with late complaints that read
// the stored history, once in batches and once one complaint at a time:
// both leave the same hotspots, members and events.
func TestBatchesStoreWhatOneAtATimeStores(t *testing.T) {
	t.Parallel()
	evs := month(2000)
	// Three complaints of the first days arrive at the end, late.
	late := slices.Clone(evs[9:12])
	evs = append(slices.Delete(evs, 9, 12), late...)

	batched := setup(t)
	copyComplaints(t, batched.pool, evs)
	for i := 0; i < len(evs); i += 256 {
		for j, err := range consume(t, batched.pool, batched.svc.Durable(), batched.svc.HandleComplaintsLocated, evs[i:min(i+256, len(evs))]...) {
			if err != nil {
				t.Fatalf("batch: %s: %v", evs[i+j].ComplaintID, err)
			}
		}
	}
	single := setup(t)
	copyComplaints(t, single.pool, evs)
	for i := 0; i < len(evs); i += 256 {
		for j, err := range batch(t, single.pool, single.svc.Durable(), single.svc.HandleComplaintLocated, true, evs[i:min(i+256, len(evs))]...) {
			if err != nil {
				t.Fatalf("one at a time: %s: %v", evs[i+j].ComplaintID, err)
			}
		}
	}

	if n := count(t, batched.pool, `SELECT count(*) FROM hotspots WHERE status = 'merged'`); n == 0 {
		t.Errorf("no merged hotspot: the month does not test merges")
	}
	a, b := dump(t, batched.pool), dump(t, single.pool)
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("batched and one-at-a-time storage differ at line %d:\nbatched: %s\nsingle:  %s", i, al[i], bl[i])
			}
		}
		t.Fatalf("batched storage has %d lines, one at a time %d", len(al), len(bl))
	}
	// Memory agrees with the database.
	rows, err := batched.pool.Query(context.Background(), `SELECT id, complaint_count FROM hotspots WHERE status <> 'merged'`)
	if err != nil {
		t.Fatal(err)
	}
	type hc struct {
		id string
		n  int
	}
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hc, error) {
		var x hc
		return x, r.Scan(&x.id, &x.n)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range stored {
		if got := engineCount(t, batched.svc, h.id); got != h.n {
			t.Errorf("hotspot %s: %d complaints in memory, %d stored", h.id, got, h.n)
		}
	}
}

func TestReplayedBatchChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var evs []event.ComplaintLocated
	for i := range 6 {
		evs = append(evs, located(fmt.Sprintf("c%d", i+1), float64(i*5), 0, t0.Add(hours(i))))
	}
	e.consumeAll(t, 256, evs...)
	before := dump(t, e.pool)

	// The same batch again, with c2 located a second time under a new
	// event id inside it; then once more after a restart.
	again := evs[1]
	again.EventID = "c2.located.c1"
	e.consumeAll(t, 256, append(slices.Clone(evs), again)...)
	if after := dump(t, e.pool); after != before {
		t.Errorf("a replayed batch changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	e.svc = newService(t, e.pool, e.clock)
	again.EventID = "c2.located.c2"
	e.consumeAll(t, 256, append(slices.Clone(evs), again)...)
	if after := dump(t, e.pool); after != before {
		t.Errorf("a batch replayed after a restart changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Each correction is answered by its own complaint.clustered, once.
	if n := count(t, e.pool, `SELECT count(*) FROM outbox WHERE event_id IN ('c2.clustered.c1', 'c2.clustered.c2')`); n != 2 {
		t.Errorf("%d complaint.clustered for the two corrections, want 2", n)
	}
}

func TestInvalidComplaintInABatchIsPinned(t *testing.T) {
	t.Parallel()
	e := setup(t, "siming")
	c1, c2, c3 := located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2)))
	other := located("other", 5, 5, t0.Add(hours(1)))
	other.District = "huli"
	evs := []event.ComplaintLocated{c1, c2, other, c3}
	addComplaints(t, e.pool, evs...)
	errs := consume(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintsLocated, evs...)
	if errs[0] != nil || errs[1] != nil || !isInvalid(errs[2]) || errs[3] != nil {
		t.Fatalf("handler errors %v, want the other partition's complaint alone refused as invalid", errs)
	}
	hs, _ := member(t, e.pool, "c3")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 3 {
		t.Fatalf("hotspot %q: %+v, want the 3 valid complaints", hs, h)
	}
	if _, ok := member(t, e.pool, "other"); ok {
		t.Error("the refused complaint is stored")
	}
	if got := engineCount(t, e.svc, hs); got != 3 {
		t.Errorf("the engine holds %d complaints in %s, the database 3", got, hs)
	}
}

func TestFailedBatchIsRetriedOneByOneOnTheRebuiltEngine(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c1, c2, c3 := located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(3)))
	ghost := located("ghost", 5, 0, t0.Add(hours(2))) // no intake row: its member cannot be stored
	addComplaints(t, e.pool, c1, c2, c3)
	// The batch fails when it is stored, after the engine clustered all
	// four; the retry one by one stores the others on a rebuilt engine.
	errs := consume(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintsLocated, c1, c2, ghost, c3)
	if errs[0] != nil || errs[1] != nil || errs[2] == nil || isInvalid(errs[2]) || errs[3] != nil {
		t.Fatalf("handler errors %v, want only the ghost's, to retry", errs)
	}
	hs, _ := member(t, e.pool, "c3")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 3 {
		t.Fatalf("hotspot %q: %+v, want c1, c2, c3 without the ghost", hs, h)
	}
	if got := engineCount(t, e.svc, hs); got != 3 {
		t.Errorf("the engine holds %d complaints in %s, the database 3", got, hs)
	}
	// Its redelivery, once it can be stored, joins the hotspot.
	e.consumeAll(t, 256, ghost)
	if h, _ := hotspot(t, e.pool, hs); h.Count != 4 {
		t.Errorf("hotspot %s has %d complaints after the ghost's redelivery, want 4", hs, h.Count)
	}
}

func TestServiceDeadLettersTheInvalidComplaintOfABatch(t *testing.T) {
	t.Parallel()
	pool, svcs := running(t, []string{"siming"})
	c1, c2, c3 := located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2)))
	// Sent on Siming's subject, it names Huli: the partition refuses it.
	stray := located("stray", 5, 5, t0.Add(hours(1)))
	stray.District = "huli"
	addComplaints(t, pool, c1, c2, stray, c3)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for _, ev := range []event.ComplaintLocated{c1, c2, stray, c3} {
			if err := outbox.Add(context.Background(), tx, event.SubjComplaintLocated+".siming.noise", ev.EventID, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitClustered(t, pool, "c1", "c2", "c3")
	testenv.Eventually(t, 30*time.Second, "the stray complaint dead-lettered", func() bool {
		return count(t, pool, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = 'stray.located'`, svcs[0].Durable()) == 1
	})
	hs, _ := member(t, pool, "c3")
	if h, ok := hotspot(t, pool, hs); !ok || h.Count != 3 {
		t.Errorf("hotspot %q: %+v, want the 3 complaints of Siming", hs, h)
	}
}

// TestLateComplaintsOfOneBatchFindEachOther sends, after recent
// complaints, a batch of complaints so old that the engine keeps none of
// them in memory: each finds the ones before it in the database, where the
// batch stores them before the next one reads, and together they open a
// hotspot.
func TestLateComplaintsOfOneBatchFindEachOther(t *testing.T) {
	t.Parallel()
	e := setup(t)
	recent := t0.Add(100 * 24 * time.Hour)
	e.consumeAll(t, 256, located("recent", 3000, 3000, recent))
	var old []event.ComplaintLocated
	for i := range 3 {
		old = append(old, located(fmt.Sprintf("old%d", i+1), float64(i*5), 0, t0.Add(hours(i))))
	}
	e.consumeAll(t, 256, old...)
	hs, _ := member(t, e.pool, "old3")
	if h, ok := hotspot(t, e.pool, hs); !ok || h.Count != 3 {
		t.Errorf("old3 in hotspot %q (%+v), want one of the 3 old complaints", hs, h)
	}
	for _, id := range []string{"old1", "old2"} {
		if got, _ := member(t, e.pool, id); got != hs || hs == "" {
			t.Errorf("%s in hotspot %q, want %q", id, got, hs)
		}
	}
}
