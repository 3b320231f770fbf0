package caseflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// lifecycle is what the router does to one place: open and assign a case,
// merge a repeat complaint, and, after the team resolved it, reopen it
// with a third complaint. The two implementations below must leave the
// same rows and events.
type lifecycle struct {
	open   func(ctx context.Context, tx pgx.Tx, nc caseflow.NewCase, a caseflow.Assignment) error
	merge  func(ctx context.Context, tx pgx.Tx, caseID, complaintID, hotspot string, sign, resolve time.Time) error
	reopen func(ctx context.Context, tx pgx.Tx, caseID, complaintID string, sign, resolve time.Time) error
}

var at = time.Date(2024, 3, 5, 3, 0, 0, 0, time.UTC)

// oneByOne runs the transitions one statement at a time.
var oneByOne = lifecycle{
	open: func(ctx context.Context, tx pgx.Tx, nc caseflow.NewCase, a caseflow.Assignment) error {
		if _, _, err := caseflow.Open(ctx, tx, router, nc); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, nc.ID, router, a)
		return err
	},
	merge: func(ctx context.Context, tx pgx.Tx, caseID, complaintID, hotspot string, sign, resolve time.Time) error {
		_, _, err := caseflow.Merge(ctx, tx, caseID, router, complaintID, hotspot, routing.PriorityUrgent, sign, resolve)
		return err
	},
	reopen: func(ctx context.Context, tx pgx.Tx, caseID, complaintID string, sign, resolve time.Time) error {
		if _, err := caseflow.Reopen(ctx, tx, caseID, router, sign, resolve, "complaint "+complaintID+" at the same place"); err != nil {
			return err
		}
		_, _, err := caseflow.Merge(ctx, tx, caseID, router, complaintID, "", routing.PriorityNormal, sign, resolve)
		return err
	},
}

// locked reads and locks a case as the router's place query does, with
// its tickets, and names the complaint's ticket.
func locked(ctx context.Context, tx pgx.Tx, caseID, complaintID string) (caseflow.Case, []string, string, error) {
	c, err := caseflow.Scan(tx.QueryRow(ctx, `SELECT `+caseflow.Columns+` FROM cases c WHERE c.id = $1 FOR UPDATE`, caseID))
	if err != nil {
		return c, nil, "", err
	}
	tickets, err := caseflow.Tickets(ctx, tx, caseID)
	if err != nil {
		return c, nil, "", err
	}
	return c, tickets, strings.TrimPrefix(complaintID, "cmp_"), nil
}

// queued runs the same transitions through caseflow.Writes.
var queued = lifecycle{
	open: func(ctx context.Context, tx pgx.Tx, nc caseflow.NewCase, a caseflow.Assignment) error {
		var w caseflow.Writes
		if _, err := w.OpenAssigned(router, nc, a, []string{strings.TrimPrefix(nc.ComplaintID, "cmp_")}, at); err != nil {
			return err
		}
		return w.Send(ctx, tx)
	},
	merge: func(ctx context.Context, tx pgx.Tx, caseID, complaintID, hotspot string, sign, resolve time.Time) error {
		c, _, ticket, err := locked(ctx, tx, caseID, complaintID)
		if err != nil {
			return err
		}
		var w caseflow.Writes
		if _, err := w.Merge(c, router, complaintID, hotspot, ticket, routing.PriorityUrgent, sign, resolve, at); err != nil {
			return err
		}
		return w.Send(ctx, tx)
	},
	reopen: func(ctx context.Context, tx pgx.Tx, caseID, complaintID string, sign, resolve time.Time) error {
		c, tickets, ticket, err := locked(ctx, tx, caseID, complaintID)
		if err != nil {
			return err
		}
		var w caseflow.Writes
		n, err := w.Reopen(c, router, sign, resolve, "complaint "+complaintID+" at the same place", tickets, at)
		if err != nil {
			return err
		}
		if _, err := w.Merge(n, router, complaintID, "", ticket, routing.PriorityNormal, sign, resolve, at); err != nil {
			return err
		}
		return w.Send(ctx, tx)
	},
}

