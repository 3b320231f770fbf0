package reporter

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Two cases signed for on time in W11 by siming-eco and still open when
// W11 ended (overdue, signed for). In W12 one is returned (退单) and the
// other reassigned (改派) to another team: both clear the case's signing,
// the reassignment moves its sign deadline, and the team changes. W11's
// report generated again (a late work order of W11 makes it stale, or
// `nuisance report -week`) must still show W11 as it ended: 2 due for
// signing, 2 on time, both with siming-eco, both overdue and signed for.
func TestAReturnOrReassignDoesNotRewriteAnEndedWeek(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	w11 := func(d, h int) time.Time { return at(t, "2024-W11", d, h) }
	w12 := func(d, h int) time.Time { return at(t, "2024-W12", d, h) }
	router := caseflow.Service("router")
	officer := caseflow.Actor{ID: "officer:1", Team: "siming-eco", Role: caseflow.RoleOfficer}
	supervisor := caseflow.Actor{ID: "officer:2", District: "siming", Role: caseflow.RoleSupervisor}
	step := func(when time.Time, fn func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		ctx := caseflow.WithClock(ctx, func() time.Time { return when })
		if err := pgstore.InTx(ctx, pool, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"case_cmp-ret", "case_cmp-reas"}
	for i, id := range ids {
		cmp := id[len("case_"):]
		step(w11(0, 9), func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
				VALUES ($1, $2, $3, '广场舞音响太吵', '思明区湖滨南路')`, cmp, "T-"+cmp, w11(0, 9)); err != nil {
				return err
			}
			if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: cmp, Category: "noise",
				District: "siming", OpenedAt: w11(0, 9)}); err != nil {
				return err
			}
			_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite,
				Priority: routing.PriorityNormal, SignDue: w11(0, 17), ResolveDue: w11(4, 17), Reason: "test"})
			return err
		})
		step(w11(0, 10+i), func(ctx context.Context, tx pgx.Tx) error {
			_, err := caseflow.Accept(ctx, tx, id, officer)
			return err
		})
	}
	before, err := Generate(ctx, pool, "2024-W11", w12(0, 9))
	if err != nil {
		t.Fatal(err)
	}
	step(w12(1, 9), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Return(ctx, tx, ids[0], officer, "不属于本单位职责")
		return err
	})
	step(w12(1, 10), func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Reassign(ctx, tx, ids[1], supervisor, "siming-urban", "商业噪声归城管")
		return err
	})
	after, err := Generate(ctx, pool, "2024-W11", w12(2, 9))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*report.Report{"before": before, "after": after} {
		tl := r.Timeliness
		if tl.Sign.Due != 2 || tl.Sign.OnTime != 2 || tl.Resolve.Due != 2 || tl.Resolve.OnTime != 0 {
			t.Errorf("%s the return and reassignment in W12: W11 sign %d due %d on time, resolve %d due %d on time; want 2/2 and 2/0",
				name, tl.Sign.Due, tl.Sign.OnTime, tl.Resolve.Due, tl.Resolve.OnTime)
		}
		teams := map[string]int{}
		for _, tr := range tl.ByTeam {
			teams[tr.Team] += tr.Sign.Due
		}
		if teams["siming-eco"] != 2 || len(teams) != 1 {
			t.Errorf("%s: W11 sign deadlines by team %v; want both with siming-eco, the team that had them", name, teams)
		}
		if len(tl.Overdue) != 2 {
			t.Fatalf("%s: W11 overdue %+v; want both cases", name, tl.Overdue)
		}
		for _, c := range tl.Overdue {
			if c.Status != "accepted" || c.Team != "siming-eco" {
				t.Errorf("%s: overdue %s %s with %s; want accepted with siming-eco as W11 ended", name, c.CaseID, c.Status, c.Team)
			}
		}
	}
}
