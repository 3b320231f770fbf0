package officers

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// endpoint is one row of the access matrix: how to prepare a fresh target
// for each caller, and the status each caller must get.
type endpoint struct {
	method, route string
	// prepare returns the path to call and its body, on a target of its
	// own so that one caller's success does not change the next one's.
	prepare func(e *env) (path string, body any)
	want    map[string]int
	// check, when set, looks further into a successful answer.
	check func(t *testing.T, e *env, who, path string, body []byte)
}

func codes(own, otherTeam, otherDist, sup, admin int) map[string]int {
	return map[string]int{whoOwn: own, whoOtherTeam: otherTeam, whoOtherDist: otherDist, whoSupervisor: sup, whoAdmin: admin,
		whoNone: http.StatusUnauthorized, whoDisabled: http.StatusUnauthorized}
}

// TestAccessMatrix calls every endpoint as every kind of caller: the
// assigned team, another team of the district, a supervisor of another
// district, the district's supervisor, an admin, no token and a disabled
// token, and checks the status of each, and for reads what they show.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	e := setup(t, testenv.StartNATS(t).JS)
	assigned := func(e *env) string { return e.newCase(ownTeam, complaint{}) }
	casePath := func(suffix string) func(e *env) (string, any) {
		return func(e *env) (string, any) { return "/api/v1/cases/" + assigned(e) + suffix, nil }
	}

	endpoints := []endpoint{
		{method: "GET", route: "/api/v1/me", prepare: func(*env) (string, any) { return "/api/v1/me", nil },
			want: codes(200, 200, 200, 200, 200),
			check: func(t *testing.T, e *env, who, _ string, body []byte) {
				var me struct{ ID, Role string }
				if err := json.Unmarshal(body, &me); err != nil || me.ID != e.ids[who] {
					t.Errorf("%s: me = %s", who, body)
				}
			}},
		{method: "GET", route: "/api/v1/assignments",
			prepare: func(e *env) (string, any) {
				return "/api/v1/assignments?status=assigned&limit=200&probe=" + assigned(e), nil
			},
			want: codes(200, 200, 200, 200, 200),
			check: func(t *testing.T, e *env, who, path string, body []byte) {
				probe := path[strings.LastIndex(path, "=")+1:]
				var out struct{ Items []Assignment }
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatal(err)
				}
				seen := slices.ContainsFunc(out.Items, func(a Assignment) bool { return a.CaseID == probe })
				shouldSee := who == whoOwn || who == whoSupervisor || who == whoAdmin
				if seen != shouldSee {
					t.Errorf("%s: case %s listed = %v, want %v", who, probe, seen, shouldSee)
				}
				for _, a := range out.Items {
					if who == whoOwn && a.Team != ownTeam || who == whoSupervisor && a.District != district {
						t.Errorf("%s: sees %s of %s/%s", who, a.CaseID, a.Team, a.District)
					}
				}
			}},
		{method: "GET", route: "/api/v1/cases/{id}", prepare: casePath(""), want: codes(200, 404, 404, 200, 200),
			check: func(t *testing.T, e *env, who, path string, body []byte) {
				var v CaseView
				if err := json.Unmarshal(body, &v); err != nil || "/api/v1/cases/"+v.ID != path || len(v.Complaints) != 1 {
					t.Errorf("%s: case view %s", who, body)
				}
			}},
		{method: "POST", route: "/api/v1/cases/{id}/callback-reveal", prepare: casePath("/callback-reveal"), want: codes(200, 404, 404, 403, 403)},
		{method: "POST", route: "/api/v1/cases/{id}/accept", prepare: casePath("/accept"), want: codes(200, 404, 404, 403, 403),
			check: wantStatus("accepted")},
		{method: "POST", route: "/api/v1/cases/{id}/resolve",
			prepare: func(e *env) (string, any) {
				id := assigned(e)
				e.accept(id)
				return "/api/v1/cases/" + id + "/resolve", map[string]string{"outcome": "rectified", "note": "已责令停工"}
			},
			want: codes(200, 404, 404, 403, 403), check: wantStatus("resolved")},
		{method: "POST", route: "/api/v1/cases/{id}/return",
			prepare: func(e *env) (string, any) {
				return "/api/v1/cases/" + assigned(e) + "/return", map[string]string{"reason": "属于城管职责"}
			},
			want: codes(200, 404, 404, 403, 403), check: wantStatus("returned")},
		{method: "POST", route: "/api/v1/cases/{id}/reassign",
			prepare: func(e *env) (string, any) {
				return "/api/v1/cases/" + assigned(e) + "/reassign", map[string]string{"team": otherTeam, "reason": "商铺噪声归城管"}
			},
			want: codes(403, 403, 404, 200, 200),
			check: func(t *testing.T, e *env, who, path string, _ []byte) {
				id := strings.Split(path, "/")[4]
				var team string
				if err := e.pool.QueryRow(context.Background(), `SELECT team FROM assignments WHERE case_id = $1 AND status = 'active'`, id).Scan(&team); err != nil || team != otherTeam {
					t.Errorf("%s: active assignment with %q, %v", who, team, err)
				}
			}},
		{method: "POST", route: "/api/v1/cases/{id}/extend",
			prepare: func(e *env) (string, any) {
				id := e.dueIn(assigned(e), 72*time.Hour)
				return "/api/v1/cases/" + id + "/extend", map[string]string{"resolve_due": e.workingDue(10 * 24 * time.Hour), "reason": "工地分阶段整改"}
			},
			want: codes(403, 403, 404, 200, 200),
			check: func(t *testing.T, e *env, who, path string, body []byte) {
				id := strings.Split(path, "/")[4]
				var v CaseView
				var due time.Time
				if err := e.pool.QueryRow(context.Background(), `SELECT resolve_due FROM assignments WHERE case_id = $1 AND status = 'active'`, id).Scan(&due); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(body, &v); err != nil || v.ResolveDue == nil || !v.ResolveDue.Equal(due) || v.Status != "assigned" {
					t.Errorf("%s: answer %s; the active assignment is due %s", who, body, due)
				}
			}},
		{method: "GET", route: "/api/v1/stream", prepare: func(*env) (string, any) { return "/api/v1/stream", nil },
			want: codes(200, 200, 200, 200, 200)},
		{method: "GET", route: "/api/v1/triage",
			prepare: func(e *env) (string, any) { return "/api/v1/triage?probe=" + e.triage("unclassified", district), nil },
			want:    codes(403, 403, 200, 200, 200),
			check: func(t *testing.T, e *env, who, path string, body []byte) {
				probe := path[strings.LastIndex(path, "=")+1:]
				var out struct{ Items []TriageItem }
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatal(err)
				}
				seen := slices.ContainsFunc(out.Items, func(it TriageItem) bool { return it.ComplaintID == probe })
				if seen != (who != whoOtherDist) {
					t.Errorf("%s: Siming triage entry listed = %v", who, seen)
				}
			}},
		{method: "POST", route: "/api/v1/triage/{complaint_id}/correct",
			prepare: func(e *env) (string, any) {
				return "/api/v1/triage/" + e.triage("unclassified", district) + "/correct",
					map[string]any{"district": "siming", "category": "noise", "subcategory": "social_life"}
			},
			want: codes(403, 403, 404, 202, 202)},
	}

	mux := newRecordingRoutes(e)
	for _, ep := range endpoints {
		if !slices.Contains(mux, ep.method+" "+ep.route) {
			t.Errorf("matrix row %s %s is not a route", ep.method, ep.route)
		}
	}
	for _, p := range mux {
		if !slices.ContainsFunc(endpoints, func(ep endpoint) bool { return ep.method+" "+ep.route == p }) {
			t.Errorf("route %s has no row in the matrix", p)
		}
	}

	for _, ep := range endpoints {
		for _, who := range everyone {
			path, body := ep.prepare(e)
			var code int
			var got []byte
			if ep.route == "/api/v1/stream" {
				code = e.streamStatus(who, path)
			} else {
				code, got = e.do(who, ep.method, path, body)
			}
			if code != ep.want[who] {
				t.Errorf("%s %s as %s: status %d, want %d: %s", ep.method, ep.route, who, code, ep.want[who], got)
				continue
			}
			if code >= 400 && ep.route != "/api/v1/stream" {
				if p := problem(t, got); p.Status != code {
					t.Errorf("%s %s as %s: problem status %d", ep.method, ep.route, who, p.Status)
				}
			}
			if code < 300 && ep.check != nil {
				ep.check(t, e, who, path, got)
			}
		}
	}
}

// wantStatus checks that an action left the case in status.
func wantStatus(status string) func(t *testing.T, e *env, who, path string, body []byte) {
	return func(t *testing.T, e *env, who, path string, body []byte) {
		id := strings.Split(path, "/")[4]
		if got := e.status(id); got != status {
			t.Errorf("%s: case %s is %s after %s, want %s", who, id, got, path, status)
		}
		var v CaseView
		if err := json.Unmarshal(body, &v); err != nil || v.Status != status {
			t.Errorf("%s: answer %s", who, body)
		}
	}
}

// newRecordingRoutes lists the routes the service mounts.
func newRecordingRoutes(e *env) []string {
	m := httpx.NewRecordingMux()
	e.svc.Routes(m)
	return m.Patterns()
}

// streamStatus opens the event stream as who and returns the status once
// the headers arrive.
func (e *env) streamStatus(who, path string) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok := e.tokens[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Errorf("stream as %s: content type %q", who, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode
}
