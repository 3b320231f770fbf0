package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// auditAction is the case_audit action internal/caseflow records for a
// transition of each kind the hotline hears of.
var auditAction = map[string]string{
	caseflow.KindAssigned: "assign", caseflow.KindMerged: "merge", caseflow.KindReopened: "reopen",
	caseflow.KindResolved: "resolve", caseflow.KindReturned: "return", caseflow.KindClosed: "close",
}

// bear writes what the case workflow writes with the transitions of evs
// (the case, its work orders, the assignment of the event's team and the
// transition's audit entry), so that the callbacks service finds the
// events borne out by the database: the events of a test that are not
// about where they came from.
func bear(tb testing.TB, ctx context.Context, pool *pgxpool.Pool, evs ...event.CaseChanged) {
	tb.Helper()
	var cases, kinds, statuses, teams, notes, categories, districts, tCases, tickets []string
	var ats, tAts []time.Time
	for _, ev := range evs {
		cases, kinds, statuses, teams, notes = append(cases, ev.CaseID), append(kinds, auditAction[ev.Kind]), append(statuses, ev.Status), append(teams, ev.Team), append(notes, ev.Note)
		categories, districts, ats = append(categories, ev.Category), append(districts, ev.District), append(ats, ev.At)
		for _, tk := range ev.Tickets {
			tCases, tickets, tAts = append(tCases, ev.CaseID), append(tickets, tk), append(tAts, ev.At)
		}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO complaints (id, ticket_id, received_at, description)
				SELECT 'cmp_' || t, t, now(), '夜间施工' FROM unnest($1::text[]) AS t ON CONFLICT DO NOTHING`, []any{tickets}},
			{`INSERT INTO cases (id, category, district, status, opened_at)
				SELECT DISTINCT ON (id) id, COALESCE(NULLIF(category, ''), 'noise'), COALESCE(NULLIF(district, ''), 'siming'), 'open', at
				FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(id, category, district, at) ON CONFLICT DO NOTHING`,
				[]any{cases, categories, districts, ats}},
			{`INSERT INTO case_complaints (complaint_id, case_id, joined_at)
				SELECT m.id, u.case_id, u.at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(case_id, ticket, at)
				JOIN complaints m ON m.ticket_id = u.ticket ON CONFLICT DO NOTHING`, []any{tCases, tickets, tAts}},
			{`INSERT INTO assignments (case_id, team, status, assigned_at)
				SELECT case_id, team, 'done', at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(case_id, team, at) WHERE team <> ''`,
				[]any{cases, teams, ats}},
			{`INSERT INTO case_audit (case_id, actor, at, to_status, action, reason)
				SELECT case_id, 'service:router', at, status, action, NULLIF(note, '')
				FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[]) AS u(case_id, at, status, action, note)`,
				[]any{cases, ats, statuses, kinds, notes}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("bear out %d case events: %v", len(evs), err)
	}
}

// relay publishes the outbox to n until the test ends.
func (e *env) relay(t *testing.T, n *testenv.NATS) {
	t.Helper()
	ctx, stop := context.WithCancel(e.ctx)
	r := &outbox.Relay{Pool: e.pool, JS: n.JS, Log: testenv.Log(t), Poll: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
}

// caseEvent reads the event of one transition from the outbox, as the
// case workflow wrote it.
func (e *env) caseEvent(t *testing.T, eventID string) event.CaseChanged {
	t.Helper()
	var payload []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT payload::text FROM outbox WHERE event_id = $1`, eventID).Scan(&payload); err != nil {
		t.Fatalf("event %s: %v", eventID, err)
	}
	var ev event.CaseChanged
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func refusedCount(t *testing.T) float64 {
	t.Helper()
	total := 0.0
	for _, reason := range []string{"event_id", "transition", "team", "work_order"} {
		v, _ := testenv.Metric(t, "nuisance_callbacks_refused_total", "reason", reason)
		total += v
	}
	return total
}

