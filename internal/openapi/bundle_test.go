package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// served fetches the document through the mounted routes, as a code
// generator reads it.
func served(t *testing.T) []byte {
	t.Helper()
	mux := httpx.NewRecordingMux()
	Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", Path, res.StatusCode, err)
	}
	return b
}

// pointerTarget finds the value at a JSON pointer (RFC 6901) of doc.
func pointerTarget(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestServedDocumentIsSelfContained: every $ref of the served document
// points into the document itself. HotlineComplaint, HotlineCallback and
// WeeklyReport were $refs to https://nuisance.xm.gov/schemas/…, a host
// that does not exist, and code generators could not build the request
// body nor the callbacks' body.
func TestServedDocumentIsSelfContained(t *testing.T) {
	t.Parallel()
	b := served(t)
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					if ref, ok := x.(string); ok {
						n++
						frag, ok := strings.CutPrefix(ref, "#")
						if !ok {
							t.Errorf("%s: $ref %q leaves the document", at, ref)
							continue
						}
						p, err := url.PathUnescape(frag)
						if err != nil {
							t.Errorf("%s: $ref %q: %v", at, ref, err)
							continue
						}
						if _, ok := pointerTarget(doc, p); !ok {
							t.Errorf("%s: $ref %q finds nothing in the document", at, ref)
						}
					}
					continue
				}
				if k == "$id" || k == "$schema" {
					t.Errorf("%s: %s left in the document", at, k)
				}
				walk(at+"/"+escape(k), x)
			}
		case []any:
			for i, x := range v {
				walk(at+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("", doc)
	if n < 100 {
		t.Fatalf("only %d $refs walked", n)
	}
	if bytes.Contains(b, []byte(`"https://nuisance.xm.gov/schemas/`)) {
		t.Error("the served document still names a schema by its URL")
	}
	// The bundled report keeps its own definitions where its refs say.
	if _, ok := pointerTarget(doc, "/components/schemas/WeeklyReport/$defs/count"); !ok {
		t.Error("no WeeklyReport/$defs/count in the served document")
	}
}

// refuseLoader fails every URL a compiler would fetch: the served bytes
// must be enough.
type refuseLoader struct{ asked *[]string }

func (l refuseLoader) Load(u string) (any, error) {
	*l.asked = append(*l.asked, u)
	return nil, errors.New("no fetching: the document must hold it")
}

// TestServedRequestBodyCompilesAlone compiles the intake's request body
// from the served bytes alone, with no way to fetch nuisance.xm.gov, and
// holds a work order to it, then does the same for the callbacks' body
// and the weekly report.
func TestServedRequestBodyCompilesAlone(t *testing.T) {
	t.Parallel()
	b := served(t)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{&asked})
	const at = "https://integrator.example/nuisance.json"
	if err := c.AddResource(at, v); err != nil {
		t.Fatal(err)
	}
	body, err := c.Compile(at + "#/paths/~1v1~1hotline~1complaints/post/requestBody/content/application~1json/schema")
	if err != nil {
		t.Fatalf("the request body does not compile from the served document: %v (fetched %v)", err, asked)
	}
	for _, tt := range []struct {
		order string
		valid bool
	}{
		{`{"ticket_id":"12345-20240311-000001","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间施工噪音","address":"思明区莲前东路"}`, true},
		{`{"ticket_id":"12345-20240311-000001","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间施工噪音"}`, false},
	} {
		w, _ := jsonschema.UnmarshalJSON(strings.NewReader(tt.order))
		if err := body.Validate(w); (err == nil) != tt.valid {
			t.Errorf("%s: %v, want valid=%v", tt.order, err, tt.valid)
		}
	}
	for _, ptr := range []string{"/webhooks/hotlineCallback/post/requestBody/content/application~1json/schema", "/components/schemas/WeeklyReport"} {
		if _, err := c.Compile(at + "#" + ptr); err != nil {
			t.Errorf("%s does not compile from the served document: %v", ptr, err)
		}
	}
	if len(asked) > 0 {
		t.Errorf("compiling fetched %v", asked)
	}
}

// TestBundleETagFollowsSchemas: the ETag is of the bytes served, so a
// schema file changed under an unchanged openapi.json changes it too,
// and a client's cached copy is not kept.
func TestBundleETagFollowsSchemas(t *testing.T) {
	t.Parallel()
	src := []byte(`{"openapi":"3.1.0","paths":{},"components":{"schemas":{"A":{"$ref":"https://nuisance.xm.gov/schemas/a.v1.json"}}}}`)
	one := fstest.MapFS{"a.v1.json": {Data: []byte(`{"$id":"https://nuisance.xm.gov/schemas/a.v1.json","type":"string"}`)}}
	two := fstest.MapFS{"a.v1.json": {Data: []byte(`{"$id":"https://nuisance.xm.gov/schemas/a.v1.json","type":"integer"}`)}}
	d1, err := parse(src, one)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := parse(src, two)
	if err != nil {
		t.Fatal(err)
	}
	if d1.etag == d2.etag {
		t.Errorf("same ETag %s for different bundled schemas", d1.etag)
	}
	if !bytes.Contains(d2.JSON(), []byte(`"integer"`)) {
		t.Errorf("bundled document holds not the schema: %s", d2.JSON())
	}
}

