// Package openapi holds the system's HTTP contract, schemas/openapi.json
// (OpenAPI 3.1): it serves the document at /openapi.json, lists its
// operations, checks them against the routes the services really mount,
// and validates bodies against its schemas, so the document cannot drift
// from the code unnoticed.
package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// File is the document's name in schemas.FS.
const File = "openapi.json"

// Path is where the document is served.
const Path = "/openapi.json"

// documentURL is the base its JSON pointers resolve against.
const documentURL = "https://nuisance.xm.gov/openapi.json"

// methods are the HTTP methods an OpenAPI path item may describe.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Document is a parsed OpenAPI document.
type Document struct {
	raw  []byte
	etag string
	doc  struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	tree        any // the whole document, decoded once for resolve
	compileOnce sync.Once
	compiler    *jsonschema.Compiler
	compileErr  error
	mu          sync.Mutex
	compiled    map[string]*jsonschema.Schema
}

var loaded = sync.OnceValues(func() (*Document, error) {
	b, err := schemas.FS.ReadFile(File)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return Parse(b)
})

// Load returns the system's document, schemas/openapi.json, parsed once.
func Load() (*Document, error) { return loaded() }

// Parse parses an OpenAPI 3.1 document and bundles into it the schema
// files of package schemas it refers to by URL (see bundle): the
// document served, validated against and listed is self-contained.
func Parse(b []byte) (*Document, error) { return parse(b, schemas.FS) }

