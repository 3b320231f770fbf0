package workorder

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// duplicateDetail is the detail of a key sent twice in one object.
const duplicateDetail = "this key appears more than once in its object: send each key once (JSON leaves open which value counts)"

// moreDuplicatesDetail says that keys sent twice went unnamed.
const moreDuplicatesDetail = "more keys appear more than once than are named here: send each key once"

// duplicateKeys names the keys that appear more than once in their
// object, at any depth, by their JSON pointers (/ticket_id,
// /location/lat), each once, in the order the document repeats them, at
// most maxDuplicates. The decoders
// would keep the last value without a word, and the sender may mean the
// first. A body that is not JSON names none: the schema's decoder says
// what is wrong with it.
//
// It is a scan of the bytes, allocating only for a key written with
// escapes and for an object of many keys: a work order is read three
// times already (UTF-8, the schema, the decoding), and encoding/json's
// Decoder.Token took longer than the schema's validation.
func duplicateKeys(body []byte) []FieldError {
	s := dupScanner{b: body, path: make([]pathStep, 0, 8)}
	if !s.value(0) {
		return nil
	}
	return s.out
}

// maxScanDepth is as deep as the scan goes; encoding/json refuses a
// document nested deeper.
const maxScanDepth = 10000

type dupScanner struct {
	b    []byte
	i    int
	path []pathStep // from the document to the value being scanned
	out  []FieldError
	more bool // more keys sent twice than maxDuplicates
}

// pathStep is one step of a pointer: an object's key or an array's index.
type pathStep struct {
	key    []byte
	index  int
	object bool
}

func (s *dupScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; false for what is not JSON.
func (s *dupScanner) value(depth int) bool {
	s.space()
	if s.i >= len(s.b) || depth > maxScanDepth {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return s.object(depth)
	case '[':
		return s.array(depth)
	case '"':
		_, _, ok := s.str()
		return ok
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}

// str scans a string at its opening quote: its bytes as written, with
// the quotes, and whether it has escapes.
func (s *dupScanner) str() (quoted []byte, escaped, ok bool) {
	start := s.i
	s.i++
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			s.i++
			return s.b[start:s.i], escaped, true
		case '\\':
			escaped = true
			s.i++
		}
		s.i++
	}
	return nil, false, false
}

func (s *dupScanner) array(depth int) bool {
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	s.path = append(s.path, pathStep{})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for n := 0; ; n++ {
		s.path[len(s.path)-1].index = n
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *dupScanner) object(depth int) bool {
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	// An object's keys: in a list while it is small, as nearly every one
	// is, in a set beyond, so that an object of thousands of keys costs
	// no more than one pass.
	var small [16][]byte
	n := 0
	var many map[string]struct{}
	s.path = append(s.path, pathStep{object: true})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		quoted, escaped, ok := s.str()
		if !ok {
			return false
		}
		key := quoted[1 : len(quoted)-1]
		if escaped {
			var k string
			if json.Unmarshal(quoted, &k) != nil {
				return false
			}
			key = []byte(k)
		}
		s.path[len(s.path)-1].key = key
		dup := false
		if many != nil {
			if _, dup = many[string(key)]; !dup {
				many[string(key)] = struct{}{}
			}
		} else {
			for _, k := range small[:n] {
				if bytes.Equal(k, key) {
					dup = true
					break
				}
			}
			if !dup && n < len(small) {
				small[n] = key
				n++
			} else if !dup {
				many = make(map[string]struct{}, 2*len(small))
				for _, k := range small {
					many[string(k)] = struct{}{}
				}
				many[string(key)] = struct{}{}
			}
		}
		if dup {
			s.found(s.pointer)
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// pointer is the JSON pointer (RFC 6901) of the value being scanned.
// maxDuplicates is how many keys sent twice the answer names: a body of
// 64 KiB may repeat a key thousands of times, or nest repeats thousands
// deep, and the answer names each pointer once, the first few.
const maxDuplicates = 20

// found records a key sent twice, by its pointer, once each and at most
// maxDuplicates; past that, only that there were more.
func (s *dupScanner) found(pointer func() string) {
	if s.more {
		return
	}
	if len(s.out) == maxDuplicates {
		s.more = true
		s.out = append(s.out, FieldError{Field: "/", Detail: moreDuplicatesDetail})
		return
	}
	p := pointer()
	for _, e := range s.out {
		if e.Field == p {
			return
		}
	}
	s.out = append(s.out, FieldError{Field: p, Detail: duplicateDetail})
}

func (s *dupScanner) pointer() string {
	var p strings.Builder
	for _, st := range s.path {
		p.WriteByte('/')
		if st.object {
			p.WriteString(pointerEscaper.Replace(string(st.key)))
		} else {
			p.WriteString(strconv.Itoa(st.index))
		}
	}
	return p.String()
}

// pointerEscaper escapes a key for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
