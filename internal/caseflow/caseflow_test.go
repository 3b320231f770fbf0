package caseflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

var router = caseflow.Service("router")

func setup(t *testing.T) (context.Context, *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx, testenv.DB(t)
}

// complaint stores a bare work order and returns its id.
func complaint(t *testing.T, ctx context.Context, pool *pgxpool.Pool, ticket string) string {
	t.Helper()
	id := "cmp_" + ticket
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ($1, $2, $3, 'noise at night')`,
		id, ticket, time.Date(2024, 3, 5, 2, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return id
}

func tx(t *testing.T, ctx context.Context, pool *pgxpool.Pool, f func(tx pgx.Tx) error) error {
	t.Helper()
	return pgx.BeginFunc(ctx, pool, f)
}

// assigned opens a case for ticket in siming and assigns it to team.
func assigned(t *testing.T, ctx context.Context, pool *pgxpool.Pool, ticket, team string) caseflow.Case {
	t.Helper()
	cid := complaint(t, ctx, pool, ticket)
	var c caseflow.Case
	err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		c, _, err = caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: caseflow.IDFor(cid), ComplaintID: cid, Category: "noise",
			Subcategory: "construction", District: "siming", OpenedAt: time.Date(2024, 3, 5, 2, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		c, err = caseflow.Assign(ctx, tx, c.ID, router, caseflow.Assignment{Team: team, Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
			SignDue: time.Date(2024, 3, 6, 16, 0, 0, 0, time.UTC), ResolveDue: time.Date(2024, 3, 12, 16, 0, 0, 0, time.UTC), Reason: "rule noise.construction"})
		return err
	})
	if err != nil {
		t.Fatalf("open and assign: %v", err)
	}
	return c
}

// escalateDue fires, as the router does, the deadline timers due at now.
func escalateDue(t *testing.T, ctx context.Context, pool *pgxpool.Pool, now time.Time) []caseflow.Escalation {
	t.Helper()
	var got []caseflow.Escalation
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = caseflow.EscalateDue(ctx, tx, router, now, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

type outboxEvent struct {
	Subject string
	Ev      event.CaseChanged
}

func events(t *testing.T, ctx context.Context, pool *pgxpool.Pool, caseID string) []outboxEvent {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT subject, payload FROM outbox WHERE payload->>'case_id' = $1 ORDER BY seq`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var b []byte
		if err := rows.Scan(&e.Subject, &b); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &e.Ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestLifecycleAuditsAndAnnouncesEveryTransition(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	second := complaint(t, ctx, pool, "T2")
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	steps := []struct {
		name string
		do   func(tx pgx.Tx) (caseflow.Case, error)
		want string
	}{
		{"merge", func(tx pgx.Tx) (caseflow.Case, error) {
			c, _, err := caseflow.Merge(ctx, tx, c.ID, router, second, "hs_1", "", time.Time{}, time.Time{})
			return c, err
		}, caseflow.StatusAssigned},
		{"accept", func(tx pgx.Tx) (caseflow.Case, error) { return caseflow.Accept(ctx, tx, c.ID, officer) }, caseflow.StatusAccepted},
		{"resolve", func(tx pgx.Tx) (caseflow.Case, error) {
			return caseflow.Resolve(ctx, tx, c.ID, officer, caseflow.OutcomeRectified, "night work stopped")
		}, caseflow.StatusResolved},
		{"close", func(tx pgx.Tx) (caseflow.Case, error) { return caseflow.Close(ctx, tx, c.ID, officer, "closed out") }, caseflow.StatusClosed},
	}
	for _, s := range steps {
		var got caseflow.Case
		if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
			var err error
			got, err = s.do(tx)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got.Status != s.want {
			t.Fatalf("%s: status %s, want %s", s.name, got.Status, s.want)
		}
	}
	final, err := caseflow.Get(ctx, pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.HotspotID != "hs_1" || final.Outcome != caseflow.OutcomeRectified || final.ClosedAt == nil || final.AcceptedAt == nil {
		t.Errorf("final case %+v: want hotspot adopted, outcome, accepted and closed times", final)
	}

	audit, err := caseflow.Audit(ctx, pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantAudit := [][3]string{{"", "open", "open"}, {"open", "assigned", "assign"}, {"assigned", "assigned", "merge"},
		{"assigned", "accepted", "accept"}, {"accepted", "resolved", "resolve"}, {"resolved", "closed", "close"}}
	if len(audit) != len(wantAudit) {
		t.Fatalf("audit has %d rows, want %d: %+v", len(audit), len(wantAudit), audit)
	}
	for i, w := range wantAudit {
		if a := audit[i]; a.From != w[0] || a.To != w[1] || a.Action != w[2] {
			t.Errorf("audit %d: %s -> %s (%s), want %s -> %s (%s)", i, a.From, a.To, a.Action, w[0], w[1], w[2])
		}
	}
	if audit[3].Actor != "officer:o1" || audit[0].Actor != "service:router" {
		t.Errorf("actors %q, %q; want officer:o1 and service:router", audit[3].Actor, audit[0].Actor)
	}

	evs := events(t, ctx, pool, c.ID)
	wantSubjects := []string{"case.opened", "case.assigned.siming-eco", "case.merged", "case.accepted", "case.resolved", "case.closed"}
	if len(evs) != len(wantSubjects) {
		t.Fatalf("%d events, want %d", len(evs), len(wantSubjects))
	}
	seen := map[string]bool{}
	for i, e := range evs {
		if e.Subject != wantSubjects[i] {
			t.Errorf("event %d on %s, want %s", i, e.Subject, wantSubjects[i])
		}
		if seen[e.Ev.EventID] {
			t.Errorf("event id %s used twice", e.Ev.EventID)
		}
		seen[e.Ev.EventID] = true
	}
	if res := evs[4].Ev; len(res.Tickets) != 2 || res.Tickets[0] != "T1" || res.Tickets[1] != "T2" || res.Team != "siming-eco" {
		t.Errorf("resolved event tickets %v team %q, want [T1 T2] of siming-eco", res.Tickets, res.Team)
	}
}

func TestTransitionsRefuseWhatTheActorMayNotDo(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	other := caseflow.Actor{ID: "officer:o2", Team: "siming-urban", District: "siming", Role: caseflow.RoleOfficer}
	own := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	elsewhere := caseflow.Actor{ID: "officer:s2", District: "huli", Role: caseflow.RoleSupervisor}
	tests := []struct {
		name string
		do   func(tx pgx.Tx) error
		want fault.Kind
	}{
		{"another team accepts", func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, c.ID, other); return err }, fault.NotFound},
		{"unknown case", func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, "case_nope", own); return err }, fault.NotFound},
		{"resolve before accept", func(tx pgx.Tx) error {
			_, err := caseflow.Resolve(ctx, tx, c.ID, own, caseflow.OutcomeRectified, "")
			return err
		}, fault.Conflict},
		{"unknown outcome", func(tx pgx.Tx) error { _, err := caseflow.Resolve(ctx, tx, c.ID, own, "fixed", ""); return err }, fault.Invalid},
		{"close before resolve", func(tx pgx.Tx) error { _, err := caseflow.Close(ctx, tx, c.ID, own, ""); return err }, fault.Conflict},
		{"return without reason", func(tx pgx.Tx) error { _, err := caseflow.Return(ctx, tx, c.ID, own, " "); return err }, fault.Invalid},
		{"officer reassigns", func(tx pgx.Tx) error {
			_, err := caseflow.Reassign(ctx, tx, c.ID, own, "siming-urban", "wrong team")
			return err
		}, fault.Forbidden},
		{"supervisor of another district reassigns", func(tx pgx.Tx) error {
			_, err := caseflow.Reassign(ctx, tx, c.ID, elsewhere, "siming-urban", "wrong team")
			return err
		}, fault.NotFound},
		{"reassign to another district's team", func(tx pgx.Tx) error {
			_, err := caseflow.Reassign(ctx, tx, c.ID, caseflow.Actor{ID: "officer:a", Role: caseflow.RoleAdmin}, "huli-urban", "wrong team")
			return err
		}, fault.Invalid},
		{"assign twice", func(tx pgx.Tx) error {
			_, err := caseflow.Assign(ctx, tx, c.ID, router, caseflow.Assignment{Team: "siming-urban", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal})
			return err
		}, fault.Conflict},
		{"no role", func(tx pgx.Tx) error {
			_, err := caseflow.Accept(ctx, tx, c.ID, caseflow.Actor{ID: "officer:x"})
			return err
		}, fault.Forbidden},
	}
	for _, tt := range tests {
		err := tx(t, ctx, pool, tt.do)
		if err == nil || fault.KindOf(err) != tt.want {
			t.Errorf("%s: error %v (%s), want %s", tt.name, err, fault.KindOf(err), tt.want)
		}
	}
	got, err := caseflow.Get(ctx, pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != caseflow.StatusAssigned || got.Team != "siming-eco" || got.Version != c.Version {
		t.Errorf("case changed by refused transitions: %+v", got)
	}
	if _, err := caseflow.GetFor(ctx, pool, c.ID, other); fault.KindOf(err) != fault.NotFound {
		t.Errorf("GetFor another team: %v, want not found", err)
	}
	if _, err := caseflow.GetFor(ctx, pool, c.ID, own); err != nil {
		t.Errorf("GetFor own team: %v", err)
	}
}