func parse(src []byte, fsys fs.FS) (*Document, error) {
	b, err := bundle(src, fsys)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	d := &Document{raw: b, compiled: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(b, &d.doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if err := json.Unmarshal(b, &d.tree); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if !strings.HasPrefix(d.doc.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("openapi: version %q, want 3.1.x", d.doc.OpenAPI)
	}
	d.etag = etagOf(b)
	return d, nil
}

// JSON returns the document as served: schemas/openapi.json with the
// schema files it names bundled in.
func (d *Document) JSON() []byte { return d.raw }

// Operations lists the document's operations as route patterns,
// "GET /api/v1/cases/{id}", sorted.
func (d *Document) Operations() []string {
	var ops []string
	for p, item := range d.doc.Paths {
		for m := range item {
			if slices.Contains(methods, m) {
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// SchemasPath is where the schema files of package schemas are served,
// each by its file name (hotline.complaint.v1.json), as their $id names
// them.
const SchemasPath = "/schemas/"

// Routes mounts GET /openapi.json and GET /schemas/{file} on mux.
func Routes(mux httpx.Mux) {
	h := Handler()
	mux.Handle("GET "+Path, h)
	mux.Handle("GET "+SchemasPath+"{file}", h)
}

// Handler serves the document at /openapi.json and the schema files at
// /schemas/{file}, as they are: anyone may read the contract, tools on
// other origins included, and it names nothing secret.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if file, ok := strings.CutPrefix(r.URL.Path, SchemasPath); ok {
			b, etag, ok := schemaFile(file)
			if !ok {
				httpx.WriteProblem(w, httpx.Problem{Status: http.StatusNotFound, Detail: "no such schema"})
				return
			}
			serve(w, r, "application/schema+json", etag, b)
			return
		}
		d, err := Load()
		if err != nil {
			httpx.WriteProblem(w, httpx.Problem{Status: http.StatusInternalServerError, Detail: "the OpenAPI document could not be read"})
			return
		}
		serve(w, r, "application/json", d.etag, d.raw)
	})
}

// serve writes b, or 304 when the client holds it already.
func serve(w http.ResponseWriter, r *http.Request, contentType, etag string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Content-Type-Options", "nosniff")
	if m := r.Header.Get("If-None-Match"); m != "" && strings.Contains(m, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// schemaFile is a schema file of package schemas by its name, with its
// ETag; the OpenAPI document's source is not one (it is served bundled
// at /openapi.json).
func schemaFile(name string) ([]byte, string, bool) {
	if name == File || !schemaName.MatchString(name) {
		return nil, "", false
	}
	b, err := schemas.FS.ReadFile(name)
	if err != nil {
		return nil, "", false
	}
	return b, etagOf(b), true
}

var schemaName = regexp.MustCompile(`^[a-z0-9][a-z0-9.]*\.json$`)

// route is a method (empty: any) and a path with its parameters blanked.
type route struct{ method, path string }

var (
	wildcard = regexp.MustCompile(`\{[^{}]*\}`)
	methodRe = regexp.MustCompile(`^[A-Z]+$`)
)

// parseRoute reads a ServeMux pattern ("GET host/path/{id}", "/path/")
// or an operation ("GET /path/{id}"). The host is dropped, {$} (the end
// of a path) removed and every other wildcard blanked to {}, so
// /cases/{id} and /cases/{case_id} are the same route.
func parseRoute(s string) (route, error) {
	s = strings.TrimSpace(s)
	var r route
	if m, rest, ok := strings.Cut(s, " "); ok && methodRe.MatchString(m) {
		r.method, s = m, strings.TrimSpace(rest)
	}
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return r, fmt.Errorf("%q has no path", s)
	}
	p := strings.ReplaceAll(s[i:], "{$}", "")
	r.path = wildcard.ReplaceAllString(p, "{}")
	return r, nil
}

// CheckRoutes compares the operations of a document (Operations) with the
// patterns the services mounted (httpx.RecordingMux.Patterns) and names
// every route the document does not describe and every operation no route
// serves. Path parameters match whatever their names; a pattern without a
// method serves any method.
func CheckRoutes(ops, patterns []string) error {
	type entry struct {
		text string
		r    route
	}
	var errs []string
	parse := func(list []string, what string) []entry {
		out := make([]entry, 0, len(list))
		for _, s := range list {
			r, err := parseRoute(s)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s %v", what, err))
				continue
			}
			out = append(out, entry{s, r})
		}
		return out
	}
	documented := parse(ops, "operation")
	mounted := parse(patterns, "route")
	covers := func(pattern, op route) bool {
		return pattern.path == op.path && (pattern.method == "" || pattern.method == op.method ||
			(pattern.method == http.MethodGet && op.method == http.MethodHead))
	}
	reported := map[string]bool{}
	report := func(msg string) {
		if !reported[msg] {
			reported[msg] = true
			errs = append(errs, msg)
		}
	}
	for _, m := range mounted {
		if !slices.ContainsFunc(documented, func(o entry) bool { return covers(m.r, o.r) }) {
			report(fmt.Sprintf("route %q is not in the OpenAPI document", m.text))
		}
	}
	for _, o := range documented {
		if !slices.ContainsFunc(mounted, func(m entry) bool { return covers(m.r, o.r) }) {
			report(fmt.Sprintf("operation %q is served by no route", o.text))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("openapi: %d route mismatches:\n  %s", len(errs), strings.Join(errs, "\n  "))
}

// ErrNotDescribed is returned by Validate for an operation, status or
// content type the document does not describe.
var ErrNotDescribed = errors.New("not described by the OpenAPI document")

// Validate checks a response body of the operation op ("GET
// /api/v1/cases/{id}", as Operations lists it) with status against the
// document's schema for its content type, so tests can hold real answers
// to the contract. A response without a schema (a stream, an empty
// answer) passes.
func (d *Document) Validate(op string, status int, contentType string, body []byte) error {
	m, p, ok := strings.Cut(op, " ")
	if !ok {
		return fmt.Errorf("validate %q: want \"METHOD /path\"", op)
	}
	item, ok := d.doc.Paths[p]
	if !ok {
		return fmt.Errorf("validate %s: path %w", op, ErrNotDescribed)
	}
	raw, ok := item[strings.ToLower(m)]
	if !ok {
		return fmt.Errorf("validate %s: method %w", op, ErrNotDescribed)
	}
	var operation struct {
		Responses map[string]json.RawMessage `json:"responses"`
	}
	if err := json.Unmarshal(raw, &operation); err != nil {
		return fmt.Errorf("validate %s: %w", op, err)
	}
	code := strconv.Itoa(status)
	if _, ok := operation.Responses[code]; !ok {
		code = code[:1] + "XX"
		if _, ok := operation.Responses[code]; !ok {
			code = "default"
			if _, ok := operation.Responses[code]; !ok {
				return fmt.Errorf("validate %s: status %d %w", op, status, ErrNotDescribed)
			}
		}
	}
	ptr := "/paths/" + escape(p) + "/" + strings.ToLower(m) + "/responses/" + code
	resp, err := d.resolve(ptr)
	if err != nil {
		return fmt.Errorf("validate %s %d: %w", op, status, err)
	}
	var r struct {
		Content map[string]json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(resp.raw, &r); err != nil {
		return fmt.Errorf("validate %s %d: %w", op, status, err)
	}
	if len(r.Content) == 0 {
		return nil
	}
	ct := contentType
	if _, ok := r.Content[ct]; !ok {
		ct, _, _ = strings.Cut(contentType, ";")
		if _, ok := r.Content[ct]; !ok {
			return fmt.Errorf("validate %s %d: content type %q %w", op, status, contentType, ErrNotDescribed)
		}
	}
	var media struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(r.Content[ct], &media); err != nil {
		return fmt.Errorf("validate %s %d: %w", op, status, err)
	}
	if media.Schema == nil {
		return nil
	}
	s, err := d.schema(resp.ptr + "/content/" + escape(ct) + "/schema")
	if err != nil {
		return fmt.Errorf("validate %s %d: %w", op, status, err)
	}
	if !strings.Contains(ct, "json") {
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("validate %s %d: body is not JSON: %w", op, status, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("validate %s %d: %w", op, status, err)
	}
	return nil
}

// node is a part of the document found by its JSON pointer.
type node struct {
	ptr string
	raw json.RawMessage
}

// resolve finds the node at ptr, following a $ref to components once.
func (d *Document) resolve(ptr string) (node, error) {
	for range 4 {
		cur := d.tree
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			obj, ok := cur.(map[string]any)
			if !ok {
				return node{}, fmt.Errorf("no %s in the document", ptr)
			}
			if cur, ok = obj[tok]; !ok {
				return node{}, fmt.Errorf("no %s in the document", ptr)
			}
		}
		if obj, ok := cur.(map[string]any); ok {
			if ref, ok := obj["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
				ptr = ref[1:]
				continue
			}
		}
		b, err := json.Marshal(cur)
		return node{ptr: ptr, raw: b}, err
	}
	return node{}, fmt.Errorf("%s: $ref chain too long", ptr)
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// schema compiles the schema at ptr from the document alone: the
// schemas it names are bundled in it, and no URL is fetched.
func (d *Document) schema(ptr string) (*jsonschema.Schema, error) {
	d.compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.UseLoader(noLoader{})
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(d.raw))
		if err != nil {
			d.compileErr = err
			return
		}
		if err := c.AddResource(documentURL, v); err != nil {
			d.compileErr = err
			return
		}
		d.compiler = c
	})
	if d.compileErr != nil {
		return nil, fmt.Errorf("openapi schemas: %w", d.compileErr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.compiled[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(documentURL + "#" + ptr)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", ptr, err)
	}
	d.compiled[ptr] = s
	return s, nil
}

// noLoader refuses every URL: the document holds all its schemas.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not in the document", url)
}
