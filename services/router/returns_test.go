package router_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// returnAndReroute has the case's team return it and the router route it
// again, and reads the case back.
func (e *env) returnAndReroute(t *testing.T, c caseflow.Case) caseflow.Case {
	t.Helper()
	officer := caseflow.Actor{ID: "officer:" + c.Team, Team: c.Team, District: c.District, Role: caseflow.RoleOfficer}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Return(e.ctx, tx, c.ID, officer, "not ours: site management")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		return e.svc.HandleCaseReturned(e.ctx, tx, event.CaseChanged{CaseID: c.ID, Kind: caseflow.KindReturned}, natsx.Meta{})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := caseflow.Get(e.ctx, e.pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The eco team returned a construction-noise case (it went to housing).
// An industrial-noise complaint 50 m away, the eco team's own work, goes
// to the eco team, not into the housing team's construction case.
func TestAReturnJoinsOnlyTheNuisanceItWasAbout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	first := e.complaint(t, "S1", at, 0, 0) // noise/construction
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	if c.Team != "siming-eco" {
		t.Fatalf("first team %s", c.Team)
	}
	c = e.returnAndReroute(t, c)
	if c.Team != "siming-housing" || c.Status != caseflow.StatusAssigned {
		t.Fatalf("after return: %s %s", c.Team, c.Status)
	}
	factory := e.complaint(t, "S2", at.Add(time.Hour), 50, 0)
	factory.Subcategory = "industrial"
	if err := e.handle(t, factory); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, factory.ComplaintID)
	t.Logf("industrial-noise complaint: case %s (subcategory %s) team %s", got.ID, got.Subcategory, got.Team)
	if got.Team != "siming-eco" {
		t.Errorf("industrial noise complaint handled by %s in case %s of subcategory %s; want siming-eco", got.Team, got.ID, got.Subcategory)
	}
}

// A complaint made before the case was resolved and delivered to the
// router after the resolution (a backlog, a replay) joins the resolved
// case without reopening it as if the nuisance came back; one made after
// the resolution reopens it.
func TestOnlyAComplaintAfterTheResolutionReopens(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	first := e.complaint(t, "L1", at, 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	resolvedAt := at.Add(26 * time.Hour) // 2024-03-06 11:00
	e.resolve(t, c, resolvedAt)
	earlier := e.complaint(t, "L2", at.Add(30*time.Minute), 20, 0) // called 2024-03-05 09:30, before the resolution
	if err := e.handle(t, earlier); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, earlier.ComplaintID)
	t.Logf("case %s status %s reopened %d sign_due %v", got.ID, got.Status, got.Reopened, got.SignDue)
	if got.ID != c.ID || got.Reopened != 0 || got.Status != caseflow.StatusResolved {
		t.Errorf("a complaint made at %s, before the case was resolved at %s, reopened it: status %s, reopened %d, sign due %v",
			earlier.ReceivedAt.In(shanghai), resolvedAt, got.Status, got.Reopened, got.SignDue.In(shanghai))
	}
	later := e.complaint(t, "L3", resolvedAt.Add(time.Hour), 20, 0)
	if err := e.handle(t, later); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, later.ComplaintID); got.ID != c.ID || got.Reopened != 1 || got.Status != caseflow.StatusAssigned {
		t.Errorf("a complaint after the resolution: case %s, status %s, reopened %d; want %s reopened once", got.ID, got.Status, got.Reopened, c.ID)
	}
}

