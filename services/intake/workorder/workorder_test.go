package workorder

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// received_at takes every RFC 3339 form the schema's date-time accepts:
// lower-case separators and a leap second too; anything else is refused,
// naming the field.
func TestReceivedAtTakesRFC3339(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	body := func(at string) []byte {
		return []byte(`{"ticket_id":"T-1","received_at":"` + at + `","description":"夜里施工 2024-03-11T23:10:00+08:00","address":"思明区"}`)
	}
	for at, want := range map[string]time.Time{
		"2024-03-11T23:10:00+08:00":     time.Date(2024, 3, 11, 15, 10, 0, 0, time.UTC),
		"2024-03-11t23:10:00z":          time.Date(2024, 3, 11, 23, 10, 0, 0, time.UTC),
		"2016-12-31T23:59:60Z":          time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
		"2024-03-11T23:10:00.250+08:00": time.Date(2024, 3, 11, 15, 10, 0, 250e6, time.UTC),
	} {
		c, fe, err := p.Parse(body(at))
		if err != nil || len(fe) > 0 {
			t.Errorf("%s refused: %v %v", at, err, fe)
			continue
		}
		if !c.ReceivedAt.Equal(want) || c.TicketID != "T-1" || !strings.HasPrefix(c.Description, "夜里施工") {
			t.Errorf("%s read as %s (%+v), want %s", at, c.ReceivedAt, c, want)
		}
	}
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	// Xiamen's wall clock sent as UTC: eight hours ahead.
	localAsUTC := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05") + "Z"
	for _, at := range []string{"2024-03-11 23:10:00", "yesterday", "2024-02-30T10:00:00Z", "0001-01-01T00:00:00+00:00", "1999-12-31T23:59:59Z", future, localAsUTC} {
		_, fe, err := p.Parse(body(at))
		if err != nil || len(fe) == 0 || fe[0].Field != "/received_at" {
			t.Errorf("%s: %v %+v, want it refused naming /received_at", at, err, fe)
		}
	}
}