func TestReturnNeverGoesBackToTheSameTeam(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	own := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		_, err := caseflow.Return(ctx, tx, c.ID, own, "night work permit is 住建's")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	teams, err := caseflow.ReturnedTeams(ctx, pool, c.ID)
	if err != nil || len(teams) != 1 || teams[0] != "siming-eco" {
		t.Fatalf("returned teams %v, %v; want [siming-eco]", teams, err)
	}
	again := caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal}
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error { _, err := caseflow.Assign(ctx, tx, c.ID, router, again); return err }); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("assign to the returning team: %v, want conflict", err)
	}
	sup := caseflow.Actor{ID: "officer:s1", District: "siming", Role: caseflow.RoleSupervisor}
	var got caseflow.Case
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = caseflow.Reassign(ctx, tx, c.ID, sup, "siming-housing", "site management")
		return err
	}); err != nil {
		t.Fatalf("reassign: %v", err)
	}
	// The new team gets fresh deadlines, counted from the reassignment
	// as the router counts a team's.
	r, err := routing.Load()
	if err != nil {
		t.Fatal(err)
	}
	sign, resolve, err := r.Deadlines(routing.PriorityNormal, got.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != caseflow.StatusAssigned || got.Team != "siming-housing" || got.ResolveDue == nil || !got.ResolveDue.Equal(resolve) ||
		got.SignDue == nil || !got.SignDue.Equal(sign) {
		t.Errorf("reassigned case %+v: want assigned to siming-housing with deadlines %s, %s", got, sign, resolve)
	}
	var active int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID).Scan(&active); err != nil || active != 1 {
		t.Errorf("%d active assignments (%v), want 1", active, err)
	}
	// The reassignment's event names the team the case came from, so its
	// officers hear that the case left them.
	evs := events(t, ctx, pool, c.ID)
	last := evs[len(evs)-1].Ev
	if last.Kind != caseflow.KindAssigned || last.Team != "siming-housing" || last.PreviousTeam == "" || last.PreviousTeam == "siming-housing" {
		t.Errorf("last event %+v, want the assignment to siming-housing naming the team before it", last)
	}
}

