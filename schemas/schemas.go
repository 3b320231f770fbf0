// Package schemas holds the JSON Schemas of every event and external
// payload, and compiles them for validation at the edges.
package schemas

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed *.json
var FS embed.FS

const base = "https://nuisance.xm.gov/schemas/"

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	loadErr  error
)

func load() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	entries, err := FS.ReadDir(".")
	if err != nil {
		loadErr = err
		return
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".v1.json") && !strings.Contains(e.Name(), ".v") {
			continue
		}
		b, err := FS.ReadFile(e.Name())
		if err != nil {
			loadErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			loadErr = fmt.Errorf("schema %s: %w", e.Name(), err)
			return
		}
		if err := c.AddResource(base+e.Name(), doc); err != nil {
			loadErr = fmt.Errorf("schema %s: %w", e.Name(), err)
			return
		}
		names = append(names, e.Name())
	}
	compiled = make(map[string]*jsonschema.Schema, len(names))
	for _, n := range names {
		s, err := c.Compile(base + n)
		if err != nil {
			loadErr = fmt.Errorf("compile %s: %w", n, err)
			return
		}
		compiled[strings.TrimSuffix(n, ".json")] = s
	}
}

// Get returns the compiled schema by name without extension, e.g.
// "hotline.complaint.v1" or "complaint.received.v1".
func Get(name string) (*jsonschema.Schema, error) {
	once.Do(load)
	if loadErr != nil {
		return nil, loadErr
	}
	s, ok := compiled[name]
	if !ok {
		return nil, fmt.Errorf("no schema %q", name)
	}
	return s, nil
}

// FieldError names one offending field by its JSON pointer.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Validate decodes body and checks it against the schema, returning the
// offending fields (nil when valid) or an error when body is not JSON.
func Validate(s *jsonschema.Schema, body []byte) ([]FieldError, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return ValidateValue(s, doc), nil
}

// ValidateValue checks an already decoded document. Numbers beyond the
// range of a float64 are refused first, naming their field: the validator
// cannot compare them (it panics on 1E1000001).
func ValidateValue(s *jsonschema.Schema, doc any) []FieldError {
	if out := outOfRange(doc); len(out) > 0 {
		return out
	}
	err := s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Field: "/", Detail: err.Error()}}
	}
	seen := map[string]bool{}
	var out []FieldError
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		f := u.InstanceLocation
		if f == "" {
			f = "/"
		}
		d := detail(u.Error)
		if v, ok := valueAt(doc, f); ok && v == nil && f != "/" && !strings.HasPrefix(d, "validation failed") {
			// Many systems write a field with no value as null: the
			// enum's or the type's words do not say that null is it.
			d = nullDetail
		}
		if strings.HasPrefix(d, "validation failed") || strings.Contains(d, "doesn't validate with") ||
			strings.HasPrefix(d, "'anyOf' failed") || strings.HasPrefix(d, "'allOf' failed") || strings.HasPrefix(d, "'oneOf' failed") {
			continue
		}
		key := f + "\x00" + d
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, FieldError{Field: f, Detail: d})
	}
	if len(out) == 0 {
		out = append(out, FieldError{Field: "/", Detail: ve.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// nullDetail is the detail of a field sent as null where null is no
// value it may take.
const nullDetail = "is null, which this field does not take: give it a value, or leave the field out if it is optional and has none"

// valueAt is the value of doc at the JSON pointer p, and whether there
// is one.
func valueAt(doc any, p string) (any, bool) {
	if p == "" || p == "/" {
		return doc, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	v := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// detail is the validator's message for a failed keyword, except that
// it never repeats the value: the value of a field such as the caller's
// phone is personal data, and a problem's detail is written to the client,
// to replay's summary and to logs.
func detail(e *jsonschema.OutputError) string {
	switch k := e.Kind.(type) {
	case *kind.Pattern:
		return fmt.Sprintf("does not match pattern '%s'", k.Want)
	case *kind.Format:
		return "is not a valid " + k.Want
	}
	return e.String()
}

// outOfRange names every number in doc, a document decoded with
// json.Number, that a float64 cannot hold, in the order of the
// document's keys and indices. Nearly every document holds none: a
// field's name is built only for such a number.
func outOfRange(doc any) []FieldError {
	var hits [][]pointerToken
	var path []pointerToken
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil {
				hits = append(hits, slices.Clone(path))
			}
		case map[string]any:
			for k, x := range v {
				path = append(path, pointerToken{key: k})
				walk(x)
				path = path[:len(path)-1]
			}
		case []any:
			for i, x := range v {
				path = append(path, pointerToken{index: i, isIndex: true})
				walk(x)
				path = path[:len(path)-1]
			}
		}
	}
	walk(doc)
	slices.SortFunc(hits, func(a, b []pointerToken) int {
		for i := 0; i < len(a) && i < len(b); i++ {
			if c := cmp.Or(cmp.Compare(a[i].index, b[i].index), strings.Compare(a[i].key, b[i].key)); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a), len(b))
	})
	out := make([]FieldError, 0, len(hits))
	for _, h := range hits {
		out = append(out, FieldError{Field: jsonPointer(h), Detail: "number out of range"})
	}
	return out
}

// pointerToken is one step into a document: an object's key or an
// array's index.
type pointerToken struct {
	key     string
	index   int
	isIndex bool
}

// jsonPointer is the JSON pointer (RFC 6901) of a path; "/" for the
// document itself.
func jsonPointer(path []pointerToken) string {
	if len(path) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range path {
		b.WriteByte('/')
		if t.isIndex {
			b.WriteString(strconv.Itoa(t.index))
		} else {
			b.WriteString(pointerEscaper.Replace(t.key))
		}
	}
	return b.String()
}

// pointerEscaper escapes a key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