// A work order with neither address nor location is told it needs one of
// the two, in one error: the schema's two alternatives, each reported
// missing, read as if both were required.
func TestNeitherAddressNorLocationSaysOneIsNeeded(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	_, fe, err := p.Parse([]byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(fe) != 1 || fe[0].Field != "/" || !strings.Contains(fe[0].Detail, "address") || !strings.Contains(fe[0].Detail, "location") ||
		!strings.Contains(fe[0].Detail, "one of") {
		t.Errorf("problem fields %+v, want one naming address and location as alternatives", fe)
	}
	// Another error beside it is still named.
	_, fe, _ = p.Parse([]byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","category":"smell"}`))
	if len(fe) != 2 || fe[0].Field != "/" || fe[1].Field != "/category" {
		t.Errorf("problem fields %+v, want the missing address or location and /category", fe)
	}
}

// A received_at that is no RFC 3339 date-time is told the form it needs,
// as one out of range is: "is not a valid date-time" left the sender to
// guess which of its forms (a space, no offset) was wrong.
func TestAReceivedAtOfAnotherFormSaysTheFormNeeded(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"2024-03-11 23:10:00", "2024-03-11T23:10:00", "1710169800"} {
		_, fe, err := p.Parse([]byte(`{"ticket_id":"T-1","received_at":"` + at + `","description":"吵","address":"思明区"}`))
		if err != nil || len(fe) != 1 || fe[0].Field != "/received_at" || !strings.Contains(fe[0].Detail, "+08:00") {
			t.Errorf("%s: %v %+v, want /received_at with an example of the form", at, err, fe)
		}
	}
}

// An optional field sent as null, as many systems write a field with no
// value, is told to be left out: "value must be one of …" or "got null,
// want string" did not say that null was the trouble.
func TestAnOptionalFieldSentAsNullSaysLeaveItOut(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"category", "channel", "caller", "location"} {
		_, fe, err := p.Parse([]byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区","` + field + `":null}`))
		if err != nil || len(fe) != 1 || fe[0].Field != "/"+field || !strings.Contains(fe[0].Detail, "null") || !strings.Contains(fe[0].Detail, "leave") {
			t.Errorf("%s null: %v %+v, want one error on /%s saying null is not a value and to leave the field out", field, err, fe, field)
		}
	}
}

// A required field sent as null is not told to be left out alone.
func TestARequiredFieldSentAsNullIsToldToHaveAValue(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	_, fe, err := p.Parse([]byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":null,"address":"思明区"}`))
	if err != nil || len(fe) != 1 || fe[0].Field != "/description" || !strings.Contains(fe[0].Detail, "give it a value") {
		t.Errorf("description null: %v %+v, want one error on /description asking for a value", err, fe)
	}
}

// Required properties missing are named each by its pointer, as the
// README promises, not together on the object ("/": "missing
// properties 'received_at', 'description'"), in the document and in an
// object within it.
func TestEachMissingPropertyIsNamed(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"ticket_id":"T-1","address":"思明区"}`, []string{"/description", "/received_at"}},
		{`{"address":"思明区"}`, []string{"/description", "/received_at", "/ticket_id"}},
		{`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{"lon":118.1}}`, []string{"/location/lat"}},
		{`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{}}`, []string{"/location/lat", "/location/lon"}},
		{`{"ticket_id":"T-1","description":"吵"}`, []string{"/", "/received_at"}},
	} {
		_, fe, err := p.Parse([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fe {
			got = append(got, f.Field)
			if f.Field != "/" && f.Detail != "missing: a required property" {
				t.Errorf("%s: %s: %q, want it said missing", tc.body, f.Field, f.Detail)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: fields %v, want %v (%+v)", tc.body, got, tc.want, fe)
		}
	}
}

// A key sent twice in one object is refused, naming it by its pointer, at
// any depth: decoded, the last value would count without a word, where
// the sender may mean the first (a ticket_id sent twice could store the
// work order under another ticket).
func TestADuplicatedKeyIsRefused(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	const rest = `"received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区"`
	many := ""
	for i := range 40 {
		many += fmt.Sprintf(`"k%d":%d,`, i, i)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"ticket_id":"a",` + rest + `,"ticket_id":"b"}`, "/ticket_id"},
		{`{"ticket_id":"a",` + rest + `,"location":{"lon":118.1,"lat":24.5,"lat":25}}`, "/location/lat"},
		{`{"ticket_id":"a",` + rest + `,"caller":{"name":"x"},"caller":{"name":"y"}}`, "/caller"},
		{`{"ticket_id":"a",` + rest + `,"ticket\u005fid":"b"}`, "/ticket_id"},
		{`{"ticket_id":"a",` + rest + `,"x":[1,{"a/b":1,"a~1b":2,"a/b":3}]}`, "/x/1/a~1b"},
		{`{"ticket_id":"a",` + rest + `,"x":{` + many + `"k7":1}}`, "/x/k7"},
	} {
		_, fe, err := p.Parse([]byte(tc.body))
		if err != nil || len(fe) != 1 || fe[0].Field != tc.want || !strings.Contains(fe[0].Detail, "more than once") {
			t.Errorf("%s: %v %+v, want one error on %s", tc.body, err, fe, tc.want)
		}
	}
	// The same keys in other objects are no duplicates, and what is not
	// JSON is still said to be so.
	if _, fe, err := p.Parse([]byte(`{"ticket_id":"a",` + rest + `,"location":{"lon":118.1,"lat":24.5},"caller":{"name":"x","phone":"1"}}`)); err != nil || len(fe) > 0 {
		t.Errorf("a work order of distinct keys: %v %+v", err, fe)
	}
	if _, _, err := p.Parse([]byte(`{"ticket_id":"a","ticket_id":`)); err == nil {
		t.Error("a body cut short was not said to be no JSON")
	}
	// Repeated thousands of times, or nested thousands deep, a key sent
	// twice makes a small answer: each pointer once, at most
	// maxDuplicates of them and a word that there are more.
	deep := strings.Repeat(`{"a":0,"a":`, 3000) + "0" + strings.Repeat("}", 3000)
	wide := `{"x":0` + strings.Repeat(`,"x":0`, 5000) + `}`
	for name, body := range map[string]string{
		"deep":    `{"ticket_id":"a",` + rest + `,"z":` + deep + `}`,
		"wide":    `{"ticket_id":"a",` + rest + `,"z":` + wide + `}`,
		"channel": `{"ticket_id":"a",` + rest + strings.Repeat(`,"channel":"app"`, 3000) + `}`,
	} {
		_, fe, err := p.Parse([]byte(body))
		size := 0
		for _, e := range fe {
			size += len(e.Field) + len(e.Detail)
		}
		if err != nil || len(fe) == 0 || len(fe) > maxDuplicates+1 || size > 256<<10 {
			t.Errorf("%s: %d errors, %d bytes (%v), want at most %d, small", name, len(fe), size, err, maxDuplicates+1)
		}
		seen := map[string]bool{}
		for _, e := range fe {
			if seen[e.Field] {
				t.Errorf("%s: %s named twice", name, e.Field)
			}
			seen[e.Field] = true
		}
	}
	// Keys repeated in a body that is no JSON document (a bad value, bytes
	// after it) do not make it one: it is said to be no JSON.
	for _, body := range []string{
		`{"ticket_id":"a","ticket_id":"b"} garbage`,
		`{"ticket_id":nope,"ticket_id":"b"}`,
		`{"ticket_id":01,"ticket_id":"b"}`,
		`{"ticket_id":"a","ticket_id":"b"}}`,
	} {
		if _, fe, err := p.Parse([]byte(body)); err == nil {
			t.Errorf("%s: %+v and no error, want it said to be no JSON", body, fe)
		}
	}
}

