package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// caseStory is the events of one case in the order the stream holds
// them: T1 assigned, T2 merged in, the case resolved and closed.
func caseStory(caseID string, t1, t2 string) []event.CaseChanged {
	base := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	ev := func(kind, status string, at int, tickets ...string) event.CaseChanged {
		return event.CaseChanged{EventID: fmt.Sprintf("%s.%s.%d", caseID, kind, at+2), CaseID: caseID, Kind: kind, Status: status,
			Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router", Tickets: tickets,
			At: base.Add(time.Duration(at) * time.Second)}
	}
	return []event.CaseChanged{
		ev(caseflow.KindAssigned, caseflow.StatusAssigned, 0, t1),
		ev(caseflow.KindMerged, caseflow.StatusAssigned, 1, t1, t2),
		ev(caseflow.KindResolved, caseflow.StatusResolved, 2, t1, t2),
		ev(caseflow.KindClosed, caseflow.StatusClosed, 3, t1, t2),
	}
}

func (e *env) handleBatch(t *testing.T, svc *callbacks.Service, evs []event.CaseChanged) {
	t.Helper()
	bear(t, e.ctx, e.pool, evs...)
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		return svc.HandleCaseChanges(ctx, tx, evs, make([]natsx.Meta, len(evs)))
	})
}

