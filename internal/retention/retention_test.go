package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

const day = 24 * time.Hour

// setup returns a migrated database of the test's own and a job on it
// with cfg (Pages small, so that a few hundred rows span several
// batches).
func setup(t *testing.T, cfg retention.Config) (*pgxpool.Pool, *retention.Job) {
	t.Helper()
	pool := testenv.DB(t)
	if cfg.Pages == 0 {
		cfg.Pages = 2
	}
	job, err := retention.New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return pool, job
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func pass(t *testing.T, job *retention.Job) retention.Result {
	t.Helper()
	res, err := job.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ran {
		t.Fatal("the pass did not run: the lock was taken")
	}
	return res
}

// The window covers every way an event comes back: JetStream's longest
// MaxAge and the outbox's Keep, during which the sweeper publishes again
// an event a consumer has no record of.
func TestProcessedWindowOutlivesEveryRedelivery(t *testing.T) {
	t.Parallel()
	w := retention.ProcessedWindow()
	if w < outbox.DefaultKeep+retention.Margin {
		t.Errorf("window %s is within the outbox's Keep %s and the margin", w, outbox.DefaultKeep)
	}
	for _, s := range natsx.Streams(3) {
		if w < s.MaxAge+retention.Margin {
			t.Errorf("window %s is within stream %s's MaxAge %s and the margin", w, s.Name, s.MaxAge)
		}
	}
}

// Idempotency records older than the window go, in batches across the
// whole table; those inside it stay, and so does the record of an event a
// dead letter holds, whatever its age: an operator's retry sends it to
// every consumer of its subject again.
func TestPrunesIdempotencyRecordsPastAnyRedelivery(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.DefaultConfig())
	w := retention.ProcessedWindow()
	// 600 old records among 600 young ones, interleaved over the heap.
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at)
		SELECT 'router', 'e' || i, CASE WHEN i % 2 = 0 THEN now() - $1::interval ELSE now() - $2::interval END
		FROM generate_series(1, 1200) i`, (w + day).String(), (w - day).String())
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES
		('callbacks', 'retried-later', now() - interval '400 days'), ('router', 'fresh', now())`)
	exec(t, pool, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
		VALUES ('hotspots', 'case.closed', 'retried-later', 'CASES:9', 8, 'boom', '\x7b7d')`)

	res := pass(t, job)
	if res.Processed != 600 {
		t.Errorf("deleted %d records, want the 600 past the window", res.Processed)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE processed_at < now() - $1::interval AND event_id <> 'retried-later'`, w.String()); n != 0 {
		t.Errorf("%d records past the window remain", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE processed_at >= now() - $1::interval`, w.String()); n != 601 {
		t.Errorf("%d records inside the window remain, want all 601", n)
	}
	dl, err := outbox.DeadLetters(context.Background(), pool, "", false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].EventID != "retried-later" {
		t.Fatalf("dead letters: %+v", dl)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id = 'retried-later'`); n != 1 {
		t.Error("the record of an event a dead letter holds was pruned: a retry would apply it again where it was handled")
	}
	if again := pass(t, job); again.Processed != 0 {
		t.Errorf("a second pass deleted %d more", again.Processed)
	}
}

