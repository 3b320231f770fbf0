package workorder

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// unknownsDetail is the detail of an object whose keys the schema lacks
// could not be found.
const unknownsDetail = "has properties the work order (hotline.complaint.v1) does not allow"

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
			out = append(out, FieldError{Field: f.Field, Detail: unknownsDetail})
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

// ownDetails are the details the intake writes itself: they quote
// nothing of the sender's, and a caller's name masked in them ("is" in
// "missing") would only garble them.
var ownDetails = map[string]bool{
	unknownDetail: true, unknownsDetail: true, duplicateDetail: true, moreDuplicatesDetail: true,
	missingDetail: true, neitherDetail: true, receivedAtForm: true, receivedAtRFC: true,
	receivedAtRange: true, nulByteDetail: true,
}

// schemaWords are the validator's own words in the details it writes
// (kind of jsonschema/v6), kept as they are, as the schema's are.
var schemaWords = []string{
	"value must be one of", "value must be", "does not match pattern", "is not a valid",
	"missing properties", "missing property", "minLength", "maxLength", "minimum", "maximum",
	"got", "want", "string", "number", "integer", "boolean", "object", "array", "null",
	"is null, which this field does not take: give it a value, or leave the field out if it is optional and has none",
}

// masker masks a refused work order's errors, leaving the schema's own
// words (its properties' names, enums' values and patterns) as they are.
type masker struct {
	schema  *jsonschema.Schema
	protect *strings.Replacer // the schema's words to placeholders
	restore *strings.Replacer // and back
}

// newMasker is the masker of errors of schema.
func newMasker(schema *jsonschema.Schema) *masker {
	seen := map[string]bool{}
	var words []string
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	for _, w := range schemaWords {
		add(w)
	}
	var walk func(s *jsonschema.Schema)
	walk = func(s *jsonschema.Schema) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			add(name)
			walk(p)
		}
		if s.Enum != nil {
			for _, v := range s.Enum.Values {
				if w, ok := v.(string); ok {
					add(w)
				}
			}
		}
		if s.Pattern != nil {
			add(s.Pattern.String())
		}
		walk(s.Items2020)
		for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
	}
	walk(schema)
	// The longest first: a word within another (name in hotline_category)
	// is not replaced in it.
	slices.SortStableFunc(words, func(a, b string) int { return len(b) - len(a) })
	var protect, restore []string
	for i, w := range words {
		ph := string(rune(0xE000 + i)) // Unicode's private use, taken out of details first
		protect = append(protect, w, ph)
		restore = append(restore, ph, w)
	}
	return &masker{schema: schema, protect: strings.NewReplacer(protect...), restore: strings.NewReplacer(restore...)}
}

// masked is fe safe to answer and to log: an error quotes what the sender
// sent (a key not allowed, one sent twice, a value refused), and a sender
// may put a caller's name and number anywhere. Each detail the intake did
// not write itself is masked (pii.MaskError) with the callers' names the
// work order gives, names (none when it is no JSON document), and its
// phone and ID-card numbers, all but the schema's and the validator's own
// words; each pointer's keys the schema has no property of at their place
// are too, and such a key of other than printable ASCII keeps its first
// character only (see maskKey). A property the schema knows stays, so
// that its pointer still resolves (a caller "an" made /channel /cha*nel),
// and so does an array's index. Errors masked alike (王小明 and 王大明
// are both /王**) are told apart by their number among them.
func (m *masker) masked(fe []FieldError, names []string) []FieldError {
	orig := slices.Clone(fe)
	for i, f := range fe {
		fe[i] = FieldError{Field: m.maskPointer(f.Field, names), Detail: m.maskDetail(f.Detail, names)}
	}
	// Errors masked alike whose unmasked ones differ are numbered.
	type group struct {
		n, k  int
		first FieldError // the first one's unmasked error
		apart bool       // and one of them differs from it
	}
	alike := map[FieldError]*group{}
	for i, f := range fe {
		g := alike[f]
		if g == nil {
			g = &group{first: orig[i]}
			alike[f] = g
		}
		g.n++
		g.apart = g.apart || orig[i] != g.first
	}
	for i, f := range fe {
		if g := alike[f]; g.apart {
			g.k++
			fe[i].Detail = fmt.Sprintf("%s (masked key %d of %d at this pointer)", f.Detail, g.k, g.n)
		}
	}
	return fe
}

// maskDetail is detail as an answer may show it: the intake's own as it
// is, another masked (pii.MaskError) but for the schema's words.
func (m *masker) maskDetail(detail string, names []string) string {
	if ownDetails[detail] {
		return detail
	}
	// A placeholder the sender wrote would come back as a schema's word.
	detail = strings.Map(func(r rune) rune {
		if r >= 0xE000 && r <= 0xF8FF {
			return utf8.RuneError
		}
		return r
	}, detail)
	return m.restore.Replace(pii.MaskError(m.protect.Replace(detail), names...))
}

// maskPointer masks each key of the JSON pointer p the schema has no
// property of at its place (see maskKey); a property's name and an
// array's index stay.
func (m *masker) maskPointer(p string, names []string) string {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return pii.MaskError(p, names...)
	}
	toks := strings.Split(p[1:], "/")
	s := m.schema
	for i, t := range toks {
		key := strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		if s != nil {
			if ps, ok := s.Properties[key]; ok {
				s = ps
				continue
			}
		}
		if index(t) {
			if s != nil {
				s = s.Items2020
			}
			continue
		}
		s = nil // below a key the schema lacks, every key is the sender's
		toks[i] = maskKey(t, names)
	}
	return "/" + strings.Join(toks, "/")
}

// index is whether t is an array's index: shorter than any number masked
// (pii.LocalMin digits), it is no caller's number, and a name is no
// number.
func index(t string) bool {
	if t == "" || len(t) >= pii.LocalMin || (t[0] == '0' && len(t) > 1) {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
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
