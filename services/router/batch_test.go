package router_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// state sums up every row the router writes, to compare before and after.
func (e *env) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT count(*) FROM cases`,
		`SELECT COALESCE(sum(version), 0) FROM cases`,
		`SELECT count(*) FROM case_complaints`,
		`SELECT count(*) FROM assignments`,
		`SELECT count(*) FROM case_audit`,
		`SELECT count(*) FROM case_timers`,
		`SELECT count(*) FROM outbox`,
		`SELECT count(*) FROM triage`,
	} {
		fmt.Fprintf(&b, "%s: %d\n", q, e.count(t, q))
	}
	return b.String()
}

// One batch holding complaints about three places, interleaved, makes
// three cases: each with one active assignment, every complaint of its
// place, and one audit row and one event per transition; the last event
// of a case names every work order it holds.
func TestOneBatchOfSeveralPlacesOpensOneCaseEach(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 21, 0, 0, 0, shanghai)
	places := map[string][2]float64{"A": {0, 0}, "B": {3000, 0}, "C": {0, 3000}}
	var evs []event.ComplaintClustered
	want := map[string]int{}
	for i, p := range []string{"A", "B", "A", "C", "A", "B", "A", "B", "A"} {
		xy := places[p]
		evs = append(evs, e.complaint(t, fmt.Sprintf("%s%d", p, i), at.Add(time.Duration(i)*time.Minute), xy[0]+float64(i*7), xy[1]-float64(i*5)))
		want[p]++
	}
	if err := e.handle(t, evs...); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != len(places) {
		t.Fatalf("%d cases for %d places", n, len(places))
	}
	for p := range places {
		first := evs[slices.IndexFunc(evs, func(ev event.ComplaintClustered) bool { return strings.HasPrefix(ev.TicketID, p) })]
		c := e.caseOf(t, first.ComplaintID)
		if c.ID != caseflow.IDFor(first.ComplaintID) {
			t.Errorf("place %s: case %s, want the one its first complaint opened", p, c.ID)
		}
		tickets, err := caseflow.Tickets(e.ctx, e.pool, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ticket := range tickets {
			if !strings.HasPrefix(ticket, p) {
				t.Errorf("place %s: case %s holds %s", p, c.ID, ticket)
			}
		}
		if len(tickets) != want[p] {
			t.Errorf("place %s: %d tickets, want %d", p, len(tickets), want[p])
		}
		if n := e.count(t, `SELECT count(*) FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID); n != 1 {
			t.Errorf("place %s: %d active assignments, want 1", p, n)
		}
		transitions := 2 + want[p] - 1 // open, assign, a merge per repeat
		audit, err := caseflow.Audit(e.ctx, e.pool, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != transitions || audit[0].Action != "open" || audit[1].Action != "assign" {
			t.Errorf("place %s: audit %+v, want open, assign and %d merges", p, audit, want[p]-1)
		}
		if c.Version != transitions {
			t.Errorf("place %s: case at version %d, want %d", p, c.Version, transitions)
		}
		if n := e.count(t, `SELECT count(*) FROM outbox WHERE payload->>'case_id' = $1`, c.ID); n != transitions {
			t.Errorf("place %s: %d events, want %d", p, n, transitions)
		}
		// Each event names the work orders it concerns: the assignment
		// the first, each merge its own.
		var named []string
		if err := e.pool.QueryRow(e.ctx, `SELECT array_agg(t ORDER BY t) FROM outbox, jsonb_array_elements_text(payload::jsonb->'tickets') AS t
			WHERE payload->>'case_id' = $1 AND payload->>'kind' IN ('assigned', 'merged')`, c.ID).Scan(&named); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(named, tickets) {
			t.Errorf("place %s: the assignment and merges name %s, want %v once each", p, named, tickets)
		}
	}
}

// A batch handled again, as after a crash before the acknowledgement,
// changes nothing; a complaint twice in one batch joins its case once.
func TestReplayedBatchChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 21, 0, 0, 0, shanghai)
	var evs []event.ComplaintClustered
	for i := range 6 {
		evs = append(evs, e.complaint(t, fmt.Sprintf("P%d", i), at.Add(time.Duration(i)*time.Minute), float64(i%2)*4000, 0))
	}
	odd := e.complaint(t, "P9", at, 0, 0)
	odd.Category = "light" // no rule: triage
	evs = append(evs, odd, evs[1])
	if err := e.handle(t, evs...); err != nil {
		t.Fatal(err)
	}
	before := e.state(t)
	if n := e.count(t, `SELECT count(*) FROM case_complaints`); n != 6 {
		t.Errorf("%d complaints in cases, want 6", n)
	}
	if err := e.handle(t, evs...); err != nil {
		t.Fatal(err)
	}
	if after := e.state(t); after != before {
		t.Errorf("the replay changed\n%s\ninto\n%s", before, after)
	}
}