// The sweeper publishes again any event still in the outbox that a
// consumer has no record of, and the outbox keeps a sent event 14 days,
// twice what JetStream keeps it. A record pruned after JetStream's week
// would have a restarted sweeper send a 13-day-old event to its consumer
// a second time; the pass keeps it, and the sweeper sends nothing.
func TestKeepsTheRecordsTheSweeperReadsAgainstTheOutbox(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.DefaultConfig())
	n := testenv.StartNATS(t)
	ctx := context.Background()
	const id = "c1.clustered"
	exec(t, pool, `INSERT INTO outbox (event_id, subject, payload, created_at, sent_at)
		VALUES ($1, 'complaint.clustered.siming.noise', '{"event_id": "c1.clustered"}', now() - interval '13 days', now() - interval '13 days')`, id)
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('router', $1, now() - interval '13 days')`, id)

	pass(t, job)
	sweep := func() int {
		t.Helper()
		s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: 2 * time.Minute,
			Watches: []outbox.Watch{{Consumer: "router", Filter: "complaint.clustered.>"}}}
		got, err := s.SweepOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := sweep(); got != 0 {
		t.Fatalf("the sweeper published %d events again after the pass, want none", got)
	}
	// Without the record the same sweep sends it again: what a shorter
	// window would do.
	exec(t, pool, `DELETE FROM processed_events WHERE event_id = $1`, id)
	if got := sweep(); got != 1 {
		t.Fatalf("without the record the sweeper published %d events again, want 1 (the test no longer shows the hazard)", got)
	}
}

// hotline is the hotline's callback endpoint: it accepts every callback
// and keeps the statuses each work order heard, in order.
type hotline struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]string
}

func newHotline(t *testing.T) *hotline {
	h := &hotline{got: map[string][]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b callbacks.Body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got[b.TicketID] = append(h.got[b.TicketID], b.Status)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hotline) heard(ticket string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got[ticket]...)
}

// Callbacks delivered or given up on longer ago than the retention go,
// but the latest a work order's hotline may have heard stays: a case
// event come late (or replayed) is then still stored superseded and never
// sent, where without it the hotline would hear the work order taken back
// to 'assigned' after its close. A callback still being retried, and one
// delivered within the retention, stay.
func TestPrunesOldCallbacksButNeverWhatTheHotlineStillNeeds(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{Callbacks: 90 * day})
	ctx := context.Background()
	h := newHotline(t)
	svc, err := callbacks.New(callbacks.DefaultConfig(h.srv.URL, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-120 * day).UTC().Truncate(time.Microsecond)
	ev := func(caseID string, version int, kind, status string, at time.Time, tickets ...string) event.CaseChanged {
		return event.CaseChanged{EventID: fmt.Sprintf("%s.%s.%d", caseID, kind, version), CaseID: caseID, Kind: kind, Status: status,
			Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router", Tickets: tickets, At: at}
	}
	store := func(evs ...event.CaseChanged) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return svc.HandleCaseChanges(ctx, tx, evs, nil) }); err != nil {
			t.Fatal(err)
		}
	}
	// The callbacks service tells the hotline only of transitions the
	// database bears out: the cases, their work orders, assignments and
	// audit, as the router and the officers would have written them.
	exec(t, pool, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES
		('cmp-old', 'T-old', $1, '夜间施工'), ('cmp-recent', 'T-recent', $1, '夜间施工')`, t0)
	exec(t, pool, `INSERT INTO cases (id, category, district, status, opened_at) VALUES
		('K1', 'noise', 'siming', 'closed', $1), ('K2', 'noise', 'siming', 'resolved', $1)`, t0)
	exec(t, pool, `INSERT INTO case_complaints (complaint_id, case_id, joined_at) VALUES ('cmp-old', 'K1', $1), ('cmp-recent', 'K2', $1)`, t0)
	exec(t, pool, `INSERT INTO assignments (case_id, team, status, assigned_at) VALUES ('K1', 'siming-eco', 'done', $1), ('K2', 'siming-eco', 'done', $1)`, t0)
	exec(t, pool, `INSERT INTO case_audit (case_id, actor, at, to_status, action) VALUES
		('K1', 'service:router', $1, 'assigned', 'assign'), ('K1', 'service:router', $2, 'resolved', 'resolve'),
		('K1', 'service:router', $3, 'closed', 'close'),
		('K2', 'service:router', $1, 'assigned', 'assign'), ('K2', 'service:router', $2, 'resolved', 'resolve')`,
		t0, t0.Add(day), t0.Add(2*day))
	deliver := func() {
		t.Helper()
		for {
			n, err := svc.DeliverOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	assigned := ev("K1", 1, caseflow.KindAssigned, caseflow.StatusAssigned, t0, "T-old")
	store(assigned,
		ev("K1", 2, caseflow.KindResolved, caseflow.StatusResolved, t0.Add(day), "T-old"),
		ev("K1", 3, caseflow.KindClosed, caseflow.StatusClosed, t0.Add(2*day), "T-old"),
		ev("K2", 1, caseflow.KindAssigned, caseflow.StatusAssigned, t0, "T-recent"),
		ev("K2", 2, caseflow.KindResolved, caseflow.StatusResolved, t0.Add(day), "T-recent"))
	deliver()
	if got := h.heard("T-old"); len(got) != 3 {
		t.Fatalf("the hotline heard %v of T-old, want assigned, resolved, closed", got)
	}
	// T-old's deliveries were 100 days ago, T-recent's 10.
	exec(t, pool, `UPDATE callbacks SET delivered_at = now() - interval '100 days' WHERE ticket_id = 'T-old'`)
	exec(t, pool, `UPDATE callbacks SET delivered_at = now() - interval '10 days' WHERE ticket_id = 'T-recent'`)
	// T-dead: a callback given up on 100 days ago, delivered again later
	// (so not its work order's latest); T-waiting: one stored 100 days
	// ago and still being retried, never to be pruned.
	exec(t, pool, `INSERT INTO callbacks (id, ticket_id, case_id, status, at, attempts, dead_at, delivered_at, created_at) VALUES
		('cb-dead', 'T-dead', 'K3', 'assigned', $1, 40, now() - interval '100 days', NULL, $1),
		('cb-dead-then', 'T-dead', 'K3', 'resolved', $2, 1, NULL, now() - interval '95 days', $2),
		('cb-waiting', 'T-waiting', 'K4', 'assigned', $1, 300, NULL, NULL, $1)`, t0, t0.Add(day))

	res := pass(t, job)
	if res.Callbacks != 3 {
		t.Errorf("deleted %d callbacks, want 3 (T-old's assigned and resolved, T-dead's dead one)", res.Callbacks)
	}
	left := func(ticket string) []string {
		rows, _ := pool.Query(ctx, `SELECT status FROM callbacks WHERE ticket_id = $1 ORDER BY at, id`, ticket)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for ticket, want := range map[string]string{"T-old": "[closed]", "T-recent": "[assigned resolved]", "T-dead": "[resolved]", "T-waiting": "[assigned]"} {
		if got := fmt.Sprint(left(ticket)); got != want {
			t.Errorf("%s keeps %s, want %s", ticket, got, want)
		}
	}

	// A stage replays K1's assignment (a dead letter retried, say).
	store(assigned)
	deliver()
	if got := h.heard("T-old"); len(got) != 3 {
		t.Fatalf("after the pruning, a replayed assignment reached the hotline: it heard %v", got)
	}
	pending, err := callbacks.Pending(ctx, pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pending {
		if d.Body.TicketID == "T-old" {
			t.Fatalf("the replayed assignment waits to be sent: %+v", d)
		}
	}
	// What the kept row does: without it the replay is sent.
	exec(t, pool, `DELETE FROM callbacks WHERE ticket_id = 'T-old'`)
	store(assigned)
	deliver()
	if got := h.heard("T-old"); len(got) != 4 || got[3] != caseflow.StatusAssigned {
		t.Fatalf("without the kept callback the hotline heard %v (the test no longer shows the hazard)", got)
	}
}

// With no retention set for callbacks, none is pruned.
func TestKeepsEveryCallbackWithoutARetention(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.DefaultConfig())
	exec(t, pool, `INSERT INTO callbacks (id, ticket_id, case_id, status, at, attempts, delivered_at) VALUES
		('a', 'T', 'K', 'assigned', now() - interval '3 years', 1, now() - interval '3 years'),
		('b', 'T', 'K', 'closed', now() - interval '2 years', 1, now() - interval '2 years')`)
	if res := pass(t, job); res.Callbacks != 0 {
		t.Errorf("deleted %d callbacks with no retention set", res.Callbacks)
	}
}

// Another replica making a pass holds the lock: this one skips its pass
// and deletes nothing.
func TestOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.DefaultConfig())
	ctx := context.Background()
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('router', 'old', now() - interval '1 year')`)
	other, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine bool
	if err := other.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('nuisance retention', 0))`).Scan(&mine); err != nil || !mine {
		t.Fatalf("take the lock: %v %v", mine, err)
	}
	res, err := job.RunOnce(ctx)
	if err != nil || res.Ran || res.Processed != 0 {
		t.Fatalf("while another replica holds the lock: %+v %v, want a pass skipped", res, err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended('nuisance retention', 0))`); err != nil {
		t.Fatal(err)
	}
	other.Release()
	if res := pass(t, job); res.Processed != 1 {
		t.Errorf("once the lock is free the pass deleted %d, want 1", res.Processed)
	}
	// The lock went back with the pass: another replica gets it.
	job2, _ := retention.New(retention.DefaultConfig(), pool, testenv.Log(t))
	if res, err := job2.RunOnce(ctx); err != nil || !res.Ran {
		t.Fatalf("a second replica after the pass: %+v %v", res, err)
	}
}

// The job counts what it deletes, by table.
func TestCountsWhatItRemoves(t *testing.T) {
	pool, job := setup(t, retention.DefaultConfig())
	before := testenv.MustMetric(t, "nuisance_retention_removed_total", "table", "processed_events")
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at)
		SELECT 'router', 'e' || i, now() - interval '1 year' FROM generate_series(1, 25) i`)
	pass(t, job)
	if d := testenv.MustMetric(t, "nuisance_retention_removed_total", "table", "processed_events") - before; d < 25 {
		t.Errorf("nuisance_retention_removed_total{table=processed_events} rose by %v, want at least 25", d)
	}
	if v := testenv.MustMetric(t, "nuisance_retention_last_pass_timestamp_seconds"); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last pass at %v", v)
	}
}

