package callbacks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// The router's clock runs a second behind the officers' service: a team
// returns a case at T and the router assigns it again 50 ms later, at
// T-950 ms by its clock. The hotline hears the return before the new
// assignment, the order the database recorded them in, whether the two
// events come in one batch (case R1) or one after the other with the
// return delivered in between (R2); the at it receives is each event's.
func TestCallbacksFollowTheOrderTheDatabaseRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	eco := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	// story runs ticket's case through assignment, acceptance, return and
	// reassignment, and returns the events of its transitions, in the
	// order they were written.
	story := func(ticket string, t0 time.Time) []event.CaseChanged {
		t.Helper()
		first := e.complaint(t, ticket)
		id := caseflow.IDFor(first)
		step := func(at time.Time, f func(ctx context.Context, tx pgx.Tx) error) {
			t.Helper()
			ctx := caseflow.WithClock(e.ctx, func() time.Time { return at })
			if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return f(ctx, tx) }); err != nil {
				t.Fatal(err)
			}
		}
		assignment := func(team string) caseflow.Assignment {
			return caseflow.Assignment{Team: team, Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
				SignDue: t0.Add(24 * time.Hour), ResolveDue: t0.Add(120 * time.Hour)}
		}
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
		step(returned.Add(50*time.Millisecond-time.Second), func(ctx context.Context, tx pgx.Tx) error {
			_, err := caseflow.Assign(ctx, tx, id, router, assignment("siming-urban"))
			return err
		})
		rows, err := e.pool.Query(e.ctx, `SELECT event_id FROM outbox WHERE subject LIKE 'case.%' AND payload->>'case_id' = $1 ORDER BY seq`, id)
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
		return evs
	}
	handle := func(evs ...event.CaseChanged) {
		t.Helper()
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
			return svc.HandleCaseChanges(ctx, tx, evs, make([]natsx.Meta, len(evs)))
		})
	}
	t0 := time.Now().Add(-time.Hour).UTC()
	r1 := story("R1", t0)
	handle(r1...)
	e.deliverAll(t, svc)
	r2 := story("R2", t0)
	last := len(r2) - 1
	handle(r2[:last]...)
	e.deliverAll(t, svc)
	handle(r2[last])
	e.deliverAll(t, svc)

	for _, ticket := range []string{"R1", "R2"} {
		rcv.mu.Lock()
		var got []string
		for _, b := range rcv.got[ticket] {
			team := ""
			if b.Team != nil {
				team = *b.Team
			}
			got = append(got, b.Status+" "+team+" "+b.At.Format("15:04:05.000"))
		}
		rcv.mu.Unlock()
		ret := t0.Add(20 * time.Minute)
		want := []string{
			"assigned siming-eco " + t0.Format("15:04:05.000"),
			"returned siming-eco " + ret.Format("15:04:05.000"),
			"assigned siming-urban " + ret.Add(50*time.Millisecond-time.Second).Format("15:04:05.000"),
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: the hotline heard %q, want %q", ticket, got, want)
		}
	}
}

// Callbacks stored before their transitions' audit ids were (seq 0,
// migration 00098) keep their order by time among themselves and go out
// ahead of the work order's callbacks stored since, whatever those are
// stamped.
func TestCallbacksStoredBeforeTheirSequenceKeepTheirOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	e.complaint(t, "P1")
	t0 := time.Now().Add(-time.Hour)
	e.storeEvent(t, svc, "case_p", "P1", "returned", 3, t0.Add(time.Minute))
	e.storeEvent(t, svc, "case_p", "P1", "assigned", 2, t0)
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET seq = 0 WHERE ticket_id = 'P1'`); err != nil {
		t.Fatal(err)
	}
	e.storeEvent(t, svc, "case_p", "P1", "resolved", 5, t0.Add(-time.Minute))
	pending, err := callbacks.Pending(e.ctx, e.pool, 10)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, d := range pending {
		listed = append(listed, d.Body.Status)
	}
	e.deliverAll(t, svc)
	want := "[assigned returned resolved]"
	if got := rcv.statuses("P1"); fmt.Sprint(got) != want {
		t.Errorf("the hotline heard %v, want %s", got, want)
	}
	if fmt.Sprint(listed) != want {
		t.Errorf("pending listed %v, want %s", listed, want)
	}
}

// A work order's resolution was delivered before migration 00098 (seq 0);
// the event of its assignment, earlier, comes late, after the upgrade,
// and is given its audit id. It is older than what the hotline has heard
// and is stored superseded, as it was before seq: sent, it would take the
// work order back from resolved to assigned.
func TestALateEventAfterTheUpgradeIsNotSentAfterOneDeliveredBefore(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	e.complaint(t, "U1")
	t0 := time.Now().Add(-time.Hour)
	assigned, resolved := caseEventOf("case_u", "U1", "assigned", 2, t0), caseEventOf("case_u", "U1", "resolved", 4, t0.Add(30*time.Minute))
	bear(t, e.ctx, e.pool, assigned, resolved)
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		return svc.HandleCaseChanged(ctx, tx, resolved, natsx.Meta{})
	})
	e.deliverAll(t, svc)
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET seq = 0 WHERE ticket_id = 'U1'`); err != nil {
		t.Fatal(err)
	}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		return svc.HandleCaseChanged(ctx, tx, assigned, natsx.Meta{})
	})
	e.deliverAll(t, svc)
	if got := rcv.statuses("U1"); fmt.Sprint(got) != "[resolved]" {
		t.Errorf("the hotline heard %v, want [resolved]", got)
	}
	var by string
	if err := e.pool.QueryRow(e.ctx, `SELECT COALESCE(superseded_by, '') FROM callbacks WHERE ticket_id = 'U1' AND status = 'assigned'`).Scan(&by); err != nil || by != callbacks.WebhookID("case_u.resolved.4", "U1") {
		t.Errorf("the late callback is superseded by %q (%v), want the resolved one", by, err)
	}
}
