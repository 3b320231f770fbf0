package officers

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// Once the router closes out (办结销号) a resolved case, the team that
// worked it still finds it under 已办结 (status=resolved,closed) and can
// open it, read only; no other team can, and its callers' phones are not
// revealed any more.
func TestATeamStillSeesTheCaseItClosed(t *testing.T) {
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{})
	e.accept(id)
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/resolve", map[string]string{"outcome": "rectified", "note": "已责令停工"}); code != http.StatusOK {
		t.Fatalf("resolve: %d %s", code, body)
	}
	ctx := context.Background()
	if err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Close(ctx, tx, id, caseflow.Service("router"), "办结")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	list := func(who string) []Assignment {
		t.Helper()
		code, body := e.do(who, "GET", "/api/v1/assignments?status=resolved,closed", nil)
		var out struct{ Items []Assignment }
		if err := json.Unmarshal(body, &out); err != nil || code != http.StatusOK {
			t.Fatalf("list: %d %s", code, body)
		}
		return out.Items
	}
	if items := list(whoOwn); len(items) != 1 || items[0].CaseID != id || items[0].Status != caseflow.StatusClosed {
		t.Errorf("the team's 已办结 list: %+v, want its closed case", items)
	}
	if code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil); code != http.StatusOK {
		t.Errorf("the team opens its closed case: %d %s", code, body)
	}
	if items := list(whoOtherTeam); len(items) != 0 {
		t.Errorf("another team lists %+v", items)
	}
	if code, _ := e.do(whoOtherTeam, "GET", "/api/v1/cases/"+id, nil); code != http.StatusNotFound {
		t.Errorf("another team opens the closed case: %d", code)
	}
	if code, _ := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/accept", nil); code != http.StatusNotFound {
		t.Errorf("accept of the closed case: %d, want 404 (nothing to act on)", code)
	}
}