// TestBundle: a component that only names a schema file becomes the
// file's content, its internal refs moved under it; a ref from elsewhere
// to a file no component names gets a component of the file's name; a
// file's relative ref to another file is bundled the same way; the
// document's key order is kept.
func TestBundle(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"r.v1.json": {Data: []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://nuisance.xm.gov/schemas/r.v1.json","type":"object","properties":{"n":{"$ref":"#/$defs/n"},"o":{"$ref":"o.v1.json"}},"$defs":{"n":{"type":"integer"}}}`)},
		"o.v1.json": {Data: []byte(`{"$id":"https://nuisance.xm.gov/schemas/o.v1.json","type":"string"}`)},
		"p.v1.json": {Data: []byte(`{"$id":"https://nuisance.xm.gov/schemas/p.v1.json","$defs":{"x":{"const":1}}}`)},
	}
	src := `{"openapi":"3.1.0","paths":{"/x":{"get":{"responses":{"200":{"description":"d","content":{"application/json":{"schema":{"$ref":"https://nuisance.xm.gov/schemas/p.v1.json#/$defs/x"}}}}}}}},` +
		`"components":{"schemas":{"Z":{"type":"null"},"R":{"$ref":"https://nuisance.xm.gov/schemas/r.v1.json"},"R2":{"$ref":"https://nuisance.xm.gov/schemas/r.v1.json"}}}}`
	got, err := bundle([]byte(src), fsys)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{
		"/components/schemas/R/properties/n/$ref":                            "#/components/schemas/R/$defs/n",
		"/components/schemas/R/properties/o/$ref":                            "#/components/schemas/o.v1",
		"/components/schemas/R2/$ref":                                        "#/components/schemas/R",
		"/components/schemas/o.v1/type":                                      "string",
		"/paths/~1x/get/responses/200/content/application~1json/schema/$ref": "#/components/schemas/p.v1/$defs/x",
		"/components/schemas/p.v1/$defs/x/const":                             "1",
		"/components/schemas/R/$defs/n/type":                                 "integer",
	} {
		v, ok := pointerTarget(doc, ptr)
		if !ok || strings.Trim(string(must(json.Marshal(v))), `"`) != want {
			t.Errorf("%s = %v, want %s", ptr, v, want)
		}
	}
	for _, gone := range []string{"$id", "$schema"} {
		if bytes.Contains(got, []byte(`"`+gone+`"`)) {
			t.Errorf("%s left in %s", gone, got)
		}
	}
	if i, j := bytes.Index(got, []byte(`"openapi"`)), bytes.Index(got, []byte(`"paths"`)); i < 0 || j < i {
		t.Errorf("key order lost: %s", got)
	}
	if i, j := bytes.Index(got, []byte(`"Z"`)), bytes.Index(got, []byte(`"R"`)); j < i {
		t.Errorf("components' order lost: %s", got)
	}
	for _, bad := range []string{
		`{"openapi":"3.1.0","components":{"schemas":{"A":{"$ref":"https://nuisance.xm.gov/schemas/none.v1.json"}}}}`,
		`{"openapi":"3.1.0","components":{"schemas":{"o.v1":{"type":"null"},"A":{"properties":{"x":{"$ref":"https://nuisance.xm.gov/schemas/o.v1.json"}}}}}}`,
		`{"openapi":"3.1.0","components":{"schemas":{"A":{"$ref":"https://elsewhere.example/a.json"}}}}`,
	} {
		if _, err := bundle([]byte(bad), fsys); err == nil {
			t.Errorf("bundled %s", bad)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSchemasAreServed: the schema files are served as they are under
// /schemas/, where their $id names them.
func TestSchemasAreServed(t *testing.T) {
	t.Parallel()
	mux := httpx.NewRecordingMux()
	Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	want, err := schemas.FS.ReadFile("hotline.complaint.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.URL + "/schemas/hotline.complaint.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/schema+json" || !bytes.Equal(got, want) {
		t.Fatalf("status %d, %s, %d bytes, want the file's %d", res.StatusCode, res.Header.Get("Content-Type"), len(got), len(want))
	}
	d := load(t)
	if err := d.Validate("GET /schemas/{file}", 200, res.Header.Get("Content-Type"), got); err != nil {
		t.Error(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/schemas/hotline.complaint.v1.json", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res.Header.Get("ETag") == "" || res2.StatusCode != http.StatusNotModified {
		t.Errorf("ETag %q, If-None-Match: status %d, want 304", res.Header.Get("ETag"), res2.StatusCode)
	}
	for _, name := range []string{"none.v1.json", "openapi.json", "..%2fschemas.go", "hotline.complaint.v1"} {
		res, err := http.Get(srv.URL + "/schemas/" + name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("/schemas/%s: status %d, %s: %s", name, res.StatusCode, res.Header.Get("Content-Type"), b)
			continue
		}
		if err := d.Validate("GET /schemas/{file}", 404, res.Header.Get("Content-Type"), b); err != nil {
			t.Error(err)
		}
	}
}
