package officers

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCaseLifecycle walks a case through the API the way an officer does
// and checks that every step went through caseflow: the audit log and the
// case events the hotline callbacks are made from.
func TestCaseLifecycle(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	id := e.newCase(ownTeam, complaint{})

	steps := []struct {
		path string
		body any
		want int
	}{
		{"/resolve", map[string]string{"outcome": "rectified", "note": "已责令停工"}, 409}, // not signed for yet
		{"/accept", nil, 200},
		{"/accept", nil, 409},
		{"/resolve", map[string]string{"outcome": "penalized", "note": "罚款两万元"}, 200},
		{"/return", map[string]string{"reason": "too late"}, 409},
	}
	for _, s := range steps {
		code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+s.path, s.body)
		if code != s.want {
			t.Fatalf("%s: %d %s, want %d", s.path, code, body, s.want)
		}
		if code == 409 && problem(t, body).Type != "https://nuisance.xm.gov/problems/conflict" {
			t.Fatalf("%s: conflict problem %s", s.path, body)
		}
	}
	var outcome, note string
	if err := e.pool.QueryRow(ctx, `SELECT outcome, note FROM cases WHERE id = $1`, id).Scan(&outcome, &note); err != nil {
		t.Fatal(err)
	}
	if outcome != "penalized" || note != "罚款两万元" {
		t.Fatalf("case resolved as %s %q", outcome, note)
	}
	rows, err := e.pool.Query(ctx, `SELECT action || ':' || actor FROM case_audit WHERE case_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		audit = append(audit, a)
	}
	officer := "officer:" + e.ids[whoOwn]
	want := []string{"open:service:router", "assign:service:router", "accept:" + officer, "resolve:" + officer}
	if !slices.Equal(audit, want) {
		t.Fatalf("audit %v, want %v", audit, want)
	}
	var subjects []string
	rows, err = e.pool.Query(ctx, `SELECT subject FROM outbox WHERE payload->>'case_id' = $1 ORDER BY seq`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, s)
	}
	if !slices.Equal(subjects, []string{"case.opened", "case.assigned." + ownTeam, "case.accepted", "case.resolved"}) {
		t.Fatalf("case events %v", subjects)
	}

	// The case view's trail keeps the officer's id (the events carry no
	// name) and says who it is for the reader (actor_name).
	code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil)
	if code != 200 || !strings.Contains(string(body), officer) {
		t.Fatalf("case view: %d %s", code, body)
	}

	// Returned: the case leaves the team's inbox.
	ret := e.newCase(ownTeam, complaint{})
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+ret+"/return", map[string]string{"reason": "噪声来自商铺，应由城管处理"}); code != 200 {
		t.Fatalf("return: %d %s", code, body)
	}
	if code, _ := e.do(whoOwn, "GET", "/api/v1/cases/"+ret, nil); code != 404 {
		t.Fatalf("a returned case stays visible to the team: %d", code)
	}
}

// TestBadInput checks that invalid input is a 400 problem naming the field.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{})
	e.accept(id)
	moved := e.newCase(ownTeam, complaint{})
	due := e.dueIn(e.newCase(ownTeam, complaint{}), 72*time.Hour)
	for _, tc := range []struct {
		who, path string
		body      any
		field     string
	}{
		{whoOwn, "/resolve", map[string]string{}, "/outcome"},
		{whoOwn, "/resolve", map[string]string{"outcome": "fixed"}, "/outcome"},
		{whoOwn, "/resolve", map[string]any{"outcome": 3}, "/outcome"},
		{whoOwn, "/resolve", map[string]string{"outcome": "rectified", "note": strings.Repeat("很", maxText+1)}, "/note"},
		{whoOwn, "/resolve", map[string]string{"outcome": "rectified", "notes": "x"}, "/notes"},
		{whoOwn, "/resolve", map[string]string{"outcome": "rectified"}, "/note"},
		{whoOwn, "/resolve", map[string]string{"outcome": "no_violation", "note": " \n\t "}, "/note"},
		{whoOwn, "/return", map[string]string{"reason": "  "}, "/reason"},
		{whoOwn, "/accept", []int{1}, "/"},
		{whoSupervisor, "/reassign", map[string]string{"reason": "x"}, "/team"},
		{whoSupervisor, "/reassign", map[string]string{"team": "gulangyu-eco", "reason": "x"}, "/team"},
		{whoSupervisor, "/reassign", map[string]string{"team": otherTeam}, "/reason"},
		{whoAdmin, "/reassign", map[string]string{"team": "huli-eco", "reason": "x"}, "/team"},
		{whoSupervisor, "/extend", map[string]string{"reason": "分阶段整改"}, "/resolve_due"},
		{whoSupervisor, "/extend", map[string]string{"resolve_due": "下周五", "reason": "分阶段整改"}, "/resolve_due"},
		{whoSupervisor, "/extend", map[string]string{"resolve_due": "2024-03-01T23:59:59+08:00", "reason": "分阶段整改"}, "/resolve_due"},
		{whoSupervisor, "/extend", map[string]string{"resolve_due": time.Now().AddDate(0, 3, 0).Format(time.RFC3339), "reason": "分阶段整改"}, "/resolve_due"},
		{whoSupervisor, "/extend", map[string]string{"resolve_due": time.Now().AddDate(0, 0, 20).Format(time.RFC3339)}, "/reason"},
	} {
		target := id
		switch tc.path {
		case "/reassign":
			target = moved
		case "/extend":
			target = due
		}
		code, body := e.do(tc.who, "POST", "/api/v1/cases/"+target+tc.path, tc.body)
		if code != 400 {
			t.Errorf("%s %v: status %d, want 400: %s", tc.path, tc.body, code, body)
			continue
		}
		p := problem(t, body)
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s %v: problem %+v, want field %s", tc.path, tc.body, p, tc.field)
		}
	}
	for _, q := range []string{"status=lost", "limit=0", "limit=1000", "cursor=@@@", "cursor=" + url.QueryEscape("bm90IGEgY3Vyc29y")} {
		code, body := e.do(whoOwn, "GET", "/api/v1/assignments?"+q, nil)
		field := strings.SplitN(q, "=", 2)[0]
		if code != 400 || len(problem(t, body).Errors) != 1 || problem(t, body).Errors[0].Field != field {
			t.Errorf("assignments?%s: %d %s", q, code, body)
		}
	}
	if got := e.status(id); got != "accepted" {
		t.Fatalf("rejected input changed the case to %s", got)
	}
}

// TestAssignmentsPaging pages through an inbox (待办: assigned and
// accepted) and filters it by status. Every case of the fixture is overdue (its deadlines are in 2024) and of
// normal priority: the nearest deadline comes first, the sign-for one
// of a case not signed for (a day after the call) before the resolve one
// of a case signed for (five days after).
func TestAssignmentsPaging(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	var created []string
	for range 7 {
		created = append(created, e.newCase(ownTeam, complaint{}))
	}
	e.newCase(otherTeam, complaint{})
	e.accept(created[2])
	e.accept(created[5])
	ids := []string{created[0], created[1], created[3], created[4], created[6], created[2], created[5]}

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path := "/api/v1/assignments?status=assigned,accepted&limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, body := e.do(whoOwn, "GET", path, nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var page struct {
			Items      []Assignment `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 3 {
			t.Fatalf("page of %d", len(page.Items))
		}
		for _, a := range page.Items {
			got = append(got, a.CaseID)
			if a.TeamName == nil || *a.TeamName != "思明区生态环境执法大队" || a.ComplaintCount != 1 || a.SignDue == nil || a.AssignedAt == nil {
				t.Errorf("item %+v", a)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged %v, want %v", got, ids)
	}

	code, body := e.do(whoOwn, "GET", "/api/v1/assignments?status=accepted", nil)
	var acc struct{ Items []Assignment }
	if err := json.Unmarshal(body, &acc); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	if len(acc.Items) != 2 || acc.Items[0].CaseID != created[2] || acc.Items[1].CaseID != created[5] || acc.Items[0].Status != "accepted" {
		t.Fatalf("accepted: %+v", acc.Items)
	}
	code, body = e.do(whoOwn, "GET", "/api/v1/assignments?status=accepted,assigned&limit=200", nil)
	if err := json.Unmarshal(body, &acc); code != 200 || err != nil || len(acc.Items) != 7 {
		t.Fatalf("two statuses: %d %d", code, len(acc.Items))
	}
}