// play runs a lifecycle in a database of its own and dumps what it left.
func play(t *testing.T, l lifecycle) string {
	t.Helper()
	ctx, pool := setup(t)
	ctx = caseflow.WithClock(ctx, func() time.Time { return at })
	first, second, third := complaint(t, ctx, pool, "T1"), complaint(t, ctx, pool, "T3"), complaint(t, ctx, pool, "T2")
	lon, lat := 118.0894, 24.4798
	nc := caseflow.NewCase{ID: caseflow.IDFor(first), ComplaintID: first, Category: "noise", Subcategory: "construction",
		District: "siming", Subdistrict: "鹭江街道", Place: "某工地", PlaceKey: "某工地", Lon: &lon, Lat: &lat,
		OpenedAt: time.Date(2024, 3, 5, 2, 0, 0, 0, time.UTC)}
	a := caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeNonSite, Priority: routing.PriorityHigh, QuietCommunity: "qc",
		PositiveList: "pl", SignDue: time.Date(2024, 3, 6, 16, 0, 0, 0, time.UTC), ResolveDue: time.Date(2024, 3, 12, 16, 0, 0, 0, time.UTC),
		Reason: "rule noise.construction"}
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	steps := []func(tx pgx.Tx) error{
		func(tx pgx.Tx) error { return l.open(ctx, tx, nc, a) },
		// An urgent complaint, due sooner than the case.
		func(tx pgx.Tx) error {
			return l.merge(ctx, tx, nc.ID, second, "hs_1", time.Date(2024, 3, 5, 5, 0, 0, 0, time.UTC), time.Date(2024, 3, 6, 3, 0, 0, 0, time.UTC))
		},
		func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, nc.ID, officer); return err },
		func(tx pgx.Tx) error {
			_, err := caseflow.Resolve(ctx, tx, nc.ID, officer, caseflow.OutcomeRectified, "stopped")
			return err
		},
		func(tx pgx.Tx) error {
			return l.reopen(ctx, tx, nc.ID, third, time.Date(2024, 3, 7, 16, 0, 0, 0, time.UTC), time.Date(2024, 3, 13, 16, 0, 0, 0, time.UTC))
		},
	}
	for i, step := range steps {
		if err := tx(t, ctx, pool, step); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return dump(t, ctx, pool)
}