// Fifty deliveries race to assign the same case; the database lets one win.
func TestConcurrentAssignLeavesOneActiveAssignment(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	cid := complaint(t, ctx, pool, "T1")
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		_, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: "case_race", ComplaintID: cid, Category: "noise", District: "siming", OpenedAt: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	teams := []string{"siming-eco", "siming-urban", "siming-housing", "siming-police", "siming-traffic"}
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tx(t, ctx, pool, func(tx pgx.Tx) error {
				_, err := caseflow.Assign(ctx, tx, "case_race", router, caseflow.Assignment{Team: teams[i%len(teams)], Mode: routing.ModeOnSite, Priority: routing.PriorityNormal})
				return err
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case fault.KindOf(err) != fault.Conflict:
			t.Errorf("loser's error %v, want conflict", err)
		}
	}
	var active, assignedEvents int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM assignments WHERE case_id = 'case_race' AND status = 'active'`).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE subject LIKE 'case.assigned.%'`).Scan(&assignedEvents); err != nil {
		t.Fatal(err)
	}
	if won != 1 || active != 1 || assignedEvents != 1 {
		t.Errorf("%d winners, %d active assignments, %d assigned events; want 1 each", won, active, assignedEvents)
	}
}

func TestEscalateDueFiresEachDeadlineOnce(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	late := assigned(t, ctx, pool, "T1", "siming-eco")
	signed := assigned(t, ctx, pool, "T2", "siming-eco")
	own := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, signed.ID, own); return err }); err != nil {
		t.Fatal(err)
	}
	fire := func(now time.Time) []caseflow.Escalation { t.Helper(); return escalateDue(t, ctx, pool, now) }
	// After the sign-for deadline only the unsigned case escalates.
	afterSign := late.SignDue.Add(time.Minute)
	first := fire(afterSign)
	if len(first) != 1 || first[0].CaseID != late.ID || first[0].Kind != caseflow.TimerSign || !first[0].Escalated {
		t.Fatalf("first firing %+v, want the sign-for deadline of %s", first, late.ID)
	}
	if again := fire(afterSign); len(again) != 0 {
		t.Errorf("second firing at the same time %+v, want nothing", again)
	}
	// After the resolve deadline both cases are overdue.
	second := fire(late.ResolveDue.Add(time.Minute))
	if len(second) != 2 {
		t.Fatalf("resolve firing %+v, want both cases", second)
	}
	for id, want := range map[string]int{late.ID: 2, signed.ID: 1} {
		n := 0
		for _, e := range events(t, ctx, pool, id) {
			if e.Subject == "case.escalated" {
				n++
				if len(e.Ev.Tickets) > 0 {
					t.Errorf("case %s: escalation %s names work orders %v, want none (the hotline is not told)", id, e.Ev.EventID, e.Ev.Tickets)
				}
			}
		}
		if n != want {
			t.Errorf("case %s: %d escalations, want %d", id, n, want)
		}
		c, err := caseflow.Get(ctx, pool, id)
		if err != nil || !c.Escalated {
			t.Errorf("case %s escalated=%v (%v), want true", id, c.Escalated, err)
		}
	}
}

func TestOpenAndMergeAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	a := complaint(t, ctx, pool, "T1")
	b := complaint(t, ctx, pool, "T2")
	nc := caseflow.NewCase{ID: caseflow.IDFor(a), ComplaintID: a, Category: "dust", District: "jimei", OpenedAt: time.Now()}
	for i := range 2 {
		for _, step := range []func(tx pgx.Tx) (bool, error){
			func(tx pgx.Tx) (bool, error) { _, ok, err := caseflow.Open(ctx, tx, router, nc); return ok, err },
			func(tx pgx.Tx) (bool, error) {
				_, ok, err := caseflow.Merge(ctx, tx, nc.ID, router, b, "", "", time.Time{}, time.Time{})
				return ok, err
			},
		} {
			var changed bool
			if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
				var err error
				changed, err = step(tx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if changed != (i == 0) {
				t.Errorf("round %d: changed=%v", i, changed)
			}
		}
	}
	tickets, err := caseflow.Tickets(ctx, pool, nc.ID)
	if err != nil || fmt.Sprint(tickets) != "[T1 T2]" {
		t.Errorf("tickets %v (%v), want [T1 T2]", tickets, err)
	}
	if n := len(events(t, ctx, pool, nc.ID)); n != 2 {
		t.Errorf("%d events, want opened and merged once each", n)
	}
}

