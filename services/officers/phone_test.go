package officers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// TestActiveListRanksStoredPriorities checks that the active list ranks
// the priorities as the cases store them (the router's values: urgent,
// priority, normal): overdue before not, and within each urgent, then
// 优先, then 一般, whatever their deadlines.
func TestActiveListRanksStoredPriorities(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	now := time.Now()
	// The deadlines run against the ranks, so that the order by
	// deadline alone is not the expected one.
	cases := []struct {
		name, priority string
		due            time.Duration
	}{
		{"overdue urgent", routing.PriorityUrgent, -1 * time.Hour},
		{"overdue priority", routing.PriorityHigh, -2 * time.Hour},
		{"overdue normal", routing.PriorityNormal, -3 * time.Hour},
		{"urgent", routing.PriorityUrgent, 72 * time.Hour},
		{"priority", routing.PriorityHigh, 48 * time.Hour},
		{"normal", routing.PriorityNormal, 24 * time.Hour},
	}
	byID := map[string]string{}
	for _, c := range cases {
		id := e.newCase(ownTeam, complaint{})
		e.accept(id)
		if _, err := e.pool.Exec(context.Background(), `UPDATE cases SET priority = $2, resolve_due = $3 WHERE id = $1`,
			id, c.priority, now.Add(c.due)); err != nil {
			t.Fatal(err)
		}
		byID[id] = c.name
	}
	var got []string
	for _, a := range e.list(whoOwn, "status=assigned,accepted").Items {
		got = append(got, byID[a.CaseID])
	}
	var want []string
	for _, c := range cases {
		want = append(want, c.name)
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
}

// TestListSaysWhenEnded checks that a list item says when its case was
// resolved and closed (resolved_at, closed_at), and says nothing of
// either before.
func TestListSaysWhenEnded(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{})
	e.accept(id)
	item := func(status string) Assignment {
		t.Helper()
		for _, a := range e.list(whoSupervisor, "status="+status).Items {
			if a.CaseID == id {
				return a
			}
		}
		t.Fatalf("case %s not listed as %s", id, status)
		return Assignment{}
	}
	if a := item("accepted"); a.ResolvedAt != nil || a.ClosedAt != nil {
		t.Errorf("accepted: resolved_at %v closed_at %v", a.ResolvedAt, a.ClosedAt)
	}
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/resolve", map[string]string{"outcome": caseflow.OutcomeRectified, "note": "已停工"}); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	resolved := item("resolved")
	if resolved.ResolvedAt == nil || resolved.ClosedAt != nil || time.Since(*resolved.ResolvedAt) > time.Hour {
		t.Errorf("resolved: resolved_at %v closed_at %v", resolved.ResolvedAt, resolved.ClosedAt)
	}
	ctx := context.Background()
	if err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Close(ctx, tx, id, caseflow.Service("test"), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	closed := item("closed")
	if closed.ResolvedAt == nil || !closed.ResolvedAt.Equal(*resolved.ResolvedAt) || closed.ClosedAt == nil || closed.ClosedAt.Before(*closed.ResolvedAt) {
		t.Errorf("closed: resolved_at %v closed_at %v", closed.ResolvedAt, closed.ClosedAt)
	}
}

// TestNoTeamNamedOfCaseNoTeamHolds checks that the case view names no
// team (team_name absent) of a case waiting for one (待派单) or returned
// by its team (已退单), as the list does, and names the team holding one.
func TestNoTeamNamedOfCaseNoTeamHolds(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	open := e.newCase("", complaint{})
	if _, body := e.caseView(whoSupervisor, open); strings.Contains(body, `"team_name"`) {
		t.Errorf("open case names a team: %s", body)
	}
	id := e.newCase(ownTeam, complaint{})
	if v, _ := e.caseView(whoSupervisor, id); v.TeamName != "思明区生态环境执法大队" {
		t.Errorf("assigned case's team_name %q", v.TeamName)
	}
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/return", map[string]string{"reason": "不属本单位"}); code != 200 {
		t.Fatalf("return: %d %s", code, body)
	} else if strings.Contains(string(body), `"team_name"`) {
		t.Errorf("return answers a team: %s", body)
	}
	if v, body := e.caseView(whoSupervisor, id); v.Status != caseflow.StatusReturned || strings.Contains(body, `"team_name"`) {
		t.Errorf("returned case names a team: %s", body)
	}
}

// TestReassignOfReturnedCaseFromNoTeam checks that 改派 of a case its
// team had returned names no team it came from (the console says
// 待派单), while a 改派 from a team holding the case names it.
func TestReassignOfReturnedCaseFromNoTeam(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{})
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/return", map[string]string{"reason": "不属本单位"}); code != 200 {
		t.Fatalf("return: %d %s", code, body)
	}
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/reassign", map[string]string{"team": otherTeam, "reason": "属城管"}); code != 200 {
		t.Fatalf("reassign: %d %s", code, body)
	}
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/reassign", map[string]string{"team": ownTeam, "reason": "仍属生态环境"}); code != 200 {
		t.Fatalf("reassign back: %d %s", code, body)
	}
	v, _ := e.caseView(whoSupervisor, id)
	var re []AuditEntry
	for _, a := range v.Audit {
		if a.Action == "reassign" {
			re = append(re, a)
		}
	}
	if len(re) != 2 {
		t.Fatalf("reassignments: %+v", re)
	}
	if re[0].FromTeam != "" || re[0].FromTeamName != "" || re[0].ToTeam != otherTeam {
		t.Errorf("reassign of the returned case: from %q (%q) to %q", re[0].FromTeam, re[0].FromTeamName, re[0].ToTeam)
	}
	if re[1].FromTeam != otherTeam || re[1].FromTeamName != "思明区城市管理综合执法大队" || re[1].ToTeam != ownTeam {
		t.Errorf("reassign of the held case: from %q (%q) to %q", re[1].FromTeam, re[1].FromTeamName, re[1].ToTeam)
	}
}

