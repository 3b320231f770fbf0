package reporter

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A case due in W11 and still unresolved when W11 ended is overdue in
// W11's report, and late. The team resolves it in W12, the nuisance
// comes back and the router reopens it (重新交办) with new deadlines: the
// report of W11, generated again (by `nuisance report`, on a late
// complaint of the week, or for a week older than the catch-up), must
// still show the week as it ended, as TestOverdueCasesAsTheWeekEnded
// demands for signing and escalation.
func TestAReopenDoesNotRewriteAnEndedWeek(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	w10 := func(d, h int) time.Time { return at(t, "2024-W10", d, h) }
	w11 := func(d, h int) time.Time { return at(t, "2024-W11", d, h) }
	w12 := func(d, h int) time.Time { return at(t, "2024-W12", d, h) }
	w13 := func(d, h int) time.Time { return at(t, "2024-W13", d, h) }
	const id = "case_cmp-reopen"
	router := caseflow.Service("router")
	officer := caseflow.Actor{ID: "officer:1", Team: "siming-eco", Role: caseflow.RoleOfficer}
	step := func(when time.Time, fn func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		ctx := caseflow.WithClock(ctx, func() time.Time { return when })
		if err := pgstore.InTx(ctx, pool, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	step(w10(1, 9), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
			VALUES ('cmp-reopen', 'T-reopen', $1, '工地夜间施工', '思明区湖滨南路')`, w10(1, 9)); err != nil {
			return err
		}
		if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: "cmp-reopen", Category: "noise",
			District: "siming", OpenedAt: w10(1, 9)}); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite,
			Priority: routing.PriorityNormal, SignDue: w10(1, 17), ResolveDue: w11(2, 17), Reason: "test"})
		return err
	})
	step(w10(1, 10), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Accept(ctx, tx, id, officer)
		return err
	})
	step(w12(0, 10), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Resolve(ctx, tx, id, officer, caseflow.OutcomeRectified, "")
		return err
	})
	step(w12(1, 9), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Reopen(ctx, tx, id, router, w12(2, 9), w13(1, 17), "complaint at the place again")
		return err
	})

	r, err := Generate(ctx, pool, "2024-W11", w12(3, 9))
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Timeliness.Resolve; res.Due != 1 || res.OnTime != 0 {
		t.Errorf("W11 resolve timeliness %d due, %d on time; want the case due on %s and late", res.Due, res.OnTime, w11(2, 17))
	}
	if len(r.Timeliness.Overdue) != 1 || r.Timeliness.OverdueTotal != 1 {
		t.Fatalf("W11 overdue %+v; want %s, unresolved at the end of W11", r.Timeliness.Overdue, id)
	}
	if c := r.Timeliness.Overdue[0]; c.CaseID != id || !c.ResolveDue.Equal(w11(2, 17)) || c.Status != "accepted" {
		t.Errorf("overdue %+v; want %s due %s, accepted", c, id, w11(2, 17))
	}
}

// A reopen sets a new sign deadline as well as a new resolve deadline
// (and clears the signing). A case signed for on time in W11, resolved in
// W11 and reopened in W12 must still count, in W11's report generated
// again, as due for signing in W11 and signed on time: the reopen must not
// take it out of the week's sign rate.
func TestAReopenKeepsTheEndedWeeksSignDeadline(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	w11 := func(d, h int) time.Time { return at(t, "2024-W11", d, h) }
	w12 := func(d, h int) time.Time { return at(t, "2024-W12", d, h) }
	w13 := func(d, h int) time.Time { return at(t, "2024-W13", d, h) }
	const id = "case_cmp-reopen-sign"
	router := caseflow.Service("router")
	officer := caseflow.Actor{ID: "officer:1", Team: "siming-eco", Role: caseflow.RoleOfficer}
	step := func(when time.Time, fn func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		ctx := caseflow.WithClock(ctx, func() time.Time { return when })
		if err := pgstore.InTx(ctx, pool, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	step(w11(0, 9), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
			VALUES ('cmp-reopen-sign', 'T-reopen-sign', $1, '工地夜间施工', '思明区湖滨南路')`, w11(0, 9)); err != nil {
			return err
		}
		if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: "cmp-reopen-sign", Category: "noise",
			District: "siming", OpenedAt: w11(0, 9)}); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite,
			Priority: routing.PriorityNormal, SignDue: w11(0, 17), ResolveDue: w11(4, 17), Reason: "test"})
		return err
	})
	step(w11(0, 10), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Accept(ctx, tx, id, officer)
		return err
	})
	step(w11(2, 10), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Resolve(ctx, tx, id, officer, caseflow.OutcomeRectified, "")
		return err
	})
	before, err := Generate(ctx, pool, "2024-W11", w12(0, 9))
	if err != nil {
		t.Fatal(err)
	}
	step(w12(1, 9), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Reopen(ctx, tx, id, router, w12(2, 9), w13(1, 17), "complaint at the place again")
		return err
	})
	after, err := Generate(ctx, pool, "2024-W11", w12(3, 9))
	if err != nil {
		t.Fatal(err)
	}
	if s := before.Timeliness.Sign; s.Due != 1 || s.OnTime != 1 {
		t.Fatalf("W11 sign timeliness before the reopen %d due, %d on time; want 1 and 1", s.Due, s.OnTime)
	}
	if s := after.Timeliness.Sign; s.Due != 1 || s.OnTime != 1 {
		t.Errorf("W11 sign timeliness after a reopen in W12: %d due, %d on time; want 1 and 1 as when the week ended", s.Due, s.OnTime)
	}
	if r := after.Timeliness.Resolve; r.Due != 1 || r.OnTime != 1 {
		t.Errorf("W11 resolve timeliness after a reopen in W12: %d due, %d on time; want 1 and 1", r.Due, r.OnTime)
	}
}
