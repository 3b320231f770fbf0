package workorder

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// unknownDetail is the detail of a key the schema has no property of,
// named by its pointer: the schema's own words quote the keys sent, and a
// sender's key may be anything, a caller's name and number too.
const unknownDetail = "not allowed: the work order (hotline.complaint.v1) has no such property; leave it out"

// unknownKeys rewrites the schema's "additional properties 'a', 'b' not
// allowed" on an object into one error per key sent that its schema lacks,
// named by the key's pointer (/callback_url, /caller/email), as every
// other error is. doc is body decoded (json.Number for numbers); an error
// whose keys cannot be found there keeps its detail without them.
func unknownKeys(schema *jsonschema.Schema, doc any, fe []FieldError) []FieldError {
	out := make([]FieldError, 0, len(fe))
	for _, f := range fe {
		if !strings.HasPrefix(f.Detail, "additional properties ") {
			out = append(out, f)
			continue
		}
		keys, ok := extraKeys(schema, doc, f.Field)
		if !ok {
			out = append(out, FieldError{Field: f.Field, Detail: "has properties the work order (hotline.complaint.v1) does not allow"})
			continue
		}
		for _, k := range keys {
			out = append(out, FieldError{Field: childPointer(f.Field, k), Detail: unknownDetail})
		}
	}
	slices.SortStableFunc(out, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// extraKeys are the keys of the object at pointer p in doc that the
// schema's object there has no property of, sorted.
func extraKeys(schema *jsonschema.Schema, doc any, p string) ([]string, bool) {
	v, s := doc, schema
	if p != "/" && p != "" {
		if !strings.HasPrefix(p, "/") {
			return nil, false
		}
		for _, tok := range strings.Split(p[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			obj, ok := v.(map[string]any)
			if !ok || s == nil {
				return nil, false
			}
			v, s = obj[tok], s.Properties[tok]
		}
	}
	obj, ok := v.(map[string]any)
	if !ok || s == nil {
		return nil, false
	}
	var keys []string
	for k := range obj {
		if _, known := s.Properties[k]; !known {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, len(keys) > 0
}

// decode is body, valid JSON, as a document: numbers as json.Number,
// so that one no float64 holds decodes too; nil when it does not decode.
func decode(body []byte) any {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// masked is fe safe to answer and to log: an error quotes what the sender
// sent (a key not allowed, one sent twice, a value refused), and a sender
// may put a caller's name and number anywhere. Each detail is masked
// (pii.MaskError) with the callers' names the work order gives, names
// (none when it is no JSON document), and its phone and ID-card numbers;
// each pointer's keys are too, and a key of other than printable ASCII
// (no property's name is) keeps its first character only (see maskKey).
func masked(fe []FieldError, names []string) []FieldError {
	for i, f := range fe {
		fe[i] = FieldError{Field: maskPointer(f.Field, names), Detail: pii.MaskError(f.Detail, names...)}
	}
	return fe
}

// maskPointer masks each key of the JSON pointer p (see maskKey).
func maskPointer(p string, names []string) string {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return pii.MaskError(p, names...)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		toks[i] = maskKey(t, names)
	}
	return "/" + strings.Join(toks, "/")
}

// maskKey is a key of a pointer as an answer may show it: its phone and
// ID-card numbers and the callers' names masked, and, when other than
// printable ASCII is left, everything but its first character starred as
// a name is (王小明 is 王**): the schema's properties are ASCII words, and
// a key of Chinese is the sender's data put where a key goes, a caller's
// name perhaps, which no list of names tells. A run of pii.LocalMin
// digits or more is starred too: joined to a word (tel_13800138000) it
// reads as an identifier to pii.MaskText, and no property's name holds
// one. The sender still sees which key it is, by its place, its first
// character and its length.
func maskKey(key string, names []string) string {
	k := starRuns(pii.MaskError(key, names...))
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f {
			first, size := utf8.DecodeRuneInString(k)
			return string(first) + strings.Repeat("*", utf8.RuneCountInString(k[size:]))
		}
	}
	return k
}

// starRuns stars each run of pii.LocalMin digits or more in k.
func starRuns(k string) string {
	b := []byte(k)
	run := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			run++
			continue
		}
		if run >= pii.LocalMin {
			for j := i - run; j < i; j++ {
				b[j] = '*'
			}
		}
		run = 0
	}
	return string(b)
}
