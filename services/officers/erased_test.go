package officers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// eraseAndReopen resolves case id 40 days ago, lets the retention job
// erase its callers (NUISANCE_PII_RETENTION=30d) and reopens it for its
// team, as the router does when the nuisance comes back within the
// reopen window: a retention shorter than the window leaves a case being
// worked with callers erased. It returns when the callers were erased.
func (e *env) eraseAndReopen(id string) time.Time {
	e.t.Helper()
	ctx := context.Background()
	e.accept(id)
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Resolve(ctx, tx, id, caseflow.Service("test"), caseflow.OutcomeRectified, ""); err != nil {
			return err
		}
		// Resolved, and made, long ago.
		_, err := tx.Exec(ctx, `WITH k AS (UPDATE cases SET resolved_at = now() - interval '40 days' WHERE id = $1)
			UPDATE complaints SET created_at = now() - interval '45 days'
			WHERE id IN (SELECT complaint_id FROM case_complaints WHERE case_id = $1)`, id)
		return err
	})
	if err != nil {
		e.t.Fatalf("resolve %s long ago: %v", id, err)
	}
	job, err := retention.New(retention.Config{PII: 30 * 24 * time.Hour}, e.pool, testenv.Log(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if res, err := job.RunOnce(ctx); err != nil || res.Erased == 0 {
		e.t.Fatalf("retention pass: %+v %v", res, err)
	}
	var at time.Time
	if err := e.pool.QueryRow(ctx, `SELECT max(m.pii_erased_at) FROM case_complaints cc JOIN complaints m ON m.id = cc.complaint_id
		WHERE cc.case_id = $1`, id).Scan(&at); err != nil {
		e.t.Fatal(err)
	}
	err = pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reopen(ctx, tx, id, caseflow.Service("router"), time.Now().Add(24*time.Hour), time.Now().Add(72*time.Hour), "test")
		return err
	})
	if err != nil {
		e.t.Fatalf("reopen %s: %v", id, err)
	}
	return at
}

// A caller the retention job erased is shown as erased, and when, both
// in the case's complaints and to the team asking for the number to call
// back: not as an empty number, nor as no caller at all. A caller still
// held is revealed beside it as before, and only that reveal is audited.
func TestErasedCallerSaysSo(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	id := e.newCase(ownTeam, complaint{id: "cmp_erased", ticket: "TERASED"})
	erasedAt := e.eraseAndReopen(id)
	e.merge(id, complaint{id: "cmp_back", ticket: "TBACK", description: "又在施工", name: "欧阳娜娜", phone: "13698765432"})

	type shown struct {
		ComplaintID    string     `json:"complaint_id"`
		CallerName     string     `json:"caller_name"`
		CallerPhone    string     `json:"caller_phone"`
		CallerErasedAt *time.Time `json:"caller_erased_at"`
	}
	code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil)
	if code != 200 {
		t.Fatalf("case: %d %s", code, body)
	}
	var v struct{ Complaints []shown }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Complaints) != 2 {
		t.Fatalf("complaints %s", body)
	}
	gone, held := v.Complaints[0], v.Complaints[1]
	if gone.ComplaintID != "cmp_erased" || gone.CallerErasedAt == nil || !gone.CallerErasedAt.Equal(erasedAt) || gone.CallerPhone != "" {
		t.Errorf("the erased caller shown as %+v, want erased at %s", gone, erasedAt)
	}
	if held.CallerPhone != "136****5432" || held.CallerErasedAt != nil {
		t.Errorf("the caller still held shown as %+v", held)
	}

	type revealed struct {
		ComplaintID string     `json:"complaint_id"`
		Phone       string     `json:"phone"`
		ErasedAt    *time.Time `json:"erased_at"`
	}
	reveal := func(complaintID string) []revealed {
		t.Helper()
		var in any
		if complaintID != "" {
			in = map[string]string{"complaint_id": complaintID}
		}
		code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", in)
		if code != 200 {
			t.Fatalf("reveal %s: %d %s", complaintID, code, body)
		}
		var out struct{ Callers []revealed }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Callers
	}
	if got := reveal("cmp_erased"); len(got) != 1 || got[0].Phone != "" || got[0].ErasedAt == nil || !got[0].ErasedAt.Equal(erasedAt) {
		t.Errorf("reveal of the erased caller: %+v, want no number and erased at %s", got, erasedAt)
	}
	got := reveal("")
	if len(got) != 2 || got[0].ErasedAt == nil || got[1].Phone != "13698765432" || got[1].ErasedAt != nil {
		t.Errorf("reveal of both: %+v", got)
	}
	// Nothing of the erased caller was shown: only the reveal that showed
	// a number is in the case's record.
	var reasons []string
	rows, err := e.pool.Query(ctx, `SELECT reason FROM case_audit WHERE case_id = $1 AND action = 'reveal_caller' ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	if reasons, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 1 || strings.Contains(reasons[0], "cmp_erased") || !strings.Contains(reasons[0], "cmp_back") {
		t.Errorf("reveals recorded: %q, want one of cmp_back alone", reasons)
	}
}

// A work order that came with no caller (the hotline sent neither name
// nor phone) has nothing the retention job could erase: its case view and
// call-back reveal show it as before, with no caller and no erasure,
// beside a caller of the same case that was erased. (The job marked every
// complaint it swept, and the view read the mark as "caller erased".)
func TestNoCallerIsNotSaidErased(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	id := e.newCase(ownTeam, complaint{id: "cmp_had_caller", ticket: "THADCALLER"})
	e.merge(id, complaint{id: "cmp_no_caller", ticket: "TNOCALLER", description: "工地夜间施工"})
	erasedAt := e.eraseAndReopen(id)

	code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil)
	if code != 200 {
		t.Fatalf("case: %d %s", code, body)
	}
	var v struct {
		Complaints []struct {
			ComplaintID    string     `json:"complaint_id"`
			CallerPhone    string     `json:"caller_phone"`
			CallerErasedAt *time.Time `json:"caller_erased_at"`
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	erased := map[string]*time.Time{}
	for _, c := range v.Complaints {
		erased[c.ComplaintID] = c.CallerErasedAt
	}
	if at := erased["cmp_had_caller"]; at == nil || !at.Equal(erasedAt) {
		t.Errorf("the erased caller: erased at %v, want %s", at, erasedAt)
	}
	if at, ok := erased["cmp_no_caller"]; !ok || at != nil {
		t.Errorf("the work order with no caller: erased at %v (listed %v), want no erasure said", at, ok)
	}

	code, body = e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", map[string]string{"complaint_id": "cmp_no_caller"})
	if code != 200 {
		t.Fatalf("reveal: %d %s", code, body)
	}
	var out struct {
		Callers []struct {
			Phone    string     `json:"phone"`
			ErasedAt *time.Time `json:"erased_at"`
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Callers) != 1 || out.Callers[0].Phone != "" || out.Callers[0].ErasedAt != nil {
		t.Errorf("reveal of the work order with no caller: %s, want no number and no erasure", body)
	}
	var audits int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = 'reveal_caller'`,
		id).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	if audits != 0 {
		t.Errorf("%d reveals recorded, want none: no number was shown", audits)
	}
}
