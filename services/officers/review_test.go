package officers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// listPage is a page of GET /api/v1/assignments.
type listPage struct {
	Items      []Assignment `json:"items"`
	NextCursor string       `json:"next_cursor"`
}

func (e *env) list(who, query string) listPage {
	e.t.Helper()
	code, body := e.do(who, "GET", "/api/v1/assignments?"+query, nil)
	if code != 200 {
		e.t.Fatalf("assignments?%s: %d %s", query, code, body)
	}
	var p listPage
	if err := json.Unmarshal(body, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// caseView reads a case as who, decoded.
func (e *env) caseView(who, id string) (CaseView, string) {
	e.t.Helper()
	code, body := e.do(who, "GET", "/api/v1/cases/"+id, nil)
	if code != 200 {
		e.t.Fatalf("case %s: %d %s", id, code, body)
	}
	var v CaseView
	if err := json.Unmarshal(body, &v); err != nil {
		e.t.Fatal(err)
	}
	return v, string(body)
}

// TestListShowsPlace checks that a card says where its case is: the
// case's place by its key less the district's slug, the caller's phone a
// key holds masked, never the key itself; the sub-district by name,
// given by its code; and, to a supervisor, the team holding the case,
// null for a case no team holds.
func TestListShowsPlace(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	keyed := e.newCase(ownTeam, complaint{})
	named := e.newCase(ownTeam, complaint{})
	open := e.newCase("", complaint{})
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `UPDATE cases SET place_key = 'siming/湖滨南路100号 13812345678', subdistrict = '350203001' WHERE id = $1`, keyed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE cases SET place = '鹭港苑', place_key = 'siming/鹭港苑', subdistrict = '中华街道' WHERE id = $1`, named); err != nil {
		t.Fatal(err)
	}
	byID := map[string]Assignment{}
	for _, a := range e.list(whoSupervisor, "limit=200").Items {
		byID[a.CaseID] = a
	}
	k := byID[keyed]
	if k.Place != "湖滨南路100号 138****5678" || k.SubdistrictName != "厦港街道" {
		t.Errorf("a case known by its key: place %q, sub-district %q", k.Place, k.SubdistrictName)
	}
	if k.TeamName == nil || *k.TeamName != "思明区生态环境执法大队" {
		t.Errorf("team_name %v", k.TeamName)
	}
	if n := byID[named]; n.Place != "鹭港苑" || n.SubdistrictName != "中华街道" {
		t.Errorf("a named case: place %q, sub-district %q", n.Place, n.SubdistrictName)
	}
	if o, ok := byID[open]; !ok || o.TeamName != nil {
		t.Errorf("a case no team holds: %+v", o)
	}
	code, body := e.do(whoSupervisor, "GET", "/api/v1/assignments?limit=200", nil)
	if code != 200 || strings.Contains(string(body), "siming/") || strings.Contains(string(body), "13812345678") {
		t.Errorf("the list shows a key or a phone: %s", body)
	}
	if !strings.Contains(string(body), `"team_name":null`) {
		t.Errorf("a case no team holds has no team_name null: %s", body)
	}
	// The case view shows the place as the card does.
	if v, _ := e.caseView(whoOwn, keyed); v.Place != "湖滨南路100号 138****5678" || v.SubdistrictName != "厦港街道" {
		t.Errorf("case view: place %q, sub-district %q", v.Place, v.SubdistrictName)
	}
}

// deadlines sets case id's deadlines and priority, and its active
// assignment's.
func (e *env) deadlines(id, priority string, sign, resolve time.Time) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), `WITH a AS (UPDATE assignments SET sign_due = $2, resolve_due = $3 WHERE case_id = $1 AND status = 'active')
		UPDATE cases SET sign_due = $2, resolve_due = $3, priority = $4 WHERE id = $1`, id, sign, resolve, priority); err != nil {
		e.t.Fatal(err)
	}
}

// TestListByAction checks that the active list puts first what needs
// action: overdue cases, then urgent ones, then the nearest deadline,
// then the newest; and that paging through it, a page of one or of two,
// gives that order with no case lost or repeated across the boundaries.
// An ended list (已办结) stays newest first.
func TestListByAction(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	now := time.Now()
	day := 24 * time.Hour
	var ids [6]string
	for i := range ids {
		ids[i] = e.newCase(ownTeam, complaint{})
	}
	// 0: urgent and overdue (not signed for in time); 1: overdue (its
	// resolve deadline passed an hour ago), signed for; 2: urgent, a day
	// to sign for; 3: normal, half a day to sign for; 4 and 5: normal, a
	// day to sign for, 5 newer. Newest first would be 5, 4, 3, 2, 1, 0.
	e.deadlines(ids[0], routing.PriorityUrgent, now.Add(-time.Hour), now.Add(3*day))
	e.accept(ids[1])
	e.deadlines(ids[1], routing.PriorityNormal, now.Add(-2*day), now.Add(-time.Hour))
	e.deadlines(ids[2], routing.PriorityUrgent, now.Add(day), now.Add(7*day))
	e.deadlines(ids[3], routing.PriorityNormal, now.Add(day/2), now.Add(2*day))
	e.deadlines(ids[4], routing.PriorityNormal, now.Add(day), now.Add(7*day))
	e.deadlines(ids[5], routing.PriorityNormal, now.Add(day), now.Add(7*day))
	want := []string{ids[0], ids[1], ids[2], ids[3], ids[5], ids[4]}

	for _, limit := range []int{200, 1, 2, 4} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatal("paging does not end")
			}
			q := "status=assigned,accepted&limit=" + fmt.Sprint(limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			p := e.list(whoOwn, q)
			for _, a := range p.Items {
				got = append(got, a.CaseID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v, want %v", limit, got, want)
		}
	}

	// The ended list stays newest first; a cursor of it is refused by
	// the active list.
	for _, id := range ids[4:] {
		e.accept(id)
		if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/resolve", map[string]string{"outcome": "rectified", "note": "已责令停止"}); code != 200 {
			t.Fatalf("resolve: %d %s", code, body)
		}
	}
	done := e.list(whoOwn, "status=resolved,closed&limit=1")
	if len(done.Items) != 1 || done.Items[0].CaseID != ids[5] || done.NextCursor == "" {
		t.Fatalf("ended list: %+v", done)
	}
	next := e.list(whoOwn, "status=resolved,closed&limit=1&cursor="+url.QueryEscape(done.NextCursor))
	if len(next.Items) != 1 || next.Items[0].CaseID != ids[4] {
		t.Fatalf("ended list, page 2: %+v", next)
	}
	if code, body := e.do(whoOwn, "GET", "/api/v1/assignments?status=assigned&cursor="+url.QueryEscape(done.NextCursor), nil); code != 400 {
		t.Errorf("an ended list's cursor on the active list: %d %s", code, body)
	}
	// A list of every case, or of active and ended ones mixed, is newest
	// first too: the action order sorts the whole list at each page,
	// which only the cases still to be acted on afford.
	for _, q := range []string{"", "status=accepted,resolved"} {
		all := e.list(whoOwn, q)
		var got []string
		for _, a := range all.Items {
			got = append(got, a.CaseID)
		}
		wantAll := []string{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}
		if q != "" {
			wantAll = []string{ids[5], ids[4], ids[1]}
		}
		if !slices.Equal(got, wantAll) {
			t.Errorf("list %q: %v, want newest first %v", q, got, wantAll)
		}
	}
}

// TestAuditNamesWho checks that the record names who acted: the router
// 系统, an officer by its team and name, a supervisor by its district;
// that a reassignment (改派) names the team it came from and the team it
// went to; that a call-back reveal names who looked; and that a routing
// rule is said in Chinese, its id kept in rule.
func TestAuditNamesWho(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase("", complaint{})
	ctx := context.Background()
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Assign(ctx, tx, id, caseflow.Service("router"), caseflow.Assignment{Team: ownTeam, Mode: routing.ModeOnSite,
			Priority: routing.PriorityNormal, ResolveDue: time.Now().Add(72 * time.Hour), Reason: "rule noise.construction"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", nil); code != 200 {
		t.Fatalf("reveal: %d %s", code, body)
	}
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/reassign", map[string]string{"team": otherTeam, "reason": "属社会生活噪声"}); code != 200 {
		t.Fatalf("reassign: %d %s", code, body)
	}
	v, body := e.caseView(whoSupervisor, id)
	byAction := map[string]AuditEntry{}
	for _, a := range v.Audit {
		byAction[a.Action] = a
	}
	if a := byAction["open"]; a.ActorName != "系统" {
		t.Errorf("open by %q", a.ActorName)
	}
	assign := byAction["assign"]
	if assign.ActorName != "系统" || assign.Rule != "noise.construction" || !strings.Contains(assign.ReasonText, "建筑施工噪声") ||
		!strings.Contains(assign.ReasonText, "生态环境") || strings.Contains(assign.ReasonText, "noise.") || assign.Reason != "rule noise.construction" {
		t.Errorf("assign: %+v", assign)
	}
	if a := byAction["reveal_caller"]; a.ActorName != "思明区生态环境执法大队 · 陈一" {
		t.Errorf("reveal by %q", a.ActorName)
	}
	re := byAction["reassign"]
	if re.ActorName != "思明区主管 · 黄四" || re.FromTeam != ownTeam || re.ToTeam != otherTeam ||
		re.FromTeamName != "思明区生态环境执法大队" || re.ToTeamName != "思明区城市管理综合执法大队" || re.ReasonText != "属社会生活噪声" {
		t.Errorf("reassign: %+v", re)
	}
	if strings.Contains(body, `"reason_text":"rule`) {
		t.Errorf("a rule id in reason_text: %s", body)
	}
}

// TestExtendChecksCaseFirst checks that an extension of a case of another
// district is 404 whatever the date: a Sunday is not refused as a rest
// day before the case is found not to be the supervisor's.
func TestExtendChecksCaseFirst(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.dueIn(e.newCase(ownTeam, complaint{}), 72*time.Hour)
	sunday := time.Now().In(e.svc.cal.Location()).AddDate(0, 0, 7)
	for sunday.Weekday() != time.Sunday {
		sunday = sunday.AddDate(0, 0, 1)
	}
	due := time.Date(sunday.Year(), sunday.Month(), sunday.Day(), 23, 59, 59, 0, sunday.Location()).Format(time.RFC3339)
	for _, tc := range []struct {
		who, id string
	}{{whoOtherDist, id}, {whoSupervisor, "case_nope"}} {
		code, body := e.do(tc.who, "POST", "/api/v1/cases/"+tc.id+"/extend", map[string]string{"resolve_due": due, "reason": "分阶段整改"})
		if code != 404 {
			t.Errorf("%s extends %s to a Sunday: %d %s", tc.who, tc.id, code, body)
		}
	}
	// The case's own supervisor is told of the rest day.
	code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/extend", map[string]string{"resolve_due": due, "reason": "分阶段整改"})
	if code != 400 || problem(t, body).Errors[0].Field != "/resolve_due" {
		t.Errorf("own supervisor, a Sunday: %d %s", code, body)
	}
}

// TestReopenedCaseView checks that a reopened case (重新交办) shows no
// resolution as its own: the one set aside is previous_resolution, with
// reopened_at; that it stays so once signed for again; and that the
// reopening's record says its deadline once when it did not move.
func TestReopenedCaseView(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.dueIn(e.newCase(ownTeam, complaint{}), 72*time.Hour)
	e.accept(id)
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/resolve", map[string]string{"outcome": "rectified", "note": "已责令停工"}); code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	ctx := context.Background()
	c, err := caseflow.Get(ctx, e.pool, id)
	if err != nil {
		t.Fatal(err)
	}
	err = pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reopen(ctx, tx, id, caseflow.Service("router"), time.Now().Add(24*time.Hour), *c.ResolveDue, "complaint cmp_x at the same place")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v, body := e.caseView(whoOwn, id)
	if v.Note != "" || v.Outcome != "" || v.ReopenedAt == nil || v.Reopened != 1 {
		t.Errorf("reopened case view: %s", body)
	}
	if p := v.PreviousResolution; p == nil || p.Outcome != "rectified" || p.Note != "已责令停工" || p.At.IsZero() {
		t.Errorf("previous resolution %+v", p)
	}
	// The list's card says when it was reopened, as the case view does.
	var listed bool
	for _, a := range e.list(whoOwn, "status=assigned,accepted").Items {
		if a.CaseID == id {
			listed = true
			if a.ReopenedAt == nil || !a.ReopenedAt.Equal(*v.ReopenedAt) {
				t.Errorf("listed reopened_at %v, want %v", a.ReopenedAt, v.ReopenedAt)
			}
		}
	}
	if !listed {
		t.Errorf("the reopened case %s is not listed", id)
	}
	for _, a := range v.Audit {
		if a.Action == "reopen" && (a.DueBefore != nil || a.DueAfter == nil || a.ReasonText != "同一地点又有投诉") {
			t.Errorf("reopen entry: %+v", a)
		}
	}
	code, body2 := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/accept", nil)
	var acc CaseView
	if err := json.Unmarshal(body2, &acc); code != 200 || err != nil || acc.Note != "" || acc.PreviousResolution == nil {
		t.Errorf("accepted again: %d %s", code, body2)
	}
	// Resolved again: the new resolution is the case's.
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/resolve", map[string]string{"outcome": "penalized", "note": "罚款五千元"}); code != 200 {
		t.Fatalf("resolve again: %d %s", code, body)
	}
	v, body = e.caseView(whoOwn, id)
	if v.Note != "罚款五千元" || v.Outcome != "penalized" || v.PreviousResolution != nil || v.ReopenedAt == nil {
		t.Errorf("resolved again: %s", body)
	}
}

