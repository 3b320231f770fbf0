package openapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/intake"
	"github.com/xiamen-eeb/nuisance/web/officer"
)

func TestCheckRoutes(t *testing.T) {
	t.Parallel()
	ops := []string{"GET /api/v1/cases/{id}", "POST /api/v1/cases/{id}/accept", "GET /reports/weekly/", "GET /reports/weekly/{file}", "GET /officer/"}
	tests := []struct {
		name     string
		ops      []string
		patterns []string
		want     []string // substrings every one of which the error names; nil: no error
	}{
		{"same routes", ops, []string{"GET /api/v1/cases/{id}", "POST /api/v1/cases/{id}/accept", "GET /reports/weekly/{$}", "GET /reports/weekly/{file}", "GET /officer/"}, nil},
		{"parameter names differ", []string{"GET /v1/hotline/complaints/{ticket_id}"}, []string{"GET /v1/hotline/complaints/{id}"}, nil},
		{"rest wildcard", []string{"GET /files/{name}"}, []string{"GET /files/{name...}"}, nil},
		{"host in pattern", []string{"GET /healthz"}, []string{"GET ops.example/healthz"}, nil},
		{"pattern without method serves any", []string{"GET /officer/", "POST /officer/"}, []string{"/officer/"}, nil},
		{"GET serves HEAD", []string{"GET /x", "HEAD /x"}, []string{"GET /x"}, nil},
		{"route not documented", ops[:1], []string{"GET /api/v1/cases/{id}", "POST /api/v1/cases/{id}/close"},
			[]string{`route "POST /api/v1/cases/{id}/close" is not in the OpenAPI document`}},
		{"operation without route", ops[:2], []string{"GET /api/v1/cases/{id}"},
			[]string{`operation "POST /api/v1/cases/{id}/accept" is served by no route`}},
		{"method differs", []string{"GET /api/v1/stream"}, []string{"POST /api/v1/stream"},
			[]string{`route "POST /api/v1/stream"`, `operation "GET /api/v1/stream"`}},
		{"exact end is not a subtree", []string{"GET /reports/weekly/{file}"}, []string{"GET /reports/weekly/{$}"},
			[]string{`route "GET /reports/weekly/{$}"`, `operation "GET /reports/weekly/{file}"`}},
		{"trailing slash matters", []string{"GET /officer"}, []string{"GET /officer/"},
			[]string{`route "GET /officer/"`, `operation "GET /officer"`}},
		{"parameter is not a literal", []string{"GET /cases/{id}"}, []string{"GET /cases/open"},
			[]string{`route "GET /cases/open"`}},
		{"no path", nil, []string{"GET"}, []string{"has no path"}},
		{"nothing at all", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckRoutes(tt.ops, tt.patterns)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected mismatch: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestCheckRoutesNamesEachMismatchOnce(t *testing.T) {
	t.Parallel()
	err := CheckRoutes([]string{"GET /a"}, []string{"GET /b", "GET /b", "GET /c"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`"GET /b"`, `"GET /c"`, `"GET /a"`} {
		if n := strings.Count(err.Error(), w); n != 1 {
			t.Errorf("%s named %d times in:\n%v", w, n, err)
		}
	}
}

// contract is every endpoint ARCHITECTURE.md and the officers' issue fix,
// and the operator's backfill of history.
var contract = []string{
	"POST /v1/hotline/complaints",
	"GET /v1/hotline/complaints/{ticket_id}",
	"POST /v1/hotline/history",
	"GET /api/v1/me",
	"GET /api/v1/assignments",
	"GET /api/v1/cases/{id}",
	"POST /api/v1/cases/{id}/accept",
	"POST /api/v1/cases/{id}/resolve",
	"POST /api/v1/cases/{id}/return",
	"POST /api/v1/cases/{id}/reassign",
	"POST /api/v1/cases/{id}/extend",
	"POST /api/v1/cases/{id}/callback-reveal",
	"GET /api/v1/stream",
	"GET /api/v1/triage",
	"POST /api/v1/triage/{complaint_id}/correct",
	"GET /api/v1/hotspots",
	"GET /api/v1/hotspots/weekly",
	"GET /reports/weekly/",
	"GET /reports/weekly/{file}",
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
	"GET /openapi.json",
	"GET /schemas/{file}",
	"GET /officer/",
	"GET /officer/districts.json",
	"GET /officer/teams.json",
}

func load(t *testing.T) *Document {
	t.Helper()
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDocumentCoversContract(t *testing.T) {
	t.Parallel()
	if err := CheckRoutes(load(t).Operations(), contract); err != nil {
		t.Fatal(err)
	}
}

// TestMountedRoutesAreDescribed mounts the routes this package can build
// without a database (the intake, the console, operations and this
// document) and checks each is described; the full system's check, with
// every service mounted, runs where they are all wired together.
func TestMountedRoutesAreDescribed(t *testing.T) {
	t.Parallel()
	mux := httpx.NewRecordingMux()
	in, err := intake.New(intake.DefaultConfig("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Routes(mux)
	officer.Routes(mux)
	Routes(mux)
	httpx.Ops(mux)
	patterns := mux.Patterns()
	if len(patterns) < 8 {
		t.Fatalf("only %d routes recorded: %v", len(patterns), patterns)
	}
	var ops []string
	for _, op := range load(t).Operations() {
		if p, _ := parseRoute(op); slices.ContainsFunc(patterns, func(s string) bool { r, _ := parseRoute(s); return r.path == p.path }) {
			ops = append(ops, op)
		}
	}
	if err := CheckRoutes(ops, patterns); err != nil {
		t.Fatal(err)
	}
}

// operation is the part of an operation the checks below read.
type operation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Parameters  []map[string]any           `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

func operations(t *testing.T, d *Document) map[string]operation {
	t.Helper()
	out := map[string]operation{}
	for p, item := range d.doc.Paths {
		for m, raw := range item {
			var o operation
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			out[strings.ToUpper(m)+" "+p] = o
		}
	}
	return out
}

func TestDocumentIsWellFormed(t *testing.T) {
	t.Parallel()
	d := load(t)
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([^{}]+)\}`)
	for op, o := range operations(t, d) {
		if o.OperationID == "" {
			t.Errorf("%s has no operationId", op)
		} else if prev, dup := ids[o.OperationID]; dup {
			t.Errorf("%s and %s share operationId %s", op, prev, o.OperationID)
		}
		ids[o.OperationID] = op
		if len(o.Responses) == 0 {
			t.Errorf("%s has no responses", op)
		}
		// Every path parameter is declared, and nothing else is.
		_, path, _ := strings.Cut(op, " ")
		var inPath, declared []string
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		for _, p := range o.Parameters {
			if ref, ok := p["$ref"].(string); ok {
				n, err := d.resolve(ref[1:])
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				p = map[string]any{}
				_ = json.Unmarshal(n.raw, &p)
			}
			if p["in"] == "path" {
				declared = append(declared, p["name"].(string))
				if p["required"] != true {
					t.Errorf("%s: path parameter %v is not required", op, p["name"])
				}
			}
		}
		slices.Sort(inPath)
		slices.Sort(declared)
		if !slices.Equal(inPath, declared) {
			t.Errorf("%s: path parameters %v, declared %v", op, inPath, declared)
		}
		// Errors are problem+json.
		for code := range o.Responses {
			if code[0] != '4' && code[0] != '5' || op == "GET /readyz" {
				continue
			}
			n, err := d.resolve("/paths/" + escape(path) + "/" + strings.ToLower(op[:strings.IndexByte(op, ' ')]) + "/responses/" + code)
			if err != nil {
				t.Fatalf("%s %s: %v", op, code, err)
			}
			if !strings.Contains(string(n.raw), `"application/problem+json"`) {
				t.Errorf("%s answers %s without application/problem+json", op, code)
			}
		}
		// Who may call: officers' and reports' endpoints need a bearer
		// token, the hotline's a signature, operations nothing.
		var schemes []string
		sec := o.Security
		if sec == nil {
			var top struct {
				Security []map[string][]string `json:"security"`
			}
			_ = json.Unmarshal(d.raw, &top)
			sec = &top.Security
		}
		for _, req := range *sec {
			for k := range req {
				schemes = append(schemes, k)
			}
		}
		switch {
		case strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/reports/"):
			if !slices.Contains(schemes, "bearer") {
				t.Errorf("%s is not bearer-protected: %v", op, schemes)
			}
		case strings.HasPrefix(path, "/v1/hotline/"):
			if !slices.Contains(schemes, "webhookSignature") || slices.Contains(schemes, "bearer") {
				t.Errorf("%s is not signed as Standard Webhooks: %v", op, schemes)
			}
		default:
			if len(schemes) != 0 {
				t.Errorf("%s needs %v, want it open", op, schemes)
			}
		}
	}
	if _, ok := ids["streamAssignments"]; !ok {
		t.Fatal("no streamAssignments operation")
	}
}

// TestEverySchemaCompiles resolves every $ref of the document's schemas,
// including the ones into schemas/ by $id.
func TestEverySchemaCompiles(t *testing.T) {
	t.Parallel()
	d := load(t)
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(d.raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Components.Schemas) < 20 {
		t.Fatalf("%d component schemas", len(doc.Components.Schemas))
	}
	for name := range doc.Components.Schemas {
		if _, err := d.schema("/components/schemas/" + name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for op := range operations(t, d) {
		for _, ct := range []string{"application/json", "application/problem+json"} {
			// Compiles every described JSON response on the way.
			_ = d.Validate(op, 200, ct, []byte("{}"))
		}
	}
}

// TestHotlineComplaintIsTheIntakeSchema: the document's request body is
// the very schema the intake validates with, not a copy that can drift.
func TestHotlineComplaintIsTheIntakeSchema(t *testing.T) {
	t.Parallel()
	d := load(t)
	s, err := d.schema("/paths/~1v1~1hotline~1complaints/post/requestBody/content/application~1json/schema")
	if err != nil {
		t.Fatal(err)
	}
	intakeSchema, err := schemas.Get("hotline.complaint.v1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		body  string
		valid bool
	}{
		{`{"ticket_id":"T1","received_at":"2024-03-11T08:00:00+08:00","description":"夜间施工","address":"思明区莲前东路"}`, true},
		{`{"ticket_id":"T1","received_at":"2024-03-11T08:00:00+08:00","description":"夜间施工","location":{"lon":118.1,"lat":24.5,"crs":"gcj02"}}`, true},
		{`{"ticket_id":"T1","received_at":"2024-03-11T08:00:00+08:00","description":"夜间施工"}`, false},
		{`{"ticket_id":"T1","received_at":"2024-03-11T08:00:00+08:00","description":"x","address":"a","category":"smell"}`, false},
		{`{"ticket_id":"T1","received_at":"2024-03-11T08:00:00+08:00","description":"x","address":"a","extra":1}`, false},
	}
	for _, tt := range tests {
		var v any
		if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
			t.Fatal(err)
		}
		got, want := s.Validate(v) == nil, intakeSchema.Validate(v) == nil
		if got != tt.valid || want != tt.valid {
			t.Errorf("%s: document says valid=%v, intake says %v, want %v", tt.body, got, want, tt.valid)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	d := load(t)
	tests := []struct {
		op     string
		status int
		ct     string
		body   string
		ok     bool
		notDoc bool
	}{
		{"POST /v1/hotline/complaints", 202, "application/json", `{"complaint_id":"c1","ticket_id":"T1","status":"accepted","history":false}`, true, false},
		{"POST /v1/hotline/complaints", 202, "application/json", `{"complaint_id":"c1","ticket_id":"T1","status":"stored"}`, false, false},
		{"POST /v1/hotline/complaints", 400, "application/problem+json", `{"type":"about:blank","title":"Bad Request","status":400,"errors":[{"field":"/ticket_id","detail":"missing"}]}`, true, false},
		{"POST /v1/hotline/complaints", 400, "application/problem+json", `{"title":"Bad Request","status":400}`, false, false},
		{"GET /v1/hotline/complaints/{ticket_id}", 200, "application/json; charset=utf-8",
			`{"ticket_id":"T1","complaint_id":"c1","status":"received","category":null,"subcategory":null,"district":null,"district_name":null,"priority":null,"hotspot_id":null,"case_id":null,"team":null,"due_at":null,"updated_at":"2024-03-11T08:00:00Z","history":false}`, true, false},
		{"GET /v1/hotline/complaints/{ticket_id}", 200, "application/json",
			`{"ticket_id":"T1","complaint_id":"c1","status":"received","district":"xiamen"}`, false, false},
		{"GET /api/v1/cases/{id}", 200, "application/json",
			`{"id":"case_1","category":"noise","district":"siming","status":"assigned","priority":"urgent","opened_at":"2024-03-11T08:00:00Z","updated_at":"2024-03-11T08:00:00Z","complaints":[{"complaint_id":"c1","ticket_id":"T1","received_at":"2024-03-11T08:00:00Z","description":"吵","caller_phone":"138****5678"}],"audit":[{"id":1,"actor":"service:router","at":"2024-03-11T08:00:00Z","to":"assigned","action":"assign","actor_name":"系统","reason_text":""}]}`, true, false},
		{"GET /api/v1/cases/{id}", 200, "application/json",
			`{"id":"case_1","category":"noise","district":"siming","status":"assigned","priority":"urgent","opened_at":"2024-03-11T08:00:00Z","updated_at":"2024-03-11T08:00:00Z","complaints":[{"complaint_id":"c1","ticket_id":"T1","received_at":"2024-03-11T08:00:00Z","description":"吵","caller_phone":"13812345678"}],"audit":null}`, false, false},
		{"POST /api/v1/cases/{id}/resolve", 200, "application/json",
			`{"id":"case_1","category":"noise","district":"siming","status":"resolved","priority":"normal","outcome":"rectified","opened_at":"2024-03-11T08:00:00Z","updated_at":"2024-03-11T09:00:00Z","complaints":null,"audit":null}`, true, false},
		{"POST /api/v1/cases/{id}/resolve", 200, "application/json",
			`{"id":"case_1","category":"noise","district":"siming","status":"resolved","priority":"normal","outcome":"fixed","opened_at":"2024-03-11T08:00:00Z","updated_at":"2024-03-11T09:00:00Z","complaints":null,"audit":null}`, false, false},
		{"GET /api/v1/stream", 200, "text/event-stream", "event: assigned\ndata: {}\n\n", true, false},
		{"GET /api/v1/cases/{id}", 418, "application/json", `{}`, false, true},
		{"DELETE /api/v1/cases/{id}", 200, "application/json", `{}`, false, true},
		{"GET /api/v1/nothing", 200, "application/json", `{}`, false, true},
		{"GET /api/v1/cases/{id}", 200, "text/plain", `{}`, false, true},
	}
	for _, tt := range tests {
		err := d.Validate(tt.op, tt.status, tt.ct, []byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s %d %s: err %v, want ok=%v", tt.op, tt.status, tt.body, err, tt.ok)
		}
		if tt.notDoc != errors.Is(err, ErrNotDescribed) {
			t.Errorf("%s %d %s: err %v, want ErrNotDescribed=%v", tt.op, tt.status, tt.ct, err, tt.notDoc)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	mux := httpx.NewRecordingMux()
	Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || doc["openapi"] != "3.1.0" {
		t.Fatalf("status %d, %s, openapi %v", res.StatusCode, res.Header.Get("Content-Type"), doc["openapi"])
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/openapi.json", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", res2.StatusCode)
	}
}

func TestParseRejectsOtherVersions(t *testing.T) {
	t.Parallel()
	for _, b := range []string{`{"openapi":"3.0.3","paths":{}}`, `{"swagger":"2.0"}`, `not json`} {
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%s) accepted it", b)
		}
	}
}
