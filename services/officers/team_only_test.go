package officers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/auth"
)

// A supervisor (or an admin) reads the team's case but does not sign for
// it (签收), resolve it (办结) or return it (退单) in the team's name: the
// answer is 403 problem+json saying whose it is and what a supervisor
// does instead, and the case, its record and the hotline hear nothing.
// A supervisor who is a member of the team acts as one.
func TestSupervisorDoesNotActForTheTeam(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	_, memberTok, err := auth.NewStore(e.pool, 0).Add(ctx, auth.NewOfficer{Name: "林七", Role: auth.RoleSupervisor, Team: ownTeam})
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["member-supervisor"] = memberTok

	refused := func(who, id, action, word string, body any) {
		t.Helper()
		req := e.srv.URL + "/api/v1/cases/" + id + "/" + action
		code, answer := e.do(who, "POST", "/api/v1/cases/"+id+"/"+action, body)
		if code != http.StatusForbidden {
			t.Errorf("%s %s: %d %s, want 403", who, req, code, answer)
			return
		}
		p := problem(t, answer)
		if p.Type != "https://nuisance.xm.gov/problems/forbidden" {
			t.Errorf("%s %s: problem type %q", who, action, p.Type)
		}
		for _, w := range []string{word, "思明区生态环境执法大队 (siming-eco)", "改派", "延期"} {
			if !strings.Contains(p.Detail, w) {
				t.Errorf("%s %s: %q does not say %q", who, action, p.Detail, w)
			}
		}
	}
	id := e.newCase(ownTeam, complaint{})
	for _, who := range []string{whoSupervisor, whoAdmin} {
		refused(who, id, "accept", "签收", nil)
		refused(who, id, "return", "退单", map[string]string{"reason": "属于城管职责"})
	}
	if got := e.status(id); got != "assigned" {
		t.Fatalf("after the refusals case %s is %s, want assigned", id, got)
	}
	var acts int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action IN ('accept', 'return')`, id).Scan(&acts); err != nil {
		t.Fatal(err)
	}
	var told int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE payload->>'case_id' = $1 AND subject IN ('case.accepted', 'case.returned')`, id).Scan(&told); err != nil {
		t.Fatal(err)
	}
	if acts != 0 || told != 0 {
		t.Errorf("refused actions left %d audit entries and %d events", acts, told)
	}

	if code, body := e.do("member-supervisor", "POST", "/api/v1/cases/"+id+"/accept", nil); code != http.StatusOK {
		t.Fatalf("a supervisor of the team signs for its case: %d %s", code, body)
	}
	for _, who := range []string{whoSupervisor, whoAdmin} {
		refused(who, id, "resolve", "办结", map[string]string{"outcome": "rectified", "note": "已责令停工"})
	}
	if got := e.status(id); got != "accepted" {
		t.Errorf("case %s is %s, want accepted", id, got)
	}
}
