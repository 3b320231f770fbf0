// Package workorder parses the hotline's work order: schema validation
// naming each offending field, then decoding. It is kept apart from the
// intake's storage so the fuzz test exercises exactly the decoder.
package workorder

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// Complaint is the hotline payload (schemas/hotline.complaint.v1.json).
type Complaint struct {
	TicketID        string          `json:"ticket_id"`
	ReceivedAt      time.Time       `json:"received_at"`
	Description     string          `json:"description"`
	Category        string          `json:"category,omitempty"`
	Subcategory     string          `json:"subcategory,omitempty"`
	HotlineCategory string          `json:"hotline_category,omitempty"`
	Address         string          `json:"address,omitempty"`
	Location        *event.Location `json:"location,omitempty"`
	Caller          *Caller         `json:"caller,omitempty"`
	Channel         string          `json:"channel,omitempty"`
}

// Caller is personal data: stored for the officers' call-back only.
type Caller struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// String keeps personal data out of any formatted output.
func (Caller) String() string { return "caller(masked)" }

// GoString keeps personal data out of %#v.
func (Caller) GoString() string { return "caller(masked)" }

// FieldError names one offending field by its JSON pointer.
type FieldError = schemas.FieldError

// Parser validates and decodes work orders.
type Parser struct {
	schema *jsonschema.Schema
	mask   *masker
	// Now is the clock received_at is checked against; time.Now unless a
	// test sets it.
	Now func() time.Time
}

// NewParser compiles the work-order schema.
func NewParser() (*Parser, error) {
	s, err := schemas.Get("hotline.complaint.v1")
	if err != nil {
		return nil, err
	}
	return &Parser{schema: s, mask: newMasker(s), Now: time.Now}, nil
}

// Bounds of received_at: no work order is older than the hotline's
// records (event.EarliestReceived), and none from the future beyond a
// clock's drift. Out of them a time is a sender's error, and its
// deadlines would be nonsense. An hour ahead is far more than two clocks
// drift apart, and less than the eight hours of a Xiamen time sent as UTC
// ("23:10Z" for 23:10 local), the likeliest error of an integration.
var earliestReceived = event.EarliestReceived

const maxClockAhead = time.Hour

// ErrNotUTF8 is returned for a body that is not valid UTF-8; the JSON
// decoder would otherwise replace the bytes silently.
type ErrNotUTF8 struct{}

func (ErrNotUTF8) Error() string { return "body is not valid UTF-8" }

// Parse validates body and decodes it. A non-nil error means body is not a
// JSON document; fields name every offending property of one that is.
// Neither quotes personal data the body holds, for they are answered and
// may be logged: the callers' names the work order gives and the phone
// and ID-card numbers are masked in them, and a key the schema lacks is
// named by its pointer, masked (see masked).
func (p *Parser) Parse(body []byte) (Complaint, []FieldError, error) {
	if !utf8.Valid(body) {
		return Complaint{}, nil, ErrNotUTF8{}
	}
	c, fe, err := p.parseSchema(body)
	if err != nil {
		return c, nil, notJSON{pii.MaskError(err.Error())}
	}
	if len(fe) == 0 {
		if fe = unstorable(&c); len(fe) > 0 {
			c = Complaint{}
		}
	}
	if len(fe) > 0 {
		doc := decode(body)
		return c, p.mask.masked(unknownKeys(p.schema, doc, fe), pii.CallerNames(doc)), nil
	}
	return c, nil, nil
}

// notJSON is the decoder's error on a body that is no JSON document, its
// text masked (pii.MaskError): it may quote what it stopped at.
type notJSON struct{ detail string }

func (e notJSON) Error() string { return e.detail }

// unstorable names the free-text fields holding U+0000, which JSON allows
// and PostgreSQL text cannot hold: refused here, such a work order would
// fail its group commit at every retry.
func unstorable(c *Complaint) []FieldError {
	var fe []FieldError
	check := func(field, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			fe = append(fe, FieldError{Field: field, Detail: nulByteDetail})
		}
	}
	check("/address", c.Address)
	if c.Caller != nil {
		check("/caller/name", c.Caller.Name)
	}
	check("/description", c.Description)
	check("/hotline_category", c.HotlineCategory)
	return fe
}

