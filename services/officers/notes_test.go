package officers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// TestNotesMasked: what an officer types into a note or a reason (办理说明,
// 退单理由, 改派理由, 延期理由) is kept in the case's row, its audit, its
// assignments, the case event (on JetStream, which the hotline's callback
// and the live stream read) and every answer of the API. A caller's
// number or ID card, or the caller's name copied from the case, typed into
// it comes out masked in each of them, whatever form it was typed in; an
// ordinary note comes out as typed.
func TestNotesMasked(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)
	ctx := context.Background()

	type note struct {
		who, action, field string
		text, want         string
		secrets            []string // what must show nowhere
	}
	notes := []note{
		{whoOwn, "resolve", "note", "已电话联系王小明13812345678，答复满意", "已电话联系王**138****5678，答复满意", []string{"13812345678", "王小明"}},
		{whoOwn, "resolve", "note", "回访１３８１２３４５６７８，满意", "回访138****5678，满意", []string{"１３８１２３４５６７８"}},
		{whoOwn, "resolve", "note", "回访138 1234 5678，满意", "回访138****5678，满意", []string{"138 1234 5678"}},
		{whoOwn, "resolve", "note", "回访138-1234-5678，满意", "回访138****5678，满意", []string{"138-1234-5678"}},
		{whoOwn, "resolve", "note", "回访+86 138 1234 5678，满意", "回访+86138****5678，满意", []string{"138 1234 5678"}},
		{whoOwn, "resolve", "note", "回访座机0592-1234567，满意", "回访座机059****4567，满意", []string{"0592-1234567", "1234567"}},
		{whoOwn, "return", "reason", "非本队职责；来电人身份证350203199001011248，座机0592 123 4567",
			"非本队职责；来电人身份证350***********1248，座机059****4567", []string{"350203199001011248", "0592 123 4567", "19900101"}},
		{whoSupervisor, "reassign", "reason", "来电人欧阳娜娜（13698765432）反映为商铺噪声", "来电人欧***（136****5432）反映为商铺噪声",
			[]string{"欧阳娜娜", "13698765432"}},
		{whoSupervisor, "extend", "reason", "与来电人王小明（138 1234 5678）约定分阶段整改", "与来电人王**（138****5678）约定分阶段整改",
			[]string{"王小明", "138 1234 5678"}},
		{whoOwn, "resolve", "note", "已打5551234联系来电人，门牌号23456789核实无误", "已打*******联系来电人，门牌号23456789核实无误", []string{"5551234"}},
		// Ordinary notes, as typed.
		{whoOwn, "resolve", "note", "2024-03-15 22:30复测，夜间噪声65.3分贝，已责令停工；工单12345-20240315-000123，检查3次，罚款20000元",
			"2024-03-15 22:30复测，夜间噪声65.3分贝，已责令停工；工单12345-20240315-000123，检查3次，罚款20000元", nil},
		{whoOwn, "return", "reason", "属于城管职责（湖滨南路100号3栋1201室，2024年3月15日）", "属于城管职责（湖滨南路100号3栋1201室，2024年3月15日）", nil},
	}
	var ids []string
	for i, nt := range notes {
		c := complaint{}
		if nt.action == "reassign" {
			c.name, c.phone = "欧阳娜娜", "13698765432"
		}
		id := e.newCase(ownTeam, c)
		ids = append(ids, id)
		body := map[string]string{nt.field: nt.text}
		switch nt.action {
		case "resolve":
			e.accept(id)
			body["outcome"] = "rectified"
		case "reassign":
			body["team"] = otherTeam
		case "extend":
			e.dueIn(id, 72*time.Hour)
			body["resolve_due"] = e.workingDue(10 * 24 * time.Hour)
		}
		code, answer := e.do(nt.who, "POST", "/api/v1/cases/"+id+"/"+nt.action, body)
		if code != 200 {
			t.Fatalf("note %d: %s: %d %s", i, nt.action, code, answer)
		}
		if nt.action == "resolve" {
			var v CaseView
			if err := json.Unmarshal(answer, &v); err != nil || v.Note != nt.want {
				t.Errorf("note %d: the answer's note is %q, want %q", i, v.Note, nt.want)
			}
		}
	}

	for i, nt := range notes {
		id := ids[i]
		e.waitPublished(n, id)
		// Where the note is kept: the case, its audit, its assignments.
		var stored []string
		rows, err := e.pool.Query(ctx, `SELECT note FROM cases WHERE id = $1 AND note IS NOT NULL
			UNION ALL SELECT reason FROM case_audit WHERE case_id = $1 AND reason IS NOT NULL
			UNION ALL SELECT reason FROM assignments WHERE case_id = $1 AND reason IS NOT NULL`, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, s)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		// What the case event carries on the stream, as the hotline's
		// callback and the officers' live stream read it.
		published := e.published(n, id)
		_, view := e.do(whoAdmin, "GET", "/api/v1/cases/"+id, nil)

		for where, texts := range map[string][]string{"the database": stored, "the case event": published, "the case view": {string(view)}} {
			found := false
			for _, s := range texts {
				found = found || strings.Contains(s, nt.want) || strings.Contains(s, jsonString(nt.want))
				for _, secret := range nt.secrets {
					if strings.Contains(s, secret) {
						t.Errorf("note %d (%s): %q shows in %s", i, nt.action, secret, where)
					}
				}
			}
			if !found {
				t.Errorf("note %d (%s): %s holds no %q", i, nt.action, where, nt.want)
			}
		}
	}
}

// TestNotesStoredWholeMasked: a note taken before notes were masked as
// they are accepted is still whole in the database; the case view masks
// it on the way out.
func TestNotesStoredWholeMasked(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	id := e.newCase(ownTeam, complaint{})
	if _, err := e.pool.Exec(ctx, `WITH a AS (INSERT INTO case_audit (case_id, actor, from_status, to_status, action, reason)
			VALUES ($1, 'officer:old', 'assigned', 'assigned', 'note', '回访13812345678'))
		UPDATE cases SET note = '座机0592-1234567' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil)
	if code != 200 {
		t.Fatalf("case: %d %s", code, body)
	}
	for _, secret := range []string{"13812345678", "1234567"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("%q shows in the case view: %s", secret, body)
		}
	}
	if !strings.Contains(string(body), "回访138****5678") || !strings.Contains(string(body), "059****4567") {
		t.Errorf("the case view lost the notes: %s", body)
	}
}

// published returns the payloads of the CASES stream's events of case id.
func (e *env) published(n *testenv.NATS, id string) []string {
	e.t.Helper()
	ctx := context.Background()
	st, err := n.JS.Stream(ctx, "CASES")
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		var ev struct {
			CaseID string `json:"case_id"`
		}
		if json.Unmarshal(m.Data, &ev) == nil && ev.CaseID == id {
			out = append(out, string(m.Data))
		}
	}
	return out
}

// jsonString is s as encoding/json writes it inside a string, without
// the quotes.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
