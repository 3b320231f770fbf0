package router_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// huliSite is a shopping centre in Huli (浦园购物中心).
const huliLon, huliLat = 118.13164, 24.500881

// huliComplaint stores a work order about construction noise located (by
// mistake) in Huli, east metres from huliSite, and returns its clustered
// event.
func (e *env) huliComplaint(t *testing.T, ticket string, at time.Time, east float64) event.ComplaintClustered {
	t.Helper()
	ev := e.complaint(t, ticket, at, 0, 0)
	lon, lat := huliLon+east/(111_320*0.91), huliLat
	ev.District, ev.Lon, ev.Lat = "huli", &lon, &lat
	return ev
}

// twoWaitingInTriage starts a router with its relay and has two
// complaints about one Huli site, tickets prefix1 and prefix2, wait in one
// case no team holds (waitingInTriage), which it returns with them.
func twoWaitingInTriage(t *testing.T, prefix string) (*env, *testenv.NATS, event.ComplaintClustered, event.ComplaintClustered, caseflow.Case) {
	t.Helper()
	e := setup(t)
	n := testenv.StartNATS(t)
	e.startRelay(t, n)
	run(t, e.ctx, e.newRouter(t, n.JS))
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	first, second := e.huliComplaint(t, prefix+"1", at, 0), e.huliComplaint(t, prefix+"2", at.Add(time.Hour), 20)
	return e, n, first, second, e.waitingInTriage(t, n, first, second)
}

// waitingInTriage publishes the complaints, has every Huli team the rules
// name return their case (退单) and waits until the case waits for a
// supervisor (无法派单), and returns it.
func (e *env) waitingInTriage(t *testing.T, n *testenv.NATS, evs ...event.ComplaintClustered) caseflow.Case {
	t.Helper()
	for _, ev := range evs {
		publish(t, e.ctx, n.JS, ev)
	}
	testenv.Eventually(t, 20*time.Second, "complaints in a case", func() bool {
		return e.count(t, `SELECT count(DISTINCT case_id) FROM case_complaints WHERE complaint_id = ANY($1)`, ids(evs)) == 1 &&
			e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = ANY($1)`, ids(evs)) == len(evs)
	})
	c := e.caseOf(t, evs[0].ComplaintID)
	e.returnedByEveryHuliTeam(t, c.ID)
	testenv.Eventually(t, 20*time.Second, "complaints on the triage list as unrouted", func() bool {
		return e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = ANY($1) AND kind = 'unrouted' AND resolved_at IS NULL`, ids(evs)) == len(evs)
	})
	c, err := caseflow.Get(e.ctx, e.pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != caseflow.StatusReturned {
		t.Fatalf("case %s is %s after every Huli team returned it, want returned", c.ID, c.Status)
	}
	return c
}

// returnedByEveryHuliTeam has each Huli team the rules name for
// construction noise, in turn, return the case as it is assigned to it
// (退单), the running router assigning it to the next.
func (e *env) returnedByEveryHuliTeam(t *testing.T, caseID string) {
	t.Helper()
	for _, team := range []string{"huli-eco", "huli-housing"} {
		testenv.Eventually(t, 20*time.Second, "case assigned to "+team, func() bool {
			got, err := caseflow.Get(e.ctx, e.pool, caseID)
			return err == nil && got.Status == caseflow.StatusAssigned && got.Team == team
		})
		officer := caseflow.Actor{ID: "officer:" + team, Team: team, District: "huli", Role: caseflow.RoleOfficer}
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			_, err := caseflow.Return(e.ctx, tx, caseID, officer, "不在本区")
			return err
		}); err != nil {
			t.Fatalf("return by %s: %v", team, err)
		}
	}
}

func ids(evs []event.ComplaintClustered) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ComplaintID
	}
	return out
}

// correctToSiming records what the officers' API and the geocoder do with
// a supervisor's correction of the complaint to Siming (the correction
// row, applied, and the triage entry resolved) and returns the corrected
// complaint's clustered event, as the detector publishes it.
func (e *env) correctToSiming(t *testing.T, ev event.ComplaintClustered, officer string) event.ComplaintClustered {
	t.Helper()
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id, applied_at)
		VALUES ($1, 1, $2, 'unrouted', 'siming', 'noise', 'construction', $1 || '.triage.corrected.1', now())`, ev.ComplaintID, officer); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE triage SET resolved_at = now(), resolved_by = $2 WHERE complaint_id = $1`, ev.ComplaintID, officer); err != nil {
		t.Fatal(err)
	}
	fixed := clustered(ev.TicketID, ev.ReceivedAt, 0, 0) // the site in Siming
	fixed.EventID = ev.ComplaintID + ".clustered.c1"
	fixed.Method = "corrected"
	return fixed
}