// parseSchema validates valid UTF-8 body against the schema and decodes it.
func (p *Parser) parseSchema(body []byte) (Complaint, []FieldError, error) {
	var c Complaint
	// The scan reads keys, not values: what it found counts only in a
	// JSON document (one with a bad value or bytes after it is the
	// schema's decoder's to name).
	if fe := duplicateKeys(body); len(fe) > 0 && json.Valid(body) {
		return c, fe, nil
	}
	fe, err := schemas.Validate(p.schema, body)
	if err != nil {
		return c, nil, err
	}
	if len(fe) > 0 {
		return c, explain(fe), nil
	}
	// received_at is read apart: RFC 3339 allows a lower-case t and z and
	// a leap second, which the schema's date-time accepts and Go's time
	// parsing does not. (The outer field shadows the embedded one.)
	var x struct {
		Complaint
		ReceivedAt string `json:"received_at"`
	}
	if err := json.Unmarshal(body, &x); err != nil {
		return c, []FieldError{{Field: "/", Detail: err.Error()}}, nil
	}
	at, err := parseRFC3339(x.ReceivedAt)
	if err != nil {
		return c, []FieldError{{Field: "/received_at", Detail: receivedAtRFC}}, nil
	}
	if at.Before(earliestReceived) || at.After(p.Now().Add(maxClockAhead)) {
		return c, []FieldError{{Field: "/received_at", Detail: receivedAtRange}}, nil
	}
	c = x.Complaint
	c.ReceivedAt = at
	return c, nil, nil
}

// Details of the schema's errors that tell a sender less than they need.
const (
	missingAddress  = "missing property 'address'"
	missingLocation = "missing property 'location'"
	neitherDetail   = "needs one of address and location (or both): the work order has neither"
	receivedAtForm  = "not an RFC 3339 date-time with its offset, e.g. 2024-03-11T23:10:00+08:00"
	receivedAtRFC   = "not an RFC 3339 date-time, e.g. 2024-03-11T23:10:00+08:00"
	receivedAtRange = "not a time a work order was received: before 2000, or more than an hour ahead of this server's clock (a local time sent as UTC?)"
	nulByteDetail   = "contains U+0000, which cannot be stored"
)

// explain rewrites the schema's errors a sender would misread: the two
// alternatives of anyOf, address and location, each reported missing as if
// both were required, become one error saying one of them is needed; the
// required properties missing from an object, reported as one error on
// the object, become one error each, naming the property by its pointer
// (/received_at, /location/lat); a received_at of another form says the
// form needed.
func explain(fe []FieldError) []FieldError {
	var address, location bool
	for _, f := range fe {
		address = address || f.Field == "/" && f.Detail == missingAddress
		location = location || f.Field == "/" && f.Detail == missingLocation
	}
	out := make([]FieldError, 0, len(fe))
	for _, f := range fe {
		switch {
		case address && location && f.Field == "/" && f.Detail == missingAddress:
			f.Detail = neitherDetail
		case address && location && f.Field == "/" && f.Detail == missingLocation:
			continue
		case f.Field == "/received_at" && strings.HasPrefix(f.Detail, "is not a valid date-time"):
			f.Detail = receivedAtForm
		default:
			if names, ok := missingProperties(f.Detail); ok {
				for _, name := range names {
					out = append(out, FieldError{Field: childPointer(f.Field, name), Detail: missingDetail})
				}
				continue
			}
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// missingDetail is the detail of a required property missing.
const missingDetail = "missing: a required property"

// missingProperties are the names the schema's "missing property 'a'" or
// "missing properties 'a', 'b'" gives, in its order.
func missingProperties(detail string) ([]string, bool) {
	list, ok := strings.CutPrefix(detail, "missing properties ")
	if !ok {
		if list, ok = strings.CutPrefix(detail, "missing property "); !ok {
			return nil, false
		}
	}
	if len(list) < 2 || list[0] != '\'' || list[len(list)-1] != '\'' {
		return nil, false
	}
	names := strings.Split(list[1:len(list)-1], "', '")
	for _, n := range names {
		// The schema's property names are plain words: any other is a
		// form of the message not read here, and left as it is.
		if n == "" || strings.ContainsAny(n, `'"\`) {
			return nil, false
		}
	}
	return names, true
}

// childPointer is the JSON pointer (RFC 6901) of the property name of the
// object at pointer parent ("/" for the document).
func childPointer(parent, name string) string {
	name = pointerEscaper.Replace(name)
	if parent == "/" || parent == "" {
		return "/" + name
	}
	return parent + "/" + name
}

// parseRFC3339 reads an RFC 3339 date-time, with its separators in either
// case; a leap second (:60) is the first instant of the next minute.
func parseRFC3339(s string) (time.Time, error) {
	s = strings.ToUpper(s)
	leap := false
	if len(s) > 19 && s[10] == 'T' && s[17:19] == "60" {
		s, leap = s[:17]+"59"+s[19:], true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if leap {
		t = t.Add(time.Second).Truncate(time.Second)
	}
	return t, nil
}