// dump lists every row the transitions write, without serial ids.
func dump(t *testing.T, ctx context.Context, pool *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT to_jsonb(c) - 'id' FROM cases c ORDER BY id`,
		`SELECT to_jsonb(cc) FROM case_complaints cc ORDER BY complaint_id`,
		`SELECT to_jsonb(a) - 'id' FROM assignments a ORDER BY id`,
		`SELECT to_jsonb(a) - 'id' FROM case_audit a ORDER BY id`,
		`SELECT to_jsonb(x) FROM case_timers x ORDER BY case_id, kind, due_at`,
		`SELECT jsonb_build_object('event_id', event_id, 'subject', subject, 'payload', payload) FROM outbox ORDER BY seq`,
	} {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s\n", strings.Join(lines, "\n"))
	}
	return b.String()
}

func TestWritesLeaveWhatTheTransitionsLeave(t *testing.T) {
	t.Parallel()
	want := play(t, oneByOne)
	got := play(t, queued)
	if got != want {
		t.Errorf("queued writes left\n%s\nthe transitions one by one left\n%s", got, want)
	}
	for _, s := range []string{`"action": "reopen"`, `"case.assigned.siming-eco"`, `"case.merged"`, `"tickets": ["T1", "T3"]`, `"tickets": ["T2"]`, `"reopened": 1`,
		`"priority": "urgent"`, `complaint cmp_T3; priority raised to urgent; deadline brought forward: sign-for by 2024-03-05T05:00:00Z, resolve by 2024-03-06T03:00:00Z`,
		`"due_at": "2024-03-06T03:00:00Z", "status": "assigned", "case_id": "case_cmp_T1", "tickets": ["T3"]`, `"deadline_sooner": true`} {
		if !strings.Contains(want, s) {
			t.Errorf("the lifecycle left no %s:\n%s", s, want)
		}
	}
}

func TestWritesRefuseACaseThatMoved(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	second := complaint(t, ctx, pool, "T2")
	stale := c
	stale.Version-- // read before the assignment: the router must not write over it
	for _, tc := range []struct {
		name  string
		queue func(w *caseflow.Writes) error
	}{
		{"merge into a stale read", func(w *caseflow.Writes) error {
			_, err := w.Merge(stale, router, second, "", "T2", "", time.Time{}, time.Time{}, at)
			return err
		}},
		{"reopen a case that is not resolved", func(w *caseflow.Writes) error {
			c := stale
			c.Status = caseflow.StatusResolved // as if read while resolved, before it moved on
			_, err := w.Reopen(c, router, at, at, "again", []string{"T1"}, at)
			return err
		}},
		{"open a case that exists", func(w *caseflow.Writes) error {
			_, err := w.OpenAssigned(router, caseflow.NewCase{ID: c.ID, ComplaintID: second, Category: "noise", District: "siming", OpenedAt: at},
				caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal}, []string{"T2"}, at)
			return err
		}},
	} {
		err := tx(t, ctx, pool, func(tx pgx.Tx) error {
			var w caseflow.Writes
			if err := tc.queue(&w); err != nil {
				return err
			}
			return w.Send(ctx, tx)
		})
		if fault.KindOf(err) != fault.Conflict {
			t.Errorf("%s: %v, want a conflict", tc.name, err)
		}
	}
	if n := len(events(t, ctx, pool, c.ID)); n != 2 {
		t.Errorf("%d events of case %s, want its opened and assigned only", n, c.ID)
	}
}

// The transitions of several cases, some of one case in a row, go out as
// one statement per table, and leave each case at its last state with an
// audit row and an event per transition.
func TestWritesOfManyCasesGoOutAsOneStatementPerTable(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	old := assigned(t, ctx, pool, "T0", "siming-eco")
	ids := map[string]string{}
	for _, ticket := range []string{"T1", "T2", "T3", "T4", "T5"} {
		ids[ticket] = complaint(t, ctx, pool, ticket)
	}
	a := caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
		SignDue: time.Date(2024, 3, 6, 16, 0, 0, 0, time.UTC), ResolveDue: time.Date(2024, 3, 12, 16, 0, 0, 0, time.UTC), Reason: "rule noise.construction"}
	newCase := func(complaintID string) caseflow.NewCase {
		return caseflow.NewCase{ID: caseflow.IDFor(complaintID), ComplaintID: complaintID, Category: "noise", District: "siming", OpenedAt: at}
	}
	var w caseflow.Writes
	err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		first, err := w.OpenAssigned(router, newCase(ids["T1"]), a, []string{"T1"}, at)
		if err != nil {
			return err
		}
		first, err = w.Merge(first, router, ids["T2"], "hs_1", "T2", "", time.Time{}, time.Time{}, at)
		if err != nil {
			return err
		}
		if _, err := w.OpenAssigned(router, newCase(ids["T3"]), a, []string{"T3"}, at); err != nil {
			return err
		}
		merged, err := w.Merge(old, router, ids["T4"], "", "T4", "", time.Time{}, time.Time{}, at)
		if err != nil {
			return err
		}
		if _, err := w.Merge(old, router, ids["T5"], "", "T5", "", time.Time{}, time.Time{}, at); fault.KindOf(err) != fault.Conflict {
			t.Errorf("merge into a stale copy of a queued case: %v, want a conflict", err)
		}
		if _, err := w.Merge(merged, router, ids["T5"], "", "T5", "", time.Time{}, time.Time{}, at); err != nil {
			return err
		}
		// cases inserted, cases updated, members, assignments, timers, audit, outbox
		if n := w.Len(); n != 7 {
			t.Errorf("%d statements for 3 cases, want 7", n)
		}
		return w.Send(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := caseflow.Get(ctx, pool, caseflow.IDFor(ids["T1"]))
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 3 || first.HotspotID != "hs_1" || first.Status != caseflow.StatusAssigned {
		t.Errorf("first case at version %d, hotspot %q, %s; want 3, hs_1, assigned", first.Version, first.HotspotID, first.Status)
	}
	got, err := caseflow.Get(ctx, pool, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != old.Version+2 {
		t.Errorf("case merged twice at version %d, want %d", got.Version, old.Version+2)
	}
	audit, err := caseflow.Audit(ctx, pool, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
	}
	if fmt.Sprint(actions) != "[open assign merge]" {
		t.Errorf("audit of the first case %v, want [open assign merge]", actions)
	}
	evs := events(t, ctx, pool, old.ID)
	if len(evs) != 4 || fmt.Sprint(evs[2].Ev.Tickets) != "[T4]" || fmt.Sprint(evs[3].Ev.Tickets) != "[T5]" {
		t.Errorf("events of the old case %+v, want opened, assigned and two merges, of T4 and of T5", evs)
	}
	for _, q := range []struct {
		sql  string
		want int
	}{
		{`SELECT count(*) FROM cases`, 3},
		{`SELECT count(*) FROM assignments WHERE status = 'active'`, 3},
		{`SELECT count(*) FROM case_complaints`, 6},
		{`SELECT count(*) FROM case_audit`, 2 + 3 + 2 + 2},
		{`SELECT count(*) FROM case_timers WHERE fired_at IS NULL`, 6},
	} {
		var n int
		if err := pool.QueryRow(ctx, q.sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != q.want {
			t.Errorf("%s: %d, want %d", q.sql, n, q.want)
		}
	}
}

// A complaint due sooner joining a case its team has signed for brings
// only the resolve deadline forward: the sign-for deadline is met, and no
// timer of it comes back.
func TestMergeIntoASignedCaseBringsOnlyTheResolveDeadlineForward(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	ctx = caseflow.WithClock(ctx, func() time.Time { return at })
	c := assigned(t, ctx, pool, "S1", "siming-eco")
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, c.ID, officer); return err }); err != nil {
		t.Fatal(err)
	}
	second := complaint(t, ctx, pool, "S2")
	sign, resolve := time.Date(2024, 3, 5, 5, 0, 0, 0, time.UTC), time.Date(2024, 3, 6, 3, 0, 0, 0, time.UTC)
	var merged caseflow.Case
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		merged, _, err = caseflow.Merge(ctx, tx, c.ID, router, second, "", routing.PriorityUrgent, sign, resolve)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if merged.SignDue == nil || !merged.SignDue.Equal(*c.SignDue) || merged.ResolveDue == nil || !merged.ResolveDue.Equal(resolve) {
		t.Errorf("signed case due %v / %v after the merge, want the sign-for deadline kept (%v) and resolve by %v", merged.SignDue, merged.ResolveDue, c.SignDue, resolve)
	}
	var signTimers, resolveTimers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'sign' AND fired_at IS NULL), count(*) FILTER (WHERE kind = 'resolve' AND due_at = $2)
		FROM case_timers WHERE case_id = $1`, c.ID, resolve).Scan(&signTimers, &resolveTimers); err != nil {
		t.Fatal(err)
	}
	if signTimers != 0 || resolveTimers != 1 {
		t.Errorf("%d pending sign-for timers and %d at the new resolve deadline, want 0 and 1", signTimers, resolveTimers)
	}
}
