package workorder

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// decodePlain decodes a work order in one pass when it is plainly valid:
// an object of the schema's properties, each once, with values of the
// expected types inside the schema's limits. ok is true only when the
// schema would accept body and json.Unmarshal would decode it to c
// without error; in any doubt (an unknown or repeated property, null, a
// value at a limit, an escaped timestamp, a lone surrogate escape) it is false
// and the schema judges the body, naming every offending field. The fuzz
// test holds the two paths to the same answers.
//
// body must be valid UTF-8.
func decodePlain(body []byte) (c Complaint, ok bool) {
	s := scanner{b: body}
	var seen uint16
	if !s.objectStart() {
		return c, false
	}
	for more := true; more; {
		key, ok := s.key()
		if !ok {
			return c, false
		}
		var bit uint16
		switch key {
		case "ticket_id":
			bit, ok = 1<<0, s.stringInto(&c.TicketID)
		case "received_at":
			bit, ok = 1<<1, s.timestamp(&c)
		case "description":
			bit, ok = 1<<2, s.stringInto(&c.Description)
		case "category":
			bit, ok = 1<<3, s.stringInto(&c.Category)
		case "subcategory":
			bit, ok = 1<<4, s.stringInto(&c.Subcategory)
		case "hotline_category":
			bit, ok = 1<<5, s.stringInto(&c.HotlineCategory)
		case "address":
			bit, ok = 1<<6, s.stringInto(&c.Address)
		case "location":
			c.Location = new(event.Location)
			bit, ok = 1<<7, s.location(c.Location)
		case "caller":
			c.Caller = new(Caller)
			bit, ok = 1<<8, s.caller(c.Caller)
		case "channel":
			bit, ok = 1<<9, s.stringInto(&c.Channel)
		default:
			return c, false
		}
		if !ok || seen&bit != 0 {
			return c, false
		}
		seen |= bit
		if more, ok = s.next(); !ok {
			return c, false
		}
	}
	s.space()
	if s.i != len(s.b) {
		return c, false
	}
	const required = 1<<0 | 1<<1 | 1<<2
	if seen&required != required || seen&(1<<6|1<<7) == 0 {
		return c, false
	}
	return c, plainValid(&c, seen)
}

// plainValid checks the decoded values against the schema's limits,
// strictly inside them: a number on a bound is left to the schema.
func plainValid(c *Complaint, seen uint16) bool {
	if !ticketID(c.TicketID) || !runes(c.Description, 1, 4000) {
		return false
	}
	if seen&(1<<3) != 0 && !oneOf(c.Category, "noise", "dust", "cooking_smoke") {
		return false
	}
	if seen&(1<<4) != 0 && !oneOf(c.Subcategory, "construction", "social_life", "traffic", "industrial",
		"construction_site", "road", "yard", "restaurant", "open_air_bbq") {
		return false
	}
	if seen&(1<<5) != 0 && !runes(c.HotlineCategory, 0, 200) {
		return false
	}
	if seen&(1<<6) != 0 && !runes(c.Address, 1, 500) {
		return false
	}
	if l := c.Location; l != nil {
		// A float64 strictly inside a bound that float64 holds exactly
		// rounds from a decimal strictly inside it too.
		if !(l.Lon > 73 && l.Lon < 136 && l.Lat > 3 && l.Lat < 54) {
			return false
		}
	}
	if p := c.Caller; p != nil {
		if !runes(p.Name, 0, 100) || !phone(p.Phone) {
			return false
		}
	}
	if seen&(1<<9) != 0 && !oneOf(c.Channel, "phone", "app", "web", "wechat", "other") {
		return false
	}
	return true
}

func oneOf(s string, values ...string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}

func runes(s string, lo, hi int) bool {
	if len(s) < lo {
		return false
	}
	if len(s) <= hi && len(s) >= lo && isASCII(s) {
		return true
	}
	n := utf8.RuneCountInString(s)
	return n >= lo && n <= hi
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ticketID matches ^[A-Za-z0-9][A-Za-z0-9._:/-]*$ within 1 to 64 characters.
func ticketID(s string) bool {
	if len(s) == 0 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch ch := s[i]; {
		case alnum(ch), ch == '.', ch == '_', ch == ':', ch == '/', ch == '-':
		default:
			return false
		}
	}
	return true
}

func alnum(ch byte) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
}

// phone matches ^[0-9+() -]*$ within 32 characters.
func phone(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= '0' && ch <= '9', ch == '+', ch == '(', ch == ')', ch == ' ', ch == '-':
		default:
			return false
		}
	}
	return true
}

// scanner reads a JSON document strictly, byte by byte.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and then ch.
func (s *scanner) consume(ch byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ch {
		s.i++
		return true
	}
	return false
}

// objectStart reads the opening brace of a non-empty object.
func (s *scanner) objectStart() bool {
	if !s.consume('{') {
		return false
	}
	s.space()
	return s.i < len(s.b) && s.b[s.i] == '"'
}

