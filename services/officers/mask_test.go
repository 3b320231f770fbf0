package officers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func TestCallerMasked(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)
	ctx := context.Background()

	const phone, phone2 = "13812345678", "13698765432"
	s := e.openStream(whoOwn, "")
	id := e.newCase(ownTeam, complaint{name: "王小明", phone: phone, description: "工地半夜打桩，我是王小明，我的电话13812345678，请尽快处理"})
	e.merge(id, complaint{id: "cmp_mask_2", ticket: "TMASK2", description: "又在施工", name: "欧阳娜娜", phone: phone2})
	e.triage("unlocated", "")

	var seen []string
	for _, who := range []string{whoOwn, whoSupervisor, whoAdmin} {
		code, body := e.do(who, "GET", "/api/v1/cases/"+id, nil)
		if code != 200 {
			t.Fatalf("case as %s: %d %s", who, code, body)
		}
		seen = append(seen, string(body))
		var v CaseView
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Complaints) != 2 {
			t.Fatalf("complaints %+v", v.Complaints)
		}
		first, second := v.Complaints[0], v.Complaints[1]
		if first.CallerPhone != "138****5678" || first.CallerName != "王**" || !strings.Contains(first.Description, "138****5678") {
			t.Errorf("first caller shown as %q %q, description %q", first.CallerName, first.CallerPhone, first.Description)
		}
		if second.CallerPhone != "136****5432" || second.CallerName != "欧***" {
			t.Errorf("second caller shown as %q %q", second.CallerName, second.CallerPhone)
		}
		if first.Lon == nil || first.District != district || first.Category != "noise" || first.TicketID == "" || first.Address == "" {
			t.Errorf("complaint %+v lacks its place or category", first)
		}
	}
	for _, path := range []string{"/api/v1/assignments", "/api/v1/triage"} {
		code, body := e.do(whoAdmin, "GET", path, nil)
		if code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		seen = append(seen, string(body))
	}
	ev := s.next()
	b, _ := json.Marshal(ev.data)
	seen = append(seen, string(b))
	rows, err := e.pool.Query(ctx, `SELECT payload::text FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, p)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, out := range seen {
		for _, secret := range []string{phone, phone2, "13912345678", "王小明", "欧阳娜娜", "赵小六"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows in %s", secret, out)
			}
		}
	}

	// The reveal: the assigned team only, audited.
	for _, who := range []string{whoSupervisor, whoAdmin, whoOtherTeam} {
		if code, body := e.do(who, "POST", "/api/v1/cases/"+id+"/callback-reveal", nil); code == 200 {
			t.Errorf("%s revealed the callers: %s", who, body)
		}
	}
	code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", map[string]string{"complaint_id": "cmp_mask_2"})
	if code != 200 {
		t.Fatalf("reveal: %d %s", code, body)
	}
	var rev struct {
		CaseID  string   `json:"case_id"`
		Callers []Caller `json:"callers"`
	}
	if err := json.Unmarshal(body, &rev); err != nil {
		t.Fatal(err)
	}
	if len(rev.Callers) != 1 || rev.Callers[0].Phone != phone2 || rev.Callers[0].Name != "欧***" || rev.Callers[0].TicketID != "TMASK2" {
		t.Fatalf("revealed %+v", rev.Callers)
	}
	code, body = e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", nil)
	if code != 200 || !strings.Contains(string(body), phone) || !strings.Contains(string(body), phone2) {
		t.Fatalf("reveal all: %d %s", code, body)
	}
	if code, _ := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/callback-reveal", map[string]string{"complaint_id": "cmp_elsewhere"}); code != 404 {
		t.Fatalf("reveal of a complaint of no case: %d", code)
	}
	var audits int
	var actor, reason string
	if err := e.pool.QueryRow(ctx, `SELECT count(*), max(actor), min(reason) FROM case_audit WHERE case_id = $1 AND action = 'reveal_caller'`, id).Scan(&audits, &actor, &reason); err != nil {
		t.Fatal(err)
	}
	if audits != 2 || actor != "officer:"+e.ids[whoOwn] || !strings.Contains(reason, "cmp_mask_2") {
		t.Fatalf("reveals audited %d times by %s (%s), want 2 by the officer", audits, actor, reason)
	}
	if strings.Contains(reason, phone) || strings.Contains(reason, phone2) {
		t.Fatalf("the audit holds a phone: %s", reason)
	}
}