// settledLetter stores consumer's dead letter of event (msg its message),
// written ago ago; sentAgo > 0 marks it sent again that long ago, and
// handledAgo > 0 records that consumer handled the event that long ago.
func settledLetter(t *testing.T, pool *pgxpool.Pool, consumer, event, msg string, ago, sentAgo, handledAgo time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at, retry_requested_at, retried_at)
		VALUES ($1, 'complaint.received', NULLIF($2, ''), $3, 8, 'boom', '\x7b7d', now() - $4::interval,
			CASE WHEN $5 THEN now() - $6::interval END, CASE WHEN $5 THEN now() - $6::interval END)`,
		consumer, event, msg, ago.String(), sentAgo > 0, sentAgo.String())
	if handledAgo > 0 {
		exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, now() - $3::interval)
			ON CONFLICT DO NOTHING`, consumer, event, handledAgo.String())
	}
}

// A dead letter whose event its consumer has since handled (sent again
// and taken, or taken by another way: a second dead letter of the same
// event) is settled: once settled longer ago than its retention it is
// deleted, and the idempotency records of its event, kept for a retry
// it no longer waits for, go in the same pass when they are past the
// window. A dead letter settled within the period, one sent again and
// not handled, one never sent again, the relay's (no retry can send
// it) and one with no event stay, however old: an operator must see
// them. The period is never shorter than the idempotency window: a
// retry publishes the event again, and until the window has passed
// from that publication the other consumers' records of it must stay.
// (No dead letter was ever deleted: the table kept every one, with its
// payload, for ever.)
func TestPrunesSettledDeadLetters(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{DeadLetters: 90 * day})
	w := retention.ProcessedWindow()
	settledLetter(t, pool, "geocoder", "c1.received", "COMPLAINTS:1", 400*day, 100*day, 100*day)
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('reporter', 'c1.received', now() - interval '400 days')`)
	// Given up on twice (a redelivery after a restart); the event was
	// handled once the first was sent again.
	settledLetter(t, pool, "geocoder", "c2.received", "COMPLAINTS:2", 300*day, 120*day, 100*day)
	settledLetter(t, pool, "geocoder", "c2.received", "COMPLAINTS:3", 300*day, 0, 0)
	settledLetter(t, pool, "geocoder", "lately.received", "COMPLAINTS:4", 400*day, 30*day, 30*day)
	settledLetter(t, pool, "geocoder", "sent-not-handled.received", "COMPLAINTS:5", 400*day, 100*day, 0)
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('reporter', 'sent-not-handled.received', now() - interval '100 days')`)
	settledLetter(t, pool, "router", "never-sent.clustered", "COMPLAINTS:6", 400*day, 0, 0)
	settledLetter(t, pool, "outbox-relay", "too-large.received", "too-large.received", 400*day, 0, 0)
	settledLetter(t, pool, "geocoder", "", "COMPLAINTS:7", 400*day, 0, 0)

	res := pass(t, job)
	if res.DeadLetters != 3 {
		t.Errorf("deleted %d dead letters, want the 3 settled longer ago than 90 days", res.DeadLetters)
	}
	left := func() []string {
		t.Helper()
		rows, _ := pool.Query(context.Background(), `SELECT msg_id FROM dead_letters ORDER BY id`)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := fmt.Sprint(left()); got != "[COMPLAINTS:4 COMPLAINTS:5 COMPLAINTS:6 too-large.received COMPLAINTS:7]" {
		t.Errorf("dead letters left: %s", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id IN ('c1.received', 'c2.received')`); n != 0 {
		t.Errorf("%d idempotency records of the deleted dead letters' events are left past the window", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id IN ('lately.received', 'sent-not-handled.received')`); n != 2 {
		t.Errorf("%d idempotency records of the dead letters kept are left, want 2", n)
	}
	if again := pass(t, job); again.DeadLetters != 0 {
		t.Errorf("a second pass deleted %d more", again.DeadLetters)
	}

	// A period shorter than the window is the window.
	pool, job = setup(t, retention.Config{DeadLetters: 7 * day})
	settledLetter(t, pool, "geocoder", "within.received", "COMPLAINTS:1", 400*day, w-day, w-day)
	settledLetter(t, pool, "geocoder", "past.received", "COMPLAINTS:2", 400*day, w+day, w+day)
	if res := pass(t, job); res.DeadLetters != 1 {
		t.Errorf("with a period of 7 days deleted %d dead letters, want 1 (settled past the window)", res.DeadLetters)
	}
	if got := fmt.Sprint(left()); got != "[COMPLAINTS:1]" {
		t.Errorf("with a period of 7 days, dead letters left: %s", got)
	}

	// Without a period none goes.
	pool, job = setup(t, retention.DefaultConfig())
	settledLetter(t, pool, "geocoder", "c1.received", "COMPLAINTS:1", 3*365*day, 2*365*day, 2*365*day)
	if res := pass(t, job); res.DeadLetters != 0 || count(t, pool, `SELECT count(*) FROM dead_letters`) != 1 {
		t.Errorf("deleted %d dead letters with no period set", res.DeadLetters)
	}
}