// key reads a property name without escapes and its colon.
func (s *scanner) key() (string, bool) {
	raw, escaped, ok := s.rawString()
	if !ok || escaped || !s.consume(':') {
		return "", false
	}
	return string(raw), true
}

// next reads the comma before another property (more) or the closing
// brace.
func (s *scanner) next() (more, ok bool) {
	s.space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case '}':
		s.i++
		return false, true
	}
	return false, false
}

// rawString reads a string and returns its bytes between the quotes,
// still escaped; escaped tells whether it holds a backslash.
func (s *scanner) rawString() (raw []byte, escaped, ok bool) {
	if !s.consume('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch ch := s.b[s.i]; {
		case ch == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case ch == '\\':
			escaped = true
			s.i += 2
		case ch < 0x20:
			return nil, false, false
		default:
			s.i++
		}
	}
	return nil, false, false
}

// stringInto reads a string value into dst, unescaped as encoding/json
// does; a lone surrogate escape is left to the schema path.
func (s *scanner) stringInto(dst *string) bool {
	raw, escaped, ok := s.rawString()
	if !ok {
		return false
	}
	if !escaped {
		*dst = string(raw)
		return true
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		ch := raw[i]
		if ch != '\\' {
			out = append(out, ch)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(raw) {
				return false
			}
			r, ok := hex4(raw[i+2:])
			if !ok {
				return false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// Only a well-formed pair is read here; encoding/json
				// replaces a lone half, which the schema path does.
				if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return false
				}
				low, ok := hex4(raw[i+2:])
				if r = utf16.DecodeRune(r, low); !ok || r == utf8.RuneError {
					return false
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return false
		}
		i += 2
	}
	*dst = string(out)
	return true
}

// hex4 reads the four hexadecimal digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, ch := range b[:4] {
		switch {
		case ch >= '0' && ch <= '9':
			r = r<<4 | rune(ch-'0')
		case ch >= 'a' && ch <= 'f':
			r = r<<4 | rune(ch-'a'+10)
		case ch >= 'A' && ch <= 'F':
			r = r<<4 | rune(ch-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// timestamp reads received_at. Only the plain RFC 3339 form
// yyyy-mm-ddThh:mm:ss[.f](Z|±hh:mm), unescaped, is read here: the schema
// accepts every such string that time parses, and json.Unmarshal parses
// it exactly so.
func (s *scanner) timestamp(c *Complaint) bool {
	raw, escaped, ok := s.rawString()
	if !ok || escaped || !plainDateTime(raw) {
		return false
	}
	return c.ReceivedAt.UnmarshalText(raw) == nil
}

func plainDateTime(b []byte) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(b) < len(shape)+1 {
		return false
	}
	for i := range len(shape) {
		if shape[i] == 'd' && !digit(b[i]) || shape[i] != 'd' && b[i] != shape[i] {
			return false
		}
	}
	// The schema's limits, whatever time.Parse would allow: no leap
	// second, an offset within ±23:59.
	if two(b[11:]) > 23 || two(b[14:]) > 59 || two(b[17:]) > 59 {
		return false
	}
	rest := b[len(shape):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && digit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if len(rest) == 1 {
		return rest[0] == 'Z'
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') &&
		digit(rest[1]) && digit(rest[2]) && rest[3] == ':' && digit(rest[4]) && digit(rest[5]) &&
		two(rest[1:]) <= 23 && two(rest[4:]) <= 59
}

// two is the number of the two digits at the start of b.
func two(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

func digit(ch byte) bool { return ch >= '0' && ch <= '9' }

// number reads a JSON number as encoding/json decodes it into a float64.
func (s *scanner) number(dst *float64) bool {
	s.space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		for s.i < len(s.b) && digit(s.b[s.i]) {
			s.i++
		}
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	*dst = f
	return err == nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && digit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

// location reads the location object; lon and lat are required, crs
// is one of the schema's.
func (s *scanner) location(l *event.Location) bool {
	if !s.objectStart() {
		return false
	}
	var seen uint8
	for more := true; more; {
		key, ok := s.key()
		if !ok {
			return false
		}
		var bit uint8
		switch key {
		case "lon":
			bit, ok = 1, s.number(&l.Lon)
		case "lat":
			bit, ok = 2, s.number(&l.Lat)
		case "crs":
			bit, ok = 4, s.stringInto(&l.CRS) && oneOf(l.CRS, "wgs84", "gcj02", "bd09")
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if more, ok = s.next(); !ok {
			return false
		}
	}
	return seen&3 == 3
}

// caller reads the caller object; an empty one is left to the schema.
func (s *scanner) caller(p *Caller) bool {
	if !s.objectStart() {
		return false
	}
	var seen uint8
	for more := true; more; {
		key, ok := s.key()
		if !ok {
			return false
		}
		var bit uint8
		switch key {
		case "name":
			bit, ok = 1, s.stringInto(&p.Name)
		case "phone":
			bit, ok = 2, s.stringInto(&p.Phone)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if more, ok = s.next(); !ok {
			return false
		}
	}
	return true
}