// TestMergeReasonInChinese checks that the record says in Chinese what a
// merge (并案) changed: the priority it raised the case to by its name
// (提升为优先, not "priority raised to priority") and the deadlines it
// brought forward in Xiamen time, with no complaint id, no English and no
// ISO time; and nothing of a merge that changed neither.
func TestMergeReasonInChinese(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	merge := func(id, priority string, sign, resolve time.Time) {
		t.Helper()
		n := e.seq.Add(1)
		cmp := fmt.Sprintf("cmp_merge_%s_%d", t.Name(), n)
		err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ($1, $2, $3, '又在施工')`,
				cmp, "TM"+cmp, time.Date(2024, 3, 12, 1, 0, 0, 0, time.UTC)); err != nil {
				return err
			}
			_, _, err := caseflow.Merge(ctx, tx, id, caseflow.Service("router"), cmp, "", priority, sign, resolve)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	reasons := func(id string) []string {
		t.Helper()
		v, _ := e.caseView(whoSupervisor, id)
		var out []string
		for _, a := range v.Audit {
			if a.Action == "merge" {
				out = append(out, a.ReasonText)
			}
		}
		return out
	}
	resolve := time.Date(2024, 3, 14, 15, 31, 36, 0, time.UTC) // 3月14日 23:31 in Xiamen
	sign := time.Date(2024, 3, 12, 2, 0, 0, 0, time.UTC)       // 3月12日 10:00

	raised := e.newCase(ownTeam, complaint{})
	merge(raised, routing.PriorityHigh, time.Time{}, resolve)
	merge(raised, routing.PriorityNormal, time.Time{}, time.Time{})
	both := e.newCase(ownTeam, complaint{})
	merge(both, routing.PriorityUrgent, sign, resolve)

	for _, c := range []struct {
		id   string
		want []string
	}{
		{raised, []string{"并案：提升为优先；办结时限提前至 3月14日 23:31", ""}},
		{both, []string{"并案：提升为紧急；签收时限提前至 3月12日 10:00，办结时限提前至 3月14日 23:31"}},
	} {
		if got := reasons(c.id); !slices.Equal(got, c.want) {
			t.Errorf("case %s: reason_text %q, want %q", c.id, got, c.want)
		}
	}
}

// TestReassignGivesFreshDeadlines checks that 改派 of an overdue case
// gives the new team the deadlines any team is given for a case of its
// priority, counted from the reassignment on the service's calendar (as
// the router gives the team it sends a returned case on to); that the
// record says the resolve deadline moved, from what to what; and that
// the new team, not overdue, can be given 延期.
func TestReassignGivesFreshDeadlines(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{}) // deadlines in 2024: overdue
	e.accept(id)
	before, _ := e.caseView(whoSupervisor, id)
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/reassign", map[string]string{"team": otherTeam, "reason": "属城管"}); code != 200 {
		t.Fatalf("reassign: %d %s", code, body)
	}
	v, _ := e.caseView(whoSupervisor, id)
	var re AuditEntry
	for _, a := range v.Audit {
		if a.Action == "reassign" {
			re = a
		}
	}
	sign, resolve, err := e.svc.rules.Deadlines(routing.PriorityNormal, re.At)
	if err != nil {
		t.Fatal(err)
	}
	if v.SignDue == nil || !v.SignDue.Equal(sign) || v.ResolveDue == nil || !v.ResolveDue.Equal(resolve) || !resolve.After(re.At) {
		t.Errorf("after 改派 at %s: sign_due %v resolve_due %v, want %s %s", re.At, v.SignDue, v.ResolveDue, sign, resolve)
	}
	if re.Deadline != caseflow.TimerResolve || re.DueBefore == nil || !re.DueBefore.Equal(*before.ResolveDue) || re.DueAfter == nil || !re.DueAfter.Equal(resolve) {
		t.Errorf("record of 改派: deadline %q from %v to %v", re.Deadline, re.DueBefore, re.DueAfter)
	}
	var sdue, rdue time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT sign_due, resolve_due FROM assignments WHERE case_id = $1 AND status = 'active'`, id).Scan(&sdue, &rdue); err != nil {
		t.Fatal(err)
	}
	if !sdue.Equal(sign) || !rdue.Equal(resolve) {
		t.Errorf("active assignment's deadlines %s %s, want %s %s", sdue, rdue, sign, resolve)
	}
	due, _ := time.Parse(time.RFC3339, e.workingDue(resolve.Sub(time.Now())+72*time.Hour))
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/extend", map[string]string{"resolve_due": due.Format(time.RFC3339), "reason": "需分期整改"}); code != 200 {
		t.Errorf("延期 of the reassigned case: %d %s", code, body)
	}
}