// Whatever an error quotes of the sender's, the work order's callers'
// names and the phone numbers are masked in it, and a key of the
// sender's in a pointer keeps its first character alone when it is not
// a property's kind of name: a detail's own words and a property's name
// stay.
func TestFieldErrorsAreMasked(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"王小明"}
	for _, tc := range []struct{ in, want FieldError }{
		{FieldError{Field: "/caller/name", Detail: `"王小明 13800138000" is not valid`}, FieldError{Field: "/caller/name", Detail: `"王** 138****8000" is not valid`}},
		{FieldError{Field: "/王小明", Detail: unknownDetail}, FieldError{Field: "/王**", Detail: unknownDetail}},
		{FieldError{Field: "/x/陈建国/0", Detail: duplicateDetail}, FieldError{Field: "/x/陈**/0", Detail: duplicateDetail}},
		{FieldError{Field: "/tel_13800138000", Detail: unknownDetail}, FieldError{Field: "/tel_***********", Detail: unknownDetail}},
		{FieldError{Field: "/callback_url", Detail: unknownDetail}, FieldError{Field: "/callback_url", Detail: unknownDetail}},
		{FieldError{Field: "/", Detail: "cannot unmarshal number 13800138000 into int32"}, FieldError{Field: "/", Detail: "cannot unmarshal number 138****8000 into int32"}},
		{FieldError{Field: "/location/lon", Detail: "maximum: got 13800138000, want 136"}, FieldError{Field: "/location/lon", Detail: "maximum: got 138****8000, want 136"}},
		{FieldError{Field: "/x/0/13800138000", Detail: unknownDetail}, FieldError{Field: "/x/0/138****8000", Detail: unknownDetail}},
	} {
		if got := p.mask.masked([]FieldError{tc.in}, names); got[0] != tc.want {
			t.Errorf("%+v masked is %+v, want %+v", tc.in, got[0], tc.want)
		}
	}
}