// A case every team the rules name returned waits, unrouted, on the
// triage list for a supervisor; a new complaint at its place joins it and
// waits there too, instead of disappearing into it.
func TestAComplaintJoiningAParkedCaseIsOnTheTriageList(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	first := e.complaint(t, "P1", at, 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	c = e.returnAndReroute(t, c) // eco -> housing
	c = e.returnAndReroute(t, c) // housing -> nobody: triage
	if c.Status != caseflow.StatusReturned {
		t.Fatalf("status %s", c.Status)
	}
	later := e.complaint(t, "P2", at.Add(48*time.Hour), 20, 0)
	if err := e.handle(t, later); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, later.ComplaintID)
	triaged := e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND resolved_at IS NULL`, later.ComplaintID)
	timers := e.count(t, `SELECT count(*) FROM case_timers WHERE case_id = $1 AND fired_at IS NULL`, got.ID)
	t.Logf("new complaint in case %s (%s, team %s), triage rows %d, pending timers %d", got.ID, got.Status, got.Team, triaged, timers)
	if got.ID == c.ID && triaged == 0 {
		t.Errorf("complaint P2 parked in unroutable case %s (status %s) with no triage entry and %d timers", got.ID, got.Status, timers)
	}
}

// The team signed for the case in time; after its sign-for deadline a
// supervisor moves it to another team. The new team gets its own time to
// sign for it, not the old deadline, which would escalate (督办) it a
// minute later.
func TestAReassignedCaseGetsItsOwnSignForDeadline(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai) // Tuesday; sign due Wed 23:59:59
	ev := e.complaint(t, "RA1", at, 0, 0)
	if err := e.handle(t, ev); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, ev.ComplaintID)
	officer := caseflow.Actor{ID: "officer:o1", Team: c.Team, District: "siming", Role: caseflow.RoleOfficer}
	sup := caseflow.Actor{ID: "officer:sup", District: "siming", Role: caseflow.RoleSupervisor}
	acceptAt := at.Add(time.Hour)
	if err := pgx.BeginFunc(caseflow.WithClock(e.ctx, func() time.Time { return acceptAt }), e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Accept(caseflow.WithClock(e.ctx, func() time.Time { return acceptAt }), tx, c.ID, officer)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	moveAt := time.Date(2024, 3, 7, 9, 0, 0, 0, shanghai) // Thursday
	mctx := caseflow.WithClock(e.ctx, func() time.Time { return moveAt })
	if err := pgx.BeginFunc(mctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reassign(mctx, tx, c.ID, sup, "siming-housing", "site management issue")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.set(moveAt.Add(time.Minute))
	n, err := e.svc.FireTimers(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	rows, _ := e.pool.Query(e.ctx, `SELECT reason FROM case_audit WHERE case_id = $1 AND action = 'escalate'`, c.ID)
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		reasons = append(reasons, r)
	}
	rows.Close()
	if n != 0 {
		t.Errorf("a minute after the reassignment, %d escalation(s): %v (the case was signed for at %s, before its sign-for deadline %s)",
			n, reasons, acceptAt, c.SignDue.In(shanghai))
	}
	got, err := caseflow.Get(e.ctx, e.pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SignDue == nil || !got.SignDue.After(moveAt) {
		t.Errorf("the new team's sign-for deadline %v, want one after the reassignment at %s", got.SignDue, moveAt)
	}
}

// Social-life noise between neighbours, and from a KTV at night, goes to
// the police by the detail the geocoder found in the description; without
// one it goes to urban management.
func TestSocialLifeNoiseGoesByItsDetail(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 23, 30, 0, 0, shanghai)
	for i, tc := range []struct{ ticket, detail, team string }{
		{"N1", "neighbour", "siming-police"},
		{"N2", "bar_ktv", "siming-police"},
		{"N3", "", "siming-urban"},
	} {
		ev := e.complaint(t, tc.ticket, at, float64(i)*3000, 0)
		ev.Subcategory, ev.Detail = "social_life", tc.detail
		if err := e.handle(t, ev); err != nil {
			t.Fatal(err)
		}
		if c := e.caseOf(t, ev.ComplaintID); c.Team != tc.team {
			t.Errorf("%s (detail %q) at 23:30 went to %s, want %s", tc.ticket, tc.detail, c.Team, tc.team)
		}
	}
}

// A supervisor extends (延期) the case's resolve deadline; a repeat
// complaint about the same site two days later joins the case and leaves
// the extension standing, instead of taking it back and escalating the
// team on the old timetable.
func TestARepeatComplaintLeavesAnExtensionStanding(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	ev := e.complaint(t, "EX1", at, 0, 0)
	if err := e.handle(t, ev); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, ev.ComplaintID)
	sup := caseflow.Actor{ID: "officer:sup", District: "siming", Role: caseflow.RoleSupervisor}
	extendTo := time.Date(2024, 3, 29, 23, 59, 59, 0, shanghai)
	xctx := caseflow.WithClock(e.ctx, func() time.Time { return at.Add(2 * time.Hour) })
	if err := pgx.BeginFunc(xctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Extend(xctx, tx, c.ID, sup, extendTo, "site must stop piling in stages")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	repeat := e.complaint(t, "EX2", at.Add(48*time.Hour), 10, 0)
	if err := e.handle(t, repeat); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, repeat.ComplaintID)
	if got.ID != c.ID {
		t.Fatalf("repeat in another case")
	}
	if !got.ResolveDue.Equal(extendTo) {
		t.Errorf("extended resolve deadline %s became %s after a repeat complaint", extendTo, got.ResolveDue.In(shanghai))
	}
}