// audit is a case's audit, each entry as "actor action from->to: reason".
func (e *env) audit(t *testing.T, caseID string) []string {
	t.Helper()
	entries, err := caseflow.Audit(e.ctx, e.pool, caseID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(entries))
	for i, a := range entries {
		out[i] = a.Actor + " " + a.Action + " " + a.From + "->" + a.To + ": " + a.Reason
	}
	return out
}

// A complaint located in Huli by mistake: every Huli team returns its
// case, which waits on the triage list (无法派单). The supervisor corrects
// the complaint to Siming: it leaves the Huli case, whose audit says who
// corrected it and to what, and which, holding no complaint now, is
// closed; a Siming case holds the complaint, assigned to the Siming team,
// and the hotline is told of the assignment. A second delivery of the
// correction changes nothing.
func TestACorrectedComplaintLeavesTheCaseNoTeamHolds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	e.startRelay(t, n)
	run(t, e.ctx, e.newRouter(t, n.JS))
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	ev := e.huliComplaint(t, "M1", at, 0)
	// The detector clustered it in a Huli hotspot, and keeps it there
	// when it clusters the corrected complaint again.
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at)
		VALUES ('hs_huli_m1', 'noise', 'huli', 'emerging', 3, $1, $1)`, at); err != nil {
		t.Fatal(err)
	}
	hs := "hs_huli_m1"
	ev.HotspotID = &hs
	old := e.waitingInTriage(t, n, ev)

	fixed := e.correctToSiming(t, ev, "sup-siming")
	fixed.HotspotID = &hs
	publish(t, e.ctx, n.JS, fixed)
	testenv.Eventually(t, 20*time.Second, "the complaint in a Siming case", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
			WHERE cc.complaint_id = $1 AND c.district = 'siming'`, ev.ComplaintID) == 1
	})
	got := e.caseOf(t, ev.ComplaintID)
	active := e.count(t, `SELECT count(*) FROM assignments WHERE case_id = $1 AND status = 'active'`, got.ID)
	t.Logf("corrected complaint: case %s (%s, %s, team %s), %d active assignments", got.ID, got.District, got.Status, got.Team, active)
	if got.ID == old.ID || got.Status != caseflow.StatusAssigned || got.Team != "siming-eco" || active != 1 {
		t.Errorf("corrected complaint in case %s (%s, team %s, %d active assignments); want a new case assigned to siming-eco with one active assignment",
			got.ID, got.Status, got.Team, active)
	}
	if old.HotspotID != hs || got.HotspotID != "" {
		t.Errorf("the Huli case is of hotspot %q, the Siming case of %q; want %s and none (a Huli hotspot is no place in Siming)", old.HotspotID, got.HotspotID, hs)
	}
	testenv.Eventually(t, 20*time.Second, "the hotline told of the assignment", func() bool {
		return e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'case.assigned.siming-eco' AND payload->>'case_id' = $1
			AND (payload::jsonb)->'tickets' ? $2`, got.ID, ev.TicketID) == 1
	})

	left, err := caseflow.Get(e.ctx, e.pool, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	audit := e.audit(t, old.ID)
	t.Logf("old case %s: %s; audit:\n%s", left.ID, left.Status, strings.Join(audit, "\n"))
	if left.Status != caseflow.StatusClosed || left.ClosedAt == nil {
		t.Errorf("the Huli case, left with no complaint, is %s; want closed", left.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE case_id = $1`, old.ID); n != 0 {
		t.Errorf("the Huli case holds %d complaints, want none", n)
	}
	if len(audit) < 2 {
		t.Fatalf("audit of the Huli case: %v", audit)
	}
	removed, closed := audit[len(audit)-2], audit[len(audit)-1]
	if !strings.HasPrefix(removed, "officer:sup-siming remove returned->returned: ") || !strings.Contains(removed, ev.ComplaintID) ||
		!strings.Contains(removed, "siming, noise/construction") || !strings.Contains(removed, "correction 1") {
		t.Errorf("the Huli case's audit of the complaint leaving: %q; want the supervisor, the complaint and the correction", removed)
	}
	if !strings.HasPrefix(closed, "service:router close returned->closed: no complaint left") {
		t.Errorf("the Huli case's audit of its closing: %q", closed)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'case.closed' AND payload->>'case_id' = $1`, old.ID); n != 1 {
		t.Errorf("%d case.closed events of the Huli case, want 1", n)
	}

	// Redelivered, past the consumer's record of it: nothing moves.
	if err := e.handle(t, fixed); err != nil {
		t.Fatal(err)
	}
	if again := e.caseOf(t, ev.ComplaintID); again.ID != got.ID || again.Version != got.Version {
		t.Errorf("after a second delivery the complaint is in %s (version %d), was %s (version %d)", again.ID, again.Version, got.ID, got.Version)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, ev.ComplaintID); n != 1 {
		t.Errorf("the complaint is in %d cases, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND resolved_at IS NULL`, ev.ComplaintID); n != 0 {
		t.Errorf("the corrected complaint is on the triage list again (%d)", n)
	}
	if n := e.count(t, `SELECT count(*) FROM (SELECT case_id FROM assignments WHERE status = 'active' GROUP BY 1 HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d cases with several active assignments", n)
	}
}

// Two complaints about one Huli site wait in one case that no team
// holds; the supervisor corrects one of them to Siming. It leaves the
// case for a Siming case; the case stays returned for the other, which
// still waits on the triage list.
func TestACorrectedComplaintLeavesTheOthersWaiting(t *testing.T) {
	t.Parallel()
	e, n, first, second, old := twoWaitingInTriage(t, "W")

	publish(t, e.ctx, n.JS, e.correctToSiming(t, second, "sup-siming"))
	testenv.Eventually(t, 20*time.Second, "the corrected complaint in a Siming case", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
			WHERE cc.complaint_id = $1 AND c.district = 'siming' AND c.status = 'assigned'`, second.ComplaintID) == 1
	})
	left, err := caseflow.Get(e.ctx, e.pool, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	audit := e.audit(t, old.ID)
	t.Logf("old case %s: %s; audit:\n%s", left.ID, left.Status, strings.Join(audit, "\n"))
	if left.Status != caseflow.StatusReturned {
		t.Errorf("the Huli case is %s, want returned: the other complaint waits in it", left.Status)
	}
	if got := e.caseOf(t, first.ComplaintID); got.ID != old.ID {
		t.Errorf("the other complaint moved to %s", got.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND resolved_at IS NULL AND kind = 'unrouted'`, first.ComplaintID); n != 1 {
		t.Errorf("the other complaint has %d open triage entries, want 1", n)
	}
	if last := audit[len(audit)-1]; !strings.HasPrefix(last, "officer:sup-siming remove returned->returned: complaint "+second.ComplaintID) {
		t.Errorf("the Huli case's last audit entry: %q", last)
	}
}

// A correction reaches the router of a complaint whose case a team holds
// (a supervisor reassigned it, 改派, while the correction was on its
// way), and one of a complaint whose waiting case is of the district and
// kind corrected to: each stays in its case, the second on the triage
// list again, for the supervisor to reassign the case.
func TestACorrectedComplaintStaysInACaseATeamHoldsOrOfItsKind(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	held := e.complaint(t, "K1", at, 0, 0)
	if err := e.handle(t, held); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, held.ComplaintID)
	fixed := held
	fixed.EventID = held.ComplaintID + ".clustered.c1"
	lon, lat := huliLon, huliLat
	fixed.District, fixed.Lon, fixed.Lat = "huli", &lon, &lat
	if err := e.handle(t, fixed); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, held.ComplaintID); got.ID != c.ID || got.Version != c.Version || got.Team != "siming-eco" {
		t.Errorf("a correction of a complaint whose case siming-eco holds moved it: case %s (version %d, team %s), was %s (version %d)",
			got.ID, got.Version, got.Team, c.ID, c.Version)
	}

	same := e.complaint(t, "K2", at, 3000, 0)
	if err := e.handle(t, same); err != nil {
		t.Fatal(err)
	}
	c = e.caseOf(t, same.ComplaintID)
	c = e.returnAndReroute(t, c) // eco -> housing
	c = e.returnAndReroute(t, c) // housing -> nobody: triage
	if _, err := e.pool.Exec(e.ctx, `UPDATE triage SET resolved_at = now(), resolved_by = 'sup' WHERE complaint_id = $1`, same.ComplaintID); err != nil {
		t.Fatal(err)
	}
	again := same
	again.EventID = same.ComplaintID + ".clustered.c1"
	if err := e.handle(t, again); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, same.ComplaintID)
	if got.ID != c.ID || got.Status != caseflow.StatusReturned {
		t.Errorf("corrected to its waiting case's district and kind, the complaint is in %s (%s), want %s", got.ID, got.Status, c.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND resolved_at IS NULL AND kind = 'unrouted'`, same.ComplaintID); n != 1 {
		t.Errorf("the complaint has %d open triage entries, want 1: it waits for the supervisor again", n)
	}
}

// Of a complaint the batch corrects, only the correction places it:
// another copy in the batch (its event from before the correction,
// redelivered or sent again) would put it back where it was. And a
// correction behind a later one the geocoder has applied since (the
// supervisor corrected again while it was on its way) places nothing.
func TestOnlyTheLatestCorrectionPlacesTheComplaint(t *testing.T) {
	t.Parallel()
	e, _, first, second, old := twoWaitingInTriage(t, "L")

	fixed := e.correctToSiming(t, second, "sup-siming")
	// The event from before the correction first, in the same batch.
	if err := e.handle(t, second, fixed); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, second.ComplaintID)
	if got.ID == old.ID || got.District != "siming" {
		t.Fatalf("the corrected complaint is in case %s (%s), want a Siming case, not %s: the copy from before the correction placed it",
			got.ID, got.District, old.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, second.ComplaintID); n != 1 {
		t.Errorf("the corrected complaint is in %d cases, want 1", n)
	}

	// Correction 2 of the other complaint applied, then correction 1's
	// event arrives: it is behind, and moves nothing.
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id, applied_at)
		VALUES ($1, 1, 'sup-siming', 'unrouted', 'siming', 'noise', 'construction', $1 || '.triage.corrected.1', now()),
		       ($1, 2, 'sup-siming', 'unrouted', 'huli', 'noise', 'social_life', $1 || '.triage.corrected.2', now())`, first.ComplaintID); err != nil {
		t.Fatal(err)
	}
	behind := clustered(first.TicketID, first.ReceivedAt, 0, 0) // to Siming, as correction 1 said
	behind.EventID = first.ComplaintID + ".clustered.c1"
	behind.Method = "corrected"
	if err := e.handle(t, behind); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, first.ComplaintID); got.ID != old.ID {
		t.Errorf("correction 1, behind correction 2, moved the complaint to %s (%s)", got.ID, got.District)
	}
}

// Corrected to another kind that the same team handles (a 露天烧烤 read as
// 餐饮油烟), a complaint that left the case its team returned does not
// join that case again, waiting there once more with the correction
// undone: it opens a case of its own for the team.
func TestACorrectedComplaintDoesNotJoinTheCaseItLeft(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 20, 0, 0, 0, shanghai)
	var evs []event.ComplaintClustered
	for i, ticket := range []string{"B1", "B2"} {
		ev := e.complaint(t, ticket, at.Add(time.Duration(i)*time.Minute), float64(i*10), 0)
		ev.Category, ev.Subcategory = "cooking_smoke", "open_air_bbq"
		evs = append(evs, ev)
	}
	if err := e.handle(t, evs...); err != nil {
		t.Fatal(err)
	}
	old := e.caseOf(t, evs[0].ComplaintID)
	if e.caseOf(t, evs[1].ComplaintID).ID != old.ID || old.Team == "" {
		t.Fatalf("the two barbecue complaints are not in one assigned case: %+v", old)
	}
	team := caseflow.Actor{ID: "officer:" + old.Team, Team: old.Team, District: "siming", Role: caseflow.RoleOfficer}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Return(e.ctx, tx, old.ID, team, "是餐饮店油烟，不是露天烧烤")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	second := evs[1]
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id, applied_at)
		VALUES ($1, 1, 'sup-siming', 'unrouted', 'siming', 'cooking_smoke', 'restaurant', $1 || '.triage.corrected.1', now())`, second.ComplaintID); err != nil {
		t.Fatal(err)
	}
	fixed := second
	fixed.EventID = second.ComplaintID + ".clustered.c1"
	fixed.Method, fixed.Subcategory = "corrected", "restaurant"
	if err := e.handle(t, fixed); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, second.ComplaintID)
	t.Logf("old case %s (%s), audit:\n%s", old.ID, old.Team, strings.Join(e.audit(t, old.ID), "\n"))
	if got.ID == old.ID || got.Status != caseflow.StatusAssigned || got.Subcategory != "restaurant" {
		t.Errorf("the corrected complaint is in case %s (%s, %s), want a restaurant case of its own, assigned, not %s", got.ID, got.Status, got.Subcategory, old.ID)
	}
}
