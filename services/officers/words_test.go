package officers

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// chinese reports whether s holds a Chinese character: the refusal is
// worded for the reader, not left in English around a name or a time.
func chinese(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// slugs are the statuses as the database stores them: a conflict names
// the case's status as the console does (caseflow.StatusNames), never so.
var slugs = regexp.MustCompile(`\b(open|assigned|accepted|resolved|returned|closed)\b`)

// readable checks a problem the console shows a supervisor or an officer:
// of the status wanted, its title, its detail and every field's detail in
// Chinese, a conflict with no status slug, and nothing of the callers'.
func readable(t *testing.T, name string, status int, body []byte, want int, says ...string) {
	t.Helper()
	var p httpx.Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Status == 0 {
		t.Errorf("%s: %d, not a problem: %s", name, status, body)
		return
	}
	if status != want || p.Status != want {
		t.Errorf("%s: %d (problem %d) %s, want %d", name, status, p.Status, body, want)
	}
	if !chinese(p.Title) {
		t.Errorf("%s: title %q is not in Chinese", name, p.Title)
	}
	if !chinese(p.Detail) {
		t.Errorf("%s: detail %q is not in Chinese", name, p.Detail)
	}
	for _, f := range p.Errors {
		if !chinese(f.Detail) {
			t.Errorf("%s: the detail %q of field %s is not in Chinese", name, f.Detail, f.Field)
		}
	}
	if m := slugs.FindString(p.Detail); m != "" && want == http.StatusConflict {
		t.Errorf("%s: detail %q names the status %q as the database does", name, p.Detail, m)
	}
	for _, pii := range []string{"王小明", "13812345678"} {
		if strings.Contains(string(body), pii) {
			t.Errorf("%s: the problem tells the caller's %q: %s", name, pii, body)
		}
	}
	for _, w := range says {
		if !strings.Contains(p.Detail, w) {
			t.Errorf("%s: detail %q does not say %q", name, p.Detail, w)
		}
	}
}

// Every refusal an officer or a supervisor can meet in the officers' API
// is worded in Chinese (the console shows title and detail as they are),
// the problem's type and fields unchanged: a walk through each route's
// refusals, from a missing token to a conflict of the case's status.
func TestRefusalsReadInChinese(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	unknown, _, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["malformed"], e.tokens["unknown"] = "not-a-token", unknown

	accepted := e.newCase(ownTeam, complaint{id: "cmp_words_1", ticket: "TW1"})
	if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+accepted+"/accept", nil); code != 200 {
		t.Fatalf("accept: %d %s", code, body)
	}
	overdue := e.newCase(ownTeam, complaint{id: "cmp_words_2", ticket: "TW2"}) // due in 2024
	open := e.dueIn(e.newCase(ownTeam, complaint{id: "cmp_words_3", ticket: "TW3"}), 48*time.Hour)
	inCase := "cmp_words_3"
	if _, err := e.pool.Exec(t.Context(), `INSERT INTO triage (complaint_id, reason, kind) VALUES ($1, 'test', 'unrouted')`, inCase); err != nil {
		t.Fatal(err)
	}
	sat := firstSaturdayAfter(time.Now().AddDate(0, 0, 3))
	for e.svc.cal.IsWorkingDay(sat) {
		sat = firstSaturdayAfter(sat)
	}
	restDay := time.Date(sat.Year(), sat.Month(), sat.Day(), 23, 59, 59, 0, e.svc.cal.Location()).Format(time.RFC3339)
	raw := func(s string) []byte { return []byte(s) }

	for _, tt := range []struct {
		name, who, method, path string
		body                    []byte
		want                    int
		says                    []string
	}{
		{"no token", whoNone, "GET", "/api/v1/me", nil, 401, nil},
		{"a malformed token", "malformed", "GET", "/api/v1/me", nil, 401, nil},
		{"an unknown token", "unknown", "GET", "/api/v1/me", nil, 401, nil},
		{"a disabled token", whoDisabled, "GET", "/api/v1/me", nil, 401, nil},
		{"an officer corrects", whoOwn, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{}`), 403, []string{"区级主管"}},
		{"an officer reassigns", whoOwn, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"team":"siming-urban","reason":"x"}`), 403, nil},
		{"no such case", whoOwn, "GET", "/api/v1/cases/case_nope", nil, 404, []string{"case_nope"}},
		{"another team's case", whoOtherTeam, "GET", "/api/v1/cases/" + open, nil, 404, nil},
		{"accept twice", whoOwn, "POST", "/api/v1/cases/" + accepted + "/accept", nil, 409, []string{"处理中", "待签收"}},
		{"resolve before accepting", whoOwn, "POST", "/api/v1/cases/" + open + "/resolve", raw(`{"outcome":"rectified","note":"已责令停工"}`), 409, []string{"待签收", "处理中"}},
		{"a supervisor signs for", whoSupervisor, "POST", "/api/v1/cases/" + open + "/accept", nil, 403, []string{"思明区生态环境执法大队"}},
		{"a supervisor reveals", whoSupervisor, "POST", "/api/v1/cases/" + open + "/callback-reveal", nil, 403, nil},
		{"reveal a complaint of another case", whoOwn, "POST", "/api/v1/cases/" + open + "/callback-reveal", raw(`{"complaint_id":"cmp_words_1"}`), 404, nil},
		{"malformed JSON", whoOwn, "POST", "/api/v1/cases/" + open + "/accept", raw(`{"a":`), 400, nil},
		{"an unknown field", whoOwn, "POST", "/api/v1/cases/" + open + "/accept", raw(`{"why":"x"}`), 400, []string{"why"}},
		{"a field of another type", whoOwn, "POST", "/api/v1/cases/" + accepted + "/resolve", raw(`{"outcome":1}`), 400, nil},
		{"two JSON values", whoOwn, "POST", "/api/v1/cases/" + open + "/accept", raw(`{} {}`), 400, nil},
		{"not an object", whoOwn, "POST", "/api/v1/cases/" + open + "/accept", raw(`[]`), 400, nil},
		{"a body too large", whoOwn, "POST", "/api/v1/cases/" + open + "/return", raw(`{"reason":"` + strings.Repeat("吵", maxBody) + `"}`), 400, nil},
		{"no outcome", whoOwn, "POST", "/api/v1/cases/" + accepted + "/resolve", raw(`{}`), 400, []string{"已整改"}},
		{"no note", whoOwn, "POST", "/api/v1/cases/" + accepted + "/resolve", raw(`{"outcome":"rectified","note":"  "}`), 400, []string{"办理说明"}},
		{"an unknown outcome", whoOwn, "POST", "/api/v1/cases/" + accepted + "/resolve", raw(`{"outcome":"fixed"}`), 400, nil},
		{"a long note", whoOwn, "POST", "/api/v1/cases/" + accepted + "/resolve", raw(`{"outcome":"rectified","note":"` + strings.Repeat("吵", maxText+1) + `"}`), 400, nil},
		{"no reason to return", whoOwn, "POST", "/api/v1/cases/" + open + "/return", raw(`{}`), 400, nil},
		{"a long reason to return", whoOwn, "POST", "/api/v1/cases/" + open + "/return", raw(`{"reason":"` + strings.Repeat("吵", maxText+1) + `"}`), 400, nil},
		{"no team", whoSupervisor, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"reason":"x"}`), 400, nil},
		{"an unknown team", whoSupervisor, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"team":"nowhere-eco","reason":"x"}`), 400, nil},
		{"no reason to reassign", whoSupervisor, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"team":"siming-urban"}`), 400, nil},
		{"another district's team", whoSupervisor, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"team":"huli-eco","reason":"x"}`), 400, []string{"湖里区", "思明区"}},
		{"the same team", whoSupervisor, "POST", "/api/v1/cases/" + open + "/reassign", raw(`{"team":"siming-eco","reason":"x"}`), 409, []string{"思明区生态环境执法大队"}},
		{"no deadline", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"reason":"x"}`), 400, nil},
		{"not a deadline", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"resolve_due":"next week","reason":"x"}`), 400, nil},
		{"no reason to extend", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"resolve_due":"` + e.workingDue(72*time.Hour) + `"}`), 400, nil},
		{"a rest day", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"resolve_due":"` + restDay + `","reason":"x"}`), 400, []string{"星期六"}},
		{"a deadline sooner", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"resolve_due":"` + e.workingDue(2*time.Hour) + `","reason":"x"}`), 400, []string{"+08:00"}},
		{"a deadline too far", whoSupervisor, "POST", "/api/v1/cases/" + open + "/extend", raw(`{"resolve_due":"` + e.workingDue(60*24*time.Hour) + `","reason":"x"}`), 400, []string{"+08:00"}},
		{"an overdue case", whoSupervisor, "POST", "/api/v1/cases/" + overdue + "/extend", raw(`{"resolve_due":"` + e.workingDue(72*time.Hour) + `","reason":"x"}`), 409, []string{"+08:00", "督办"}},
		{"a bad limit", whoOwn, "GET", "/api/v1/assignments?limit=0", nil, 400, nil},
		{"a bad cursor", whoOwn, "GET", "/api/v1/assignments?cursor=%21", nil, 400, nil},
		{"a cursor of another kind", whoOwn, "GET", "/api/v1/assignments?cursor=eHl6", nil, 400, nil},
		{"a bad status", whoOwn, "GET", "/api/v1/assignments?status=done", nil, 400, nil},
		{"a bad kind of triage", whoSupervisor, "GET", "/api/v1/triage?kind=lost", nil, 400, nil},
		{"a bad history", whoSupervisor, "GET", "/api/v1/triage?history=maybe", nil, 400, nil},
		{"no triage entry", whoSupervisor, "POST", "/api/v1/triage/cmp_nope/correct", raw(`{"district":"siming","category":"noise","subcategory":"construction"}`), 404, nil},
		{"no district", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{}`), 400, []string{"思明区"}},
		{"an unknown district", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"gulangyu"}`), 400, nil},
		{"a long subdistrict", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","subdistrict":"` + strings.Repeat("街", 101) + `"}`), 400, nil},
		{"a longitude alone", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","lon":118.09}`), 400, nil},
		{"a latitude alone", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","lat":24.46}`), 400, nil},
		{"a longitude off the earth", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","lon":500,"lat":24.46}`), 400, nil},
		{"a latitude off the earth", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","lon":118.09,"lat":95}`), 400, nil},
		{"a point outside Xiamen", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","lon":116.4,"lat":39.9}`), 400, nil},
		{"a point in another district", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"huli","lon":118.09,"lat":24.46}`), 400, []string{"思明区", "湖里区"}},
		{"no category", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming"}`), 400, nil},
		{"an unknown category", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","category":"smell"}`), 400, nil},
		{"no subcategory", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","category":"noise"}`), 400, nil},
		{"an unknown subcategory", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","category":"noise","subcategory":"road"}`), 400, nil},
		{"a complaint of a case a team holds", whoSupervisor, "POST", "/api/v1/triage/" + inCase + "/correct", raw(`{"district":"siming","category":"noise","subcategory":"social_life"}`), 409, []string{"改派", "待签收"}},
		{"a bad Last-Event-ID", whoOwn, "GET", auth.StreamPath + "?last_event_id=x", nil, 400, nil},
		{"a bad heartbeat", whoOwn, "GET", auth.StreamPath + "?heartbeat=often", nil, 400, nil},
	} {
		resp, body := e.send(tt.who, tt.method, tt.path, tt.body)
		readable(t, tt.name, resp.StatusCode, body, tt.want, tt.says...)
	}

	// A triage entry corrected already, and one whose correction is
	// still being applied.
	left := e.triage("unlocated", "siming")
	if _, err := e.pool.Exec(t.Context(), `UPDATE triage SET resolved_at = now() WHERE complaint_id = $1`, left); err != nil {
		t.Fatal(err)
	}
	fix := raw(`{"district":"siming","category":"noise","subcategory":"construction"}`)
	resp, body := e.send(whoSupervisor, "POST", "/api/v1/triage/"+left+"/correct", fix)
	readable(t, "a complaint that left triage", resp.StatusCode, body, 409, "+08:00")
	pending := e.triage("unlocated", "siming")
	if resp, body := e.send(whoSupervisor, "POST", "/api/v1/triage/"+pending+"/correct", fix); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("correct %s: %d %s", pending, resp.StatusCode, body)
	}
	resp, body = e.send(whoSupervisor, "POST", "/api/v1/triage/"+pending+"/correct", fix)
	readable(t, "a correction still being applied", resp.StatusCode, body, 409)

	// Too many unknown tokens from one address.
	var limited bool
	for range 100 {
		resp, body := e.send("unknown", "GET", "/api/v1/me", nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			readable(t, "unknown tokens from one address", resp.StatusCode, body, 429, resp.Header.Get("Retry-After"))
			limited = true
			break
		}
	}
	if !limited {
		t.Errorf("100 unknown tokens from one address, none refused 429")
	}
}

// The refusals of a token over its rates, of requests and of stream
// opens, read in Chinese too.
func TestRateRefusalsReadInChinese(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *Config) {
		c.RatePerToken, c.RateBurst = 0.001, 1
		c.StreamOpenBurst, c.StreamOpenEvery = 1, time.Hour
	})
	if code, body := e.do(whoOwn, "GET", "/api/v1/me", nil); code != 200 {
		t.Fatalf("me: %d %s", code, body)
	}
	resp, body := e.send(whoOwn, "GET", "/api/v1/me", nil)
	readable(t, "a token over its rate", resp.StatusCode, body, 429, resp.Header.Get("Retry-After"))
	resp, body = e.send(whoOtherTeam, "GET", auth.StreamPath, nil)
	readable(t, "the stream where there is none", resp.StatusCode, body, 503)
	resp, body = e.send(whoOtherTeam, "GET", auth.StreamPath, nil)
	readable(t, "a token opening streams too often", resp.StatusCode, body, 429, resp.Header.Get("Retry-After"))
}