// TestReasonText checks the pipeline's reasons said in Chinese, the rule
// an assignment names kept apart, and a person's reason as typed.
func TestReasonText(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	for _, tc := range []struct {
		action, reason, text, rule string
	}{
		{"assign", "rule noise.social_life", "按派单规则：社会生活噪声由城市管理综合执法部门承办", "noise.social_life"},
		{"assign", "rule dust.yard.positive_list", "按派单规则：", "dust.yard.positive_list"},
		{"assign", "rule noise.construction.returned after return by siming-eco, siming-police", "思明区生态环境执法大队、思明分局治安大队已退单", "noise.construction.returned"},
		{"assign", "rule nowhere.rule", "按派单规则派单", "nowhere.rule"},
		{"reopen", "complaint cmp_1 at the same place", "同一地点又有投诉", ""},
		{"open", "complaint cmp_1", "", ""},
		{"close", "no complaint within 30 days of the resolution", "办结后30日内该地点无新投诉，办结销号", ""},
		{"escalate", "resolve deadline 2024-03-16T15:59:59Z passed", "办结时限 2024-03-16 23:59:59 +08:00 已过，予以督办", ""},
		{"escalate", "sign-for deadline 2024-03-12T14:31:00Z passed", "签收时限 2024-03-12 22:31 +08:00 已过，予以督办", ""},
		{"remove", "complaint cmp_1 corrected to huli, noise/construction (officer:off_1): it leaves the case, which no team holds, to be routed there", "分拣更正为湖里区 建筑施工噪声，移出本案，重新派单", ""},
		{"resolve", "no_violation: 现场未发现施工", "无违法行为：现场未发现施工", ""},
		{"reveal_caller", "complaints cmp_1, cmp_2", "", ""},
		{"return", "噪声来自商铺，应由城管处理", "噪声来自商铺，应由城管处理", ""},
	} {
		text, rule := e.svc.reasonText(caseflow.AuditEntry{Action: tc.action, Reason: tc.reason})
		if !strings.Contains(text, tc.text) || (tc.text == "" && text != "") || rule != tc.rule {
			t.Errorf("%s %q: %q, rule %q; want %q, rule %q", tc.action, tc.reason, text, rule, tc.text, tc.rule)
		}
	}
}