func (e *env) callbackIDs(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT id FROM callbacks ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A whole case's story in one batch: the merge in the batch does not
// answer the ticket the assignment before it in the same batch answered,
// and every ticket hears its case's changes in order.
func TestBatchKeepsEachTicketsOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	e.handleBatch(t, svc, caseStory("case_o", "O1", "O2"))
	if ids := e.callbackIDs(t); len(ids) != 6 {
		t.Fatalf("%d callbacks stored, want 6 (O1: assigned, resolved, closed; O2: merged, resolved, closed)", len(ids))
	}
	testenv.Eventually(t, 20*time.Second, "every callback delivered", func() bool {
		if _, err := svc.DeliverOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		var undelivered int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE delivered_at IS NULL`).Scan(&undelivered)
		return err == nil && undelivered == 0
	})
	want := []string{"assigned", "resolved", "closed"}
	for _, ticket := range []string{"O1", "O2"} {
		if got := rcv.statuses(ticket); !slices.Equal(got, want) {
			t.Errorf("ticket %s heard %v, want %v", ticket, got, want)
		}
	}
}

// A batch handled again, whole or one event at a time, stores nothing
// new: the same callbacks as handling the events one by one.
func TestReplayedBatchStoresNothingNew(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := e.service(t, "", nil)
	story := caseStory("case_r", "R1", "R2")
	other := caseStory("case_s", "S1", "S2")

	e.handleBatch(t, svc, story)
	first := e.callbackIDs(t)
	e.handleBatch(t, svc, story)
	for _, ev := range story {
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error { return svc.HandleCaseChanged(ctx, tx, ev, natsx.Meta{}) })
	}
	if again := e.callbackIDs(t); !slices.Equal(again, first) {
		t.Errorf("after replays %d callbacks, want the %d of the first batch", len(again), len(first))
	}

	// The same story told one event at a time stores what the batch did.
	bear(t, e.ctx, e.pool, other...)
	for _, ev := range other {
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error { return svc.HandleCaseChanged(ctx, tx, ev, natsx.Meta{}) })
	}
	var batchTickets, singleTickets []string
	for _, q := range []struct {
		caseID string
		out    *[]string
	}{{"case_r", &batchTickets}, {"case_s", &singleTickets}} {
		rows, err := e.pool.Query(e.ctx, `SELECT left(ticket_id, 1) || '/' || status FROM callbacks WHERE case_id = $1 ORDER BY ticket_id, at`, q.caseID)
		if err != nil {
			t.Fatal(err)
		}
		if *q.out, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range singleTickets {
		singleTickets[i] = strings.Replace(singleTickets[i], "S", "R", 1)
	}
	if !slices.Equal(batchTickets, singleTickets) {
		t.Errorf("batch stored %v, one event at a time %v", batchTickets, singleTickets)
	}
}

// One claimed set with a success, a failure and a failure past the retry
// window: each is recorded as what it is, with one statement for all.
func TestClaimedSetRecordsEachResult(t *testing.T) {
	t.Parallel()
	e := setup(t)
	refuse := map[string]bool{"X2": true, "X4": true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b callbacks.Body
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &b); err != nil || refuse[b.TicketID] {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	svc, err := callbacks.New(callbacks.DefaultConfig(srv.URL, secret), e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	e.handleBatch(t, svc, []event.CaseChanged{{EventID: "case_x.closed.7", CaseID: "case_x", Kind: "closed", Status: "closed",
		Team: "huli-urban", Category: "dust", District: "huli", Actor: "officer:o2", Tickets: []string{"X1", "X2", "X3", "X4"}, At: time.Now()}})
	// X4 has been retried for longer than the window (its window starts at
	// its first attempt): its failure is its last.
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET attempts = 1, retry_since = now() - interval '25 hours' WHERE ticket_id = 'X4'`); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.DeliverOnce(e.ctx); err != nil || n != 4 {
		t.Fatalf("DeliverOnce: %d, %v; want 4 claimed", n, err)
	}
	rows, err := e.pool.Query(e.ctx, `SELECT ticket_id, attempts, delivered_at IS NOT NULL, dead_at IS NOT NULL,
			COALESCE(last_error, ''), next_at > now() + interval '4 seconds'
		FROM callbacks ORDER BY ticket_id`)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		ticket          string
		attempts        int
		delivered, dead bool
		lastError       string
		nextLater       bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (result, error) {
		var x result
		err := r.Scan(&x.ticket, &x.attempts, &x.delivered, &x.dead, &x.lastError, &x.nextLater)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	busy := "hotline answered 503 Service Unavailable"
	want := []result{
		{ticket: "X1", attempts: 1, delivered: true, nextLater: true}, // the lease's next_at stays
		{ticket: "X2", attempts: 1, lastError: busy, nextLater: true},
		{ticket: "X3", attempts: 1, delivered: true, nextLater: true},
		{ticket: "X4", attempts: 2, dead: true, lastError: busy, nextLater: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", got, want)
	}
	// Nothing is due: X2 waits for its backoff, X4 for an operator.
	if n, err := svc.DeliverOnce(e.ctx); err != nil || n != 0 {
		t.Errorf("DeliverOnce right after: %d, %v; want 0", n, err)
	}
}

// A case event PostgreSQL cannot store is dead-lettered on its own; the
// other events of its batch are stored.
func TestOneBadEventDoesNotHoldBackItsBatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	good := caseStory("case_g", "G1", "G2")
	bad := event.CaseChanged{EventID: "case_b.resolved.4", CaseID: "case_b", Kind: "resolved", Status: "resolved", Team: "siming-eco",
		Category: "noise", District: "siming", Note: "bad\x00note", Actor: "officer:o1", Tickets: []string{"B1"}, At: time.Now()}
	bear(t, e.ctx, e.pool, good...)
	for _, ev := range []event.CaseChanged{good[0], good[1], bad, good[2], good[3]} {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.JS.Publish(e.ctx, caseflow.Subject(ev.Kind, ev.Team), data); err != nil {
			t.Fatal(err)
		}
	}
	svc := e.service(t, "", n.JS)
	e.run(t, svc)
	testenv.Eventually(t, 20*time.Second, "the good events stored and the bad one dead-lettered", func() bool {
		var stored, dead int
		err := e.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM callbacks),
			(SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = $2)`, callbacks.Durable, bad.EventID).Scan(&stored, &dead)
		return err == nil && stored == 6 && dead == 1
	})
	var badStored int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE ticket_id = 'B1'`).Scan(&badStored); err != nil || badStored != 0 {
		t.Errorf("%d callbacks of the bad event (%v), want none", badStored, err)
	}
}

// Each result recorded is counted by its outcome in
// nuisance_callbacks_attempts_total: delivered, failed, dead. Every
// delivered or failed one was counted lease_lost (and logged as a result
// not recorded), so NuisanceCallbacksFailing, which reads the failed ones,
// could never fire. Not parallel: the counters are the process's.
func TestEachRecordedResultIsCountedByItsOutcome(t *testing.T) {
	e := setup(t)
	refuse := map[string]bool{"Y2": true, "Y4": true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b callbacks.Body
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &b); err != nil || refuse[b.TicketID] {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	svc, err := callbacks.New(callbacks.DefaultConfig(srv.URL, secret), e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	e.handleBatch(t, svc, []event.CaseChanged{{EventID: "case_y.closed.7", CaseID: "case_y", Kind: "closed", Status: "closed",
		Team: "huli-urban", Category: "dust", District: "huli", Actor: "officer:o2", Tickets: []string{"Y1", "Y2", "Y3", "Y4"}, At: time.Now()}})
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET attempts = 1, retry_since = now() - interval '25 hours' WHERE ticket_id = 'Y4'`); err != nil {
		t.Fatal(err)
	}
	outcomes := []string{"delivered", "failed", "dead", "lease_lost"}
	count := func() map[string]float64 {
		m := map[string]float64{}
		for _, o := range outcomes {
			m[o], _ = testenv.Metric(t, "nuisance_callbacks_attempts_total", "outcome", o)
		}
		return m
	}
	before := count()
	if n, err := svc.DeliverOnce(e.ctx); err != nil || n != 4 {
		t.Fatalf("DeliverOnce: %d, %v; want 4 claimed", n, err)
	}
	after := count()
	want := map[string]float64{"delivered": 2, "failed": 1, "dead": 1, "lease_lost": 0}
	for _, o := range outcomes {
		if got := after[o] - before[o]; got != want[o] {
			t.Errorf("nuisance_callbacks_attempts_total{outcome=%q} rose by %v, want %v", o, got, want[o])
		}
	}
}