// Both deadlines of a case passing before one firing escalate it twice,
// in the order of the deadlines, each with its audit row and event; the
// cases of one firing are escalated together.
func TestEscalateDueFiresBothDeadlinesOfACaseAtOnce(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	var cases []caseflow.Case
	for i := range 3 {
		cases = append(cases, assigned(t, ctx, pool, fmt.Sprintf("T%d", i), "siming-eco"))
	}
	var got []caseflow.Escalation
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = caseflow.EscalateDue(ctx, tx, router, cases[0].ResolveDue.Add(time.Minute), 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d escalations, want a sign-for and a resolve deadline for each of 3 cases: %+v", len(got), got)
	}
	for _, c := range cases {
		n, err := caseflow.Get(ctx, pool, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !n.Escalated || n.Version != c.Version+2 {
			t.Errorf("case %s escalated=%v at version %d, want escalated at %d", c.ID, n.Escalated, n.Version, c.Version+2)
		}
		audit, err := caseflow.Audit(ctx, pool, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := audit[len(audit)-2:]
		if last[0].Action != "escalate" || last[1].Action != "escalate" || !strings.HasPrefix(last[0].Reason, "sign-for") || !strings.HasPrefix(last[1].Reason, "resolve") {
			t.Errorf("case %s: last audit rows %+v, want the sign-for then the resolve escalation", c.ID, last)
		}
		// Each names the deadline that passed, and when.
		if last[0].Deadline != caseflow.TimerSign || last[0].DueBefore == nil || !last[0].DueBefore.Equal(*c.SignDue) ||
			last[1].Deadline != caseflow.TimerResolve || last[1].DueBefore == nil || !last[1].DueBefore.Equal(*c.ResolveDue) ||
			last[0].DueAfter != nil || last[1].DueAfter != nil {
			t.Errorf("case %s: escalations' deadlines %s %v and %s %v, want sign %s and resolve %s", c.ID,
				last[0].Deadline, last[0].DueBefore, last[1].Deadline, last[1].DueBefore, c.SignDue, c.ResolveDue)
		}
		var escalated []string
		for _, e := range events(t, ctx, pool, c.ID) {
			if e.Subject == "case.escalated" {
				escalated = append(escalated, e.Ev.EventID)
			}
		}
		if len(escalated) != 2 || escalated[0] == escalated[1] {
			t.Errorf("case %s: escalated events %v, want two", c.ID, escalated)
		}
	}
}

func TestExtendMovesTheResolveDeadlineAndItsEscalation(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	now := time.Date(2024, 3, 10, 2, 0, 0, 0, time.UTC)
	ctx = caseflow.WithClock(ctx, func() time.Time { return now })
	sup := caseflow.Actor{ID: "officer:s1", District: "siming", Role: caseflow.RoleSupervisor}
	own := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	elsewhere := caseflow.Actor{ID: "officer:s2", District: "huli", Role: caseflow.RoleSupervisor}
	old := *c.ResolveDue
	week := old.Add(7 * 24 * time.Hour)
	for _, tt := range []struct {
		name   string
		by     caseflow.Actor
		due    time.Time
		reason string
		want   fault.Kind
	}{
		{"an officer", own, week, "施工分阶段整改", fault.Forbidden},
		{"a supervisor of another district", elsewhere, week, "施工分阶段整改", fault.NotFound},
		{"no reason", sup, week, " ", fault.Invalid},
		{"an earlier deadline", sup, old.Add(-time.Hour), "施工分阶段整改", fault.Invalid},
		{"the same deadline", sup, old, "施工分阶段整改", fault.Invalid},
		{"more than 30 days", sup, old.Add(caseflow.MaxExtension + time.Minute), "施工分阶段整改", fault.Invalid},
	} {
		err := tx(t, ctx, pool, func(tx pgx.Tx) error {
			_, err := caseflow.Extend(ctx, tx, c.ID, tt.by, tt.due, tt.reason)
			return err
		})
		if fault.KindOf(err) != tt.want {
			t.Errorf("%s: error %v (%s), want %s", tt.name, err, fault.KindOf(err), tt.want)
		}
	}
	var got caseflow.Case
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		var err error
		got, err = caseflow.Extend(ctx, tx, c.ID, sup, week, "施工分阶段整改")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got.ResolveDue == nil || !got.ResolveDue.Equal(week) || got.Status != caseflow.StatusAssigned || got.Version != c.Version+1 {
		t.Fatalf("extended case %+v, want resolve due %s, still assigned, one version on", got, week)
	}
	var assignmentDue time.Time
	var timers []time.Time
	if err := pool.QueryRow(ctx, `SELECT resolve_due FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID).Scan(&assignmentDue); err != nil {
		t.Fatal(err)
	}
	if !assignmentDue.Equal(week) {
		t.Errorf("the active assignment is due %s, want %s", assignmentDue, week)
	}
	rows, err := pool.Query(ctx, `SELECT due_at FROM case_timers WHERE case_id = $1 AND kind = 'resolve' AND fired_at IS NULL`, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if timers, err = pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil {
		t.Fatal(err)
	}
	if len(timers) != 1 || !timers[0].Equal(week) {
		t.Errorf("resolve timers %v, want one at %s", timers, week)
	}
	var extended []outboxEvent
	for _, e := range events(t, ctx, pool, c.ID) {
		if e.Subject == "case.extended" {
			extended = append(extended, e)
		}
	}
	if len(extended) != 1 || extended[0].Ev.DueAt == nil || !extended[0].Ev.DueAt.Equal(week) || extended[0].Ev.Note != "施工分阶段整改" {
		t.Errorf("case.extended events %+v, want one with the new deadline and the reason", extended)
	}
	entries, err := caseflow.Audit(ctx, pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var extensions int
	for _, a := range entries {
		if a.Action != "extend" {
			if a.DueAfter != nil || (a.Action != "escalate" && (a.DueBefore != nil || a.Deadline != "")) {
				t.Errorf("the %s entry has deadlines %s %v → %v; only an extension moves one", a.Action, a.Deadline, a.DueBefore, a.DueAfter)
			}
			continue
		}
		if a.Deadline != caseflow.TimerResolve {
			t.Errorf("the extension concerns the %q deadline, want resolve", a.Deadline)
		}
		extensions++
		if a.Actor != sup.ID || a.Reason != "施工分阶段整改" {
			t.Errorf("the extension audited by %s (%s), want %s with the reason", a.Actor, a.Reason, sup.ID)
		}
		// The entry says by how much: the deadline replaced and the one granted.
		if a.DueBefore == nil || !a.DueBefore.Equal(old) || a.DueAfter == nil || !a.DueAfter.Equal(week) {
			t.Errorf("the extension's entry moves the deadline %v → %v, want %s → %s", a.DueBefore, a.DueAfter, old, week)
		}
	}
	if extensions != 1 {
		t.Errorf("%d extension entries in the case's record, want 1", extensions)
	}
	// Once the deadline has passed, the case is escalated, not extended.
	late := caseflow.WithClock(ctx, func() time.Time { return week.Add(time.Hour) })
	if err := tx(t, late, pool, func(tx pgx.Tx) error {
		_, err := caseflow.Extend(late, tx, c.ID, sup, week.Add(48*time.Hour), "再宽限两天")
		return err
	}); fault.KindOf(err) != fault.Conflict {
		t.Errorf("an extension after the deadline: %v (%s), want a conflict", err, fault.KindOf(err))
	}
	// The old deadline passes without escalation; the new one escalates.
	for _, e := range escalateDue(t, ctx, pool, old.Add(time.Minute)) {
		if e.Kind == caseflow.TimerResolve && e.Escalated {
			t.Errorf("the old resolve deadline escalated case %s", e.CaseID)
		}
	}
	var escalated bool
	for _, e := range escalateDue(t, ctx, pool, week.Add(time.Minute)) {
		escalated = escalated || (e.CaseID == c.ID && e.Kind == caseflow.TimerResolve && e.Escalated)
	}
	if !escalated {
		t.Error("the extended deadline passed without escalation")
	}
}

// TestMergeReasonReadsBack checks that ParseMergeReason reads back every
// reason MergeReason makes, and refuses what it did not make.
func TestMergeReasonReadsBack(t *testing.T) {
	t.Parallel()
	sign := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	resolve := time.Date(2026, 12, 4, 15, 31, 36, 0, time.UTC)
	for _, m := range []caseflow.Merged{
		{ComplaintID: "01a25268-aa"},
		{ComplaintID: "c1", RaisedTo: routing.PriorityHigh},
		{ComplaintID: "c1", ResolveBy: resolve},
		{ComplaintID: "c1", SignBy: sign},
		{ComplaintID: "c1", RaisedTo: routing.PriorityUrgent, SignBy: sign, ResolveBy: resolve},
	} {
		r := caseflow.MergeReason(m)
		got, ok := caseflow.ParseMergeReason(r)
		if !ok || got.ComplaintID != m.ComplaintID || got.RaisedTo != m.RaisedTo || !got.SignBy.Equal(m.SignBy) || !got.ResolveBy.Equal(m.ResolveBy) {
			t.Errorf("%q read back as %+v, %v; want %+v", r, got, ok, m)
		}
	}
	for _, r := range []string{"", "rule noise.x", "complaint c1 at the same place", "complaint c1; something else",
		"complaint c1; deadline brought forward: resolve by tomorrow"} {
		if m, ok := caseflow.ParseMergeReason(r); ok {
			t.Errorf("%q read as %+v", r, m)
		}
	}
}