// Within one batch a complaint finds what earlier ones did: the case a
// complaint opened adopts the hotspot of the next, so a third complaint
// of that hotspot joins it from beyond the radius; two complaints about
// a resolved case's place reopen it once.
func TestComplaintsOfOneBatchSeeEachOthersTransitions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	hs := "hs_batch"
	first := e.complaint(t, "H1", at, 0, 0)
	near := e.complaint(t, "H2", at.Add(time.Minute), 40, 0)
	near.HotspotID = &hs
	far := e.complaint(t, "H3", at.Add(2*time.Minute), 700, 0)
	far.HotspotID = &hs
	if err := e.handle(t, first, near, far); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	if got := e.caseOf(t, far.ComplaintID); got.ID != c.ID || c.HotspotID != hs {
		t.Fatalf("complaint of the hotspot 700 m away in case %s, want %s holding hotspot %s (has %q)", got.ID, c.ID, hs, c.HotspotID)
	}

	officer := caseflow.Actor{ID: "officer:o1", Team: c.Team, District: "siming", Role: caseflow.RoleOfficer}
	// Resolved the next day: the complaints below come after it.
	rctx := caseflow.WithClock(e.ctx, func() time.Time { return at.Add(24 * time.Hour) })
	if err := pgx.BeginFunc(rctx, e.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Accept(rctx, tx, c.ID, officer); err != nil {
			return err
		}
		_, err := caseflow.Resolve(rctx, tx, c.ID, officer, caseflow.OutcomeRectified, "stopped")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	back1 := e.complaint(t, "R1", at.Add(5*24*time.Hour), 10, 0)
	back2 := e.complaint(t, "R2", at.Add(5*24*time.Hour+time.Minute), 20, 0)
	back2.HotspotID = &hs
	if err := e.handle(t, back1, back2); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, back2.ComplaintID)
	if got.ID != c.ID || got.Status != caseflow.StatusAssigned || got.Reopened != 1 {
		t.Fatalf("after two complaints in one batch: case %s %s reopened %d; want %s assigned, reopened once", got.ID, got.Status, got.Reopened, c.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = 'reopen'`, c.ID); n != 1 {
		t.Errorf("%d reopen audit rows, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("%d cases, want 1", n)
	}
}

// A complaint the router can never handle, inside a batch, goes to the
// dead letters; the rest of its batch is routed.
func TestOneBadEventDoesNotHoldBackItsBatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	svc := e.newRouter(t, n.JS)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	var good []event.ComplaintClustered
	for i := range 6 {
		good = append(good, e.complaint(t, fmt.Sprintf("G%d", i), at.Add(time.Duration(i)*time.Minute), float64(i%3)*3000, 0))
	}
	bad := e.complaint(t, "BAD", at, 0, 0)
	bad.Lat = nil // half a point
	for i, ev := range good {
		if i == 3 {
			publish(t, e.ctx, n.JS, bad)
		}
		publish(t, e.ctx, n.JS, ev)
	}
	run(t, e.ctx, svc)
	testenv.Eventually(t, 20*time.Second, "good complaints in cases", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints`) == len(good)
	})
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 3 {
		t.Errorf("%d cases for 3 places", n)
	}
	testenv.Eventually(t, 20*time.Second, "bad complaint dead-lettered", func() bool {
		return e.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = $2`, router.DurableClustered, bad.EventID) == 1
	})
	if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, bad.ComplaintID); n != 0 {
		t.Errorf("the bad complaint is in a case")
	}
}

// Batches about the same places in two categories, handled at once in
// opposite orders, wait for each other's locks without deadlocking and
// leave one case per place and category.
func TestConcurrentBatchesLeaveOneCasePerPlace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 21, 0, 0, 0, shanghai)
	batches := make([][]event.ComplaintClustered, 4)
	for b := range batches {
		for i := range 6 {
			ev := e.complaint(t, fmt.Sprintf("K%d%d", b, i), at.Add(time.Duration(b*10+i)*time.Minute), float64(i%3)*3000, float64(b))
			if i%2 == 1 {
				ev.Category, ev.Subcategory = "cooking_smoke", "restaurant"
			}
			batches[b] = append(batches[b], ev)
		}
		if b%2 == 1 {
			slices.Reverse(batches[b])
		}
	}
	errs := make(chan error, len(batches))
	for _, batch := range batches {
		go func() { errs <- e.handle(t, batch...) }()
	}
	for range batches {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// Three places, each with complaints of both categories.
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 6 {
		t.Errorf("%d cases, want 6", n)
	}
	if n := e.count(t, `SELECT count(*) FROM assignments WHERE status = 'active'`); n != 6 {
		t.Errorf("%d active assignments, want 6", n)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints`); n != 24 {
		t.Errorf("%d complaints in cases, want 24", n)
	}
}