// Another service's stolen NATS credential can publish case events; the
// hotline must hear only of transitions the case workflow recorded. An
// event of a transition the case never made, a real one with its team or
// work orders changed, a page naming another case's work order, one of a
// case that does not exist: none is stored, each is counted, and none
// holds back the genuine event of the same id when it comes. A genuine
// resolution that arrives after the case was reopened is still told.
func TestForgedCaseEventsAreRefused(t *testing.T) {
	e := setup(t)
	n := testenv.StartNATS(t)
	e.relay(t, n)
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	assigned := func(ticket string) (string, string) {
		first := e.complaint(t, ticket)
		id := caseflow.IDFor(first)
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
			if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: first, Category: "noise", District: "siming", OpenedAt: time.Now()}); err != nil {
				return err
			}
			_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
				SignDue: time.Now().Add(24 * time.Hour), ResolveDue: time.Now().Add(120 * time.Hour)})
			return err
		})
		return id, first
	}
	// V is resolved and then reopened before the callbacks hear of it.
	v, _ := assigned("V1")
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, v, officer); err != nil {
			return err
		}
		if _, err := caseflow.Resolve(ctx, tx, v, officer, caseflow.OutcomeRectified, "施工已停止"); err != nil {
			return err
		}
		_, err := caseflow.Reopen(ctx, tx, v, router, time.Now().Add(24*time.Hour), time.Now().Add(120*time.Hour), "complaint again")
		return err
	})
	// W is only assigned; X1 is a work order of no case.
	w, _ := assigned("W1")
	e.complaint(t, "X1")
	testenv.Eventually(t, 10*time.Second, "the relay published the cases' events", func() bool {
		var unsent int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent)
		return err == nil && unsent == 0
	})
	vAssigned, vResolved := e.caseEvent(t, v+".assigned.2"), e.caseEvent(t, v+".resolved.4")

	otherTeam := vResolved
	otherTeam.EventID, otherTeam.Team = v+".resolved.40", "huli-urban"
	moreTickets := vAssigned
	moreTickets.EventID, moreTickets.Tickets = v+".assigned.41", []string{"V1", "X1"}
	page := vResolved
	page.EventID, page.Transition, page.Part, page.Parts, page.Tickets = v+".resolved.4.p2", v+".resolved.4", 2, 2, []string{"W1"}
	// W's resolution as it will be numbered (open 1, assign 2, accept 3,
	// resolve 4), before it happens.
	early := vResolved
	early.EventID, early.CaseID, early.Tickets = w+".resolved.4", w, []string{"W1"}
	noCase := vResolved
	noCase.EventID, noCase.CaseID = "case_nope.resolved.4", "case_nope"
	badID := vResolved
	badID.EventID = "hello"
	forged := []event.CaseChanged{otherTeam, moreTickets, page, early, noCase, badID}

	before := refusedCount(t)
	e.publishRaw(t, n, forged...)
	e.run(t, e.service(t, "", n.JS))
	forgedIDs := make([]string, len(forged))
	for i, f := range forged {
		forgedIDs[i] = f.EventID
	}
	testenv.Eventually(t, 20*time.Second, "the genuine events stored and the forged ones handled", func() bool {
		var stored, processed int
		err := e.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM callbacks),
			(SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id = ANY($2))`, callbacks.Durable, forgedIDs).Scan(&stored, &processed)
		return err == nil && stored >= 4 && refusedCount(t)-before+float64(processed) >= float64(len(forged))
	})
	// W resolved for real: the genuine event of the id the forgery took.
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, w, officer); err != nil {
			return err
		}
		_, err := caseflow.Resolve(ctx, tx, w, officer, caseflow.OutcomeNoViolation, "")
		return err
	})
	testenv.Eventually(t, 20*time.Second, "W1 told of its real resolution", func() bool {
		var n int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE id = $1`, callbacks.WebhookID(w+".resolved.4", "W1")).Scan(&n)
		return err == nil && n == 1
	})

	rows, err := e.pool.Query(e.ctx, `SELECT ticket_id || ' ' || event_id || ' ' || status || ' ' || COALESCE(team, '') FROM callbacks ORDER BY ticket_id, at`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"V1 " + v + ".assigned.2 assigned siming-eco",
		"V1 " + v + ".resolved.4 resolved siming-eco", // the case was reopened since: still told, in order
		"V1 " + v + ".reopened.5 assigned siming-eco",
		"W1 " + w + ".assigned.2 assigned siming-eco",
		"W1 " + w + ".resolved.4 resolved siming-eco",
	}
	if !slices.Equal(got, want) {
		t.Errorf("callbacks stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := refusedCount(t) - before; d != float64(len(forged)) {
		t.Errorf("%v case events counted as refused, want the %d forged", d, len(forged))
	}
	// A refused event is not recorded as processed: the genuine event of
	// its id, when it comes, is.
	var processed int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id = ANY($2)`,
		callbacks.Durable, forgedIDs).Scan(&processed); err != nil || processed != 1 {
		t.Errorf("%d forged event ids recorded as processed (%v), want only W's resolution, which came for real", processed, err)
	}
	var note string
	if err := e.pool.QueryRow(e.ctx, `SELECT COALESCE(note, '') FROM callbacks WHERE ticket_id = 'W1' AND status = 'resolved'`).Scan(&note); err != nil || note != "无违法行为" {
		t.Errorf("W1's resolution says %q (%v), want the real one's 无违法行为 (no_violation)", note, err)
	}
}

// countingPool is a pool on e's database that counts the statements run
// on it.
func (e *env) countingPool(t *testing.T) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg := e.pool.Config().Copy()
	var n atomic.Int64
	cfg.ConnConfig.Tracer = countQueries{&n}
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, &n
}

type countQueries struct{ n *atomic.Int64 }

func (c countQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (countQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The check of a batch's events is one statement, however many events and
// cases the batch holds, forged ones among them or not.
func TestABatchIsCheckedWithOneStatement(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pool, queries := e.countingPool(t)
	svc, err := callbacks.New(callbacks.DefaultConfig("", ""), pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	statements := func(evs []event.CaseChanged) int64 {
		tx, err := pool.Begin(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(e.ctx) }()
		start := queries.Load()
		if err := svc.HandleCaseChanges(e.ctx, tx, evs, make([]natsx.Meta, len(evs))); err != nil {
			t.Fatal(err)
		}
		return queries.Load() - start
	}
	var small, large []event.CaseChanged
	for i := range 50 {
		story := caseStory(fmt.Sprintf("case_n%02d", i), fmt.Sprintf("N%02dA", i), fmt.Sprintf("N%02dB", i))
		bear(t, e.ctx, e.pool, story...)
		if i == 0 {
			small = story
		}
		large = append(large, story...)
	}
	forged := large[2]
	forged.EventID, forged.Team = forged.EventID+"0", "huli-urban"
	if a, b, c := statements(small), statements(large), statements(append(large, forged)); a != b || c > b+1 {
		t.Errorf("a batch of 4 events ran %d statements, one of 200 ran %d, with a forged one %d: want the same (one more to forget the forged one)", a, b, c)
	}
}

// The services that change cases run on machines whose clocks differ: the
// router, behind the officers' service here by two seconds, assigns a
// case again a moment after an officer returned it, stamping the new
// assignment before the return. Every transition is still told: the
// return, the new team's assignment, a merge, and the new team's
// resolution and closure.
func TestTransitionsStampedBySkewedClocksAreTold(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := e.service(t, "", nil)
	t0 := time.Now().Add(-time.Hour).UTC()
	clock := func(at time.Time) context.Context {
		return caseflow.WithClock(e.ctx, func() time.Time { return at })
	}
	step := func(at time.Time, f func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return f(clock(at), tx) }); err != nil {
			t.Fatal(err)
		}
	}
	first, second := e.complaint(t, "S1"), e.complaint(t, "S2")
	id := caseflow.IDFor(first)
	assignment := func(team string) caseflow.Assignment {
		return caseflow.Assignment{Team: team, Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
			SignDue: t0.Add(24 * time.Hour), ResolveDue: t0.Add(120 * time.Hour)}
	}
	eco := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	urban := caseflow.Actor{ID: "officer:o2", Team: "siming-urban", District: "siming", Role: caseflow.RoleOfficer}
	step(t0, func(ctx context.Context, tx pgx.Tx) error {
		if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: first, Category: "noise", District: "siming", OpenedAt: t0}); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, id, router, assignment("siming-eco"))
		return err
	})
	step(t0.Add(10*time.Minute), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Accept(ctx, tx, id, eco)
		return err
	})
	returned := t0.Add(20 * time.Minute)
	step(returned, func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Return(ctx, tx, id, eco, "不属于本部门")
		return err
	})
	step(returned.Add(-2*time.Second), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Assign(ctx, tx, id, router, assignment("siming-urban"))
		return err
	})
	step(t0.Add(21*time.Minute), func(ctx context.Context, tx pgx.Tx) error {
		_, _, err := caseflow.Merge(ctx, tx, id, router, second, "", "", time.Time{}, time.Time{})
		return err
	})
	step(t0.Add(30*time.Minute), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, id, urban); err != nil {
			return err
		}
		_, err := caseflow.Resolve(ctx, tx, id, urban, caseflow.OutcomeRectified, "")
		return err
	})
	step(t0.Add(40*time.Minute), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Close(ctx, tx, id, router, "办结")
		return err
	})
	rows, err := e.pool.Query(e.ctx, `SELECT event_id FROM outbox WHERE subject LIKE 'case.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.CaseChanged
	for _, eventID := range ids {
		evs = append(evs, e.caseEvent(t, eventID))
	}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		return svc.HandleCaseChanges(ctx, tx, evs, make([]natsx.Meta, len(evs)))
	})
	rows, err = e.pool.Query(e.ctx, `SELECT ticket_id || ' ' || status || ' ' || COALESCE(team, '') FROM callbacks ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"S1 assigned siming-eco", "S1 assigned siming-urban", "S1 closed siming-urban", "S1 resolved siming-urban", "S1 returned siming-eco",
		"S2 assigned siming-urban", "S2 closed siming-urban", "S2 resolved siming-urban",
	}
	if !slices.Equal(got, want) {
		t.Errorf("callbacks stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Each reason's count is on /metrics before any refusal (the README lists
// the counter), so that the first refusal is an increase from 0. Not
// parallel: it runs before the parallel tests that refuse events.
func TestRefusalsAreCountedFromZero(t *testing.T) {
	for _, reason := range []string{"event_id", "transition", "team", "work_order"} {
		if _, ok := testenv.Metric(t, "nuisance_callbacks_refused_total", "reason", reason); !ok {
			t.Errorf("nuisance_callbacks_refused_total{reason=%q} is not on /metrics", reason)
		}
	}
}
