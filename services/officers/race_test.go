package officers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
)

// An officer taps 签收 (or 退单) while the district's supervisor moves the
// case to another team (改派). The reassign commits while the officer's
// action waits for the case's lock: the action is then refused as on any
// other team's case, and the new team's assignment is left as it was.
// (Top-level tests: a subtest's name, with its slash, would be in the
// case id and so in the path.)
func TestAnAcceptRacingAReassignIsRefused(t *testing.T) { raceReassign(t, "accept", nil) }

func TestAReturnRacingAReassignIsRefused(t *testing.T) {
	raceReassign(t, "return", map[string]string{"reason": "不属于本单位职责"})
}

func raceReassign(t *testing.T, action string, body any) {
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{})
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	sup := caseflow.Actor{ID: "officer:" + e.ids[whoSupervisor], District: district, Role: "supervisor"}
	if _, err := caseflow.Reassign(ctx, tx, id, sup, otherTeam, "商铺噪声属城管"); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code int
		body []byte
	}
	done := make(chan answer, 1)
	go func() {
		code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/"+action, body)
		done <- answer{code, body}
	}()
	waitForLockWait(t, e, id)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.code != http.StatusNotFound {
		t.Errorf("%s by %s after the case went to %s: %d %s, want 404", action, ownTeam, otherTeam, a.code, a.body)
	}
	var status, team string
	var accepted *time.Time
	if err := e.pool.QueryRow(ctx, `SELECT a.status, a.team, a.accepted_at FROM assignments a
		WHERE a.case_id = $1 ORDER BY a.id DESC LIMIT 1`, id).Scan(&status, &team, &accepted); err != nil {
		t.Fatal(err)
	}
	if status != "active" || team != otherTeam || accepted != nil {
		t.Errorf("the new team's assignment is %s, %s, accepted at %v; want active, %s, not accepted", status, team, accepted, otherTeam)
	}
	var audited int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = $2`, id, action).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 0 {
		t.Errorf("%d %s entries in the case's record", audited, action)
	}
}

// waitForLockWait returns once a statement of the test's database waits
// for a lock: the officer's action waiting for the case the reassign holds.
func waitForLockWait(t *testing.T, e *env, caseID string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatalf("the action on %s never waited for the case's lock", caseID)
}
