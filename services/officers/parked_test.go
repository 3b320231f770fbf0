package officers

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// park returns a case as its team would and puts its complaints on the
// triage list as the router does when no team is left for it
// (router.HandleCaseReturned): the case waits for a supervisor.
func (e *env) park(caseID string) []string {
	e.t.Helper()
	ctx := context.Background()
	var complaints []string
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Return(ctx, tx, caseID, caseflow.Actor{ID: "officer:x", Team: ownTeam, Role: caseflow.RoleOfficer}, "不是本单位职责"); err != nil {
			return err
		}
		var err error
		if complaints, err = caseflow.Complaints(ctx, tx, caseID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind)
			SELECT u, 'case '||$2||' returned: no team left', 'unrouted' FROM unnest($1::text[]) u`, complaints, caseID)
		return err
	})
	if err != nil {
		e.t.Fatalf("park %s: %v", caseID, err)
	}
	return complaints
}

func (e *env) triageIDs(who string) []string {
	e.t.Helper()
	code, body := e.do(who, "GET", "/api/v1/triage", nil)
	if code != 200 {
		e.t.Fatalf("triage: %d %s", code, body)
	}
	var out struct{ Items []TriageItem }
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, it := range out.Items {
		ids = append(ids, it.ComplaintID)
	}
	return ids
}

// A complaint of a returned case that no team is left for waits on the
// triage list. A correction to the case's own district and kind cannot
// help it: routed again, it would reach only the teams that returned it.
// That correction is refused, pointing the supervisor at the case (改派);
// one to another district or kind is taken (the router moves the
// complaint out of the case: services/router).
func TestCorrectingAParkedComplaintIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	caseID := e.newCase(ownTeam, complaint{})
	cmp := e.park(caseID)[0]
	// The triage list names the case, for the console to lead to it.
	code, body := e.do(whoSupervisor, "GET", "/api/v1/triage", nil)
	var list struct{ Items []TriageItem }
	if err := json.Unmarshal(body, &list); code != 200 || err != nil {
		t.Fatalf("triage: %d %s", code, body)
	}
	if i := slices.IndexFunc(list.Items, func(it TriageItem) bool { return it.ComplaintID == cmp }); i < 0 || list.Items[i].CaseID != caseID {
		t.Errorf("the triage entry of %s does not name its case %s: %s", cmp, caseID, body)
	}
	code, body = e.do(whoSupervisor, "POST", "/api/v1/triage/"+cmp+"/correct",
		map[string]any{"district": "siming", "category": "noise", "subcategory": "construction"})
	if code != 409 {
		t.Fatalf("correcting complaint %s of returned case %s: %d %s; want 409 naming the case to reassign", cmp, caseID, code, body)
	}
	// Another kind of nuisance: the complaint was classified wrong, and
	// the correction is what sends it to the right team.
	code, body = e.do(whoSupervisor, "POST", "/api/v1/triage/"+cmp+"/correct",
		map[string]any{"district": "siming", "category": "dust", "subcategory": "construction_site"})
	if code != 202 {
		t.Fatalf("correcting complaint %s of returned case %s to another kind: %d %s; want 202", cmp, caseID, code, body)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM triage_corrections WHERE complaint_id = $1 AND category = 'dust'`, cmp).Scan(&n); err != nil || n != 1 {
		t.Errorf("the correction of %s recorded %d times (%v), want once", cmp, n, err)
	}
}

// Once a supervisor reassigns (改派) the case, its complaints are routed:
// they must leave the triage list instead of waiting there for ever.
func TestReassigningAParkedCaseClearsItsTriage(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	caseID := e.newCase(ownTeam, complaint{})
	cmps := e.park(caseID)
	if got := e.triageIDs(whoSupervisor); !slices.Contains(got, cmps[0]) {
		t.Fatalf("parked complaint %s not on the triage list: %v", cmps[0], got)
	}
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+caseID+"/reassign",
		map[string]string{"team": otherTeam, "reason": "改由城管执法"}); code != 200 {
		t.Fatalf("reassign: %d %s", code, body)
	}
	if got := e.triageIDs(whoSupervisor); slices.Contains(got, cmps[0]) {
		t.Errorf("complaint %s of case %s, reassigned to %s, is still on the triage list", cmps[0], caseID, otherTeam)
	}
}