// Each key the schema lacks is named by its own pointer, at any depth
// the schema has objects: not the object quoting the keys it holds.
func TestUnknownKeysAreNamedByTheirPointers(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	body := `{"ticket_id":"a","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区","zz":1,"history":true,` +
		`"location":{"lon":118.1,"lat":24.5,"alt":3},"caller":{"name":"王小明","id_card":"x"}}`
	_, fe, err := p.Parse([]byte(body))
	var got []string
	for _, f := range fe {
		got = append(got, f.Field)
		if f.Detail != unknownDetail {
			t.Errorf("%s: %q, want it said not allowed", f.Field, f.Detail)
		}
	}
	if want := []string{"/caller/id_card", "/history", "/location/alt", "/zz"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("%v: named %v, want %v", err, got, want)
	}
}

// A property the schema knows is never masked, whatever the caller is
// named: its pointer still resolves and the detail keeps its words (a
// caller "an" made a bad channel /cha*nel). Only the sender's own keys
// and what a detail quotes of the sender's are masked.
func TestMaskingLeavesTheSchemasWords(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	body := func(name, extra string) []byte {
		return []byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区",` +
			`"channel":"fax","subcategory":"x","location":{"lon":"x","lat":24.5},"caller":{"name":"` + name + `","phone":"x"}` + extra + `}`)
	}
	_, want, err := p.Parse(body("zz", ""))
	if err != nil || len(want) != 4 {
		t.Fatalf("%v %+v, want four errors", err, want)
	}
	for _, name := range []string{"an", "one", "must", "hone", "cat", "lo", "ti"} {
		_, got, err := p.Parse(body(name, ""))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("caller %q: %v %+v, want %+v", name, err, got, want)
		}
	}
	if want[0].Field != "/caller/phone" || want[1].Field != "/channel" || want[2].Field != "/location/lon" || want[3].Field != "/subcategory" {
		t.Errorf("fields %+v, want /caller/phone, /channel, /location/lon, /subcategory", want)
	}
	// The sender's key holding the name is masked; the property beside it
	// and the intake's detail are not.
	_, got, err := p.Parse(body("an", `,"plan":1,"location_note":{"an":1}`))
	var fields []string
	for _, f := range got {
		fields = append(fields, f.Field)
		if strings.Contains(f.Field, "an") && f.Field != "/channel" {
			t.Errorf("%s: the caller's name unmasked", f.Field)
		}
	}
	if err != nil || !slices.Contains(fields, "/channel") || !slices.Contains(fields, "/pla*") || !slices.Contains(fields, "/location_note") {
		t.Errorf("%v: fields %v, want /channel, /pla* and /location_note (no property, and no name in it)", err, fields)
	}
	for _, f := range got {
		if f.Field == "/pla*" && f.Detail != unknownDetail {
			t.Errorf("/pla*: %q, want %q", f.Detail, unknownDetail)
		}
	}
}

// Keys masked alike (王小明 and 王大明 are both /王**) are told apart:
// two errors alike would read as one key said twice.
func TestKeysMaskedAlikeAreToldApart(t *testing.T) {
	p, err := NewParser()
	if err != nil {
		t.Fatal(err)
	}
	_, fe, err := p.Parse([]byte(`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区",` +
		`"王小明":1,"王大明":2,"王":3,"caller":{"陈建国":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	var alike []FieldError
	for _, f := range fe {
		if strings.ContainsAny(f.Field+f.Detail, "小大建国明") {
			t.Errorf("%+v: a key unmasked", f)
		}
		if f.Field == "/王**" {
			alike = append(alike, f)
		}
	}
	if len(fe) != 4 || len(alike) != 2 || alike[0] == alike[1] ||
		!strings.HasPrefix(alike[0].Detail, unknownDetail) || !strings.HasPrefix(alike[1].Detail, unknownDetail) ||
		!strings.Contains(alike[0].Detail, "1 of 2") || !strings.Contains(alike[1].Detail, "2 of 2") {
		t.Errorf("%+v, want /王** twice, told apart as 1 of 2 and 2 of 2", fe)
	}
	for _, f := range fe {
		if (f.Field == "/王" || f.Field == "/caller/陈**") && f.Detail != unknownDetail {
			t.Errorf("%+v: numbered, alike no other", f)
		}
	}
}
