package intake

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestJSONContent(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"application/json":                true,
		"application/json; charset=utf-8": true,
		"Application/JSON":                true,
		"application/webhook+json":        true,
		"":                                false,
		"text/plain":                      false,
		"application/jsonx":               false,
		"application/json; =":             false,
	} {
		if got := jsonContent(ct); got != want {
			t.Errorf("jsonContent(%q) = %v, want %v", ct, got, want)
		}
	}
}

// readBody reads bodies of any announced length whole, and refuses one
// over MaxBody whatever its announced length.
func TestReadBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		size     int
		announce int64
		tooLarge bool
	}{
		{"announced", 1000, 1000, false},
		{"unannounced", 3000, -1, false},
		{"empty", 0, 0, false},
		{"at the limit", MaxBody, MaxBody, false},
		{"over the limit unannounced", MaxBody + 1, -1, true},
	} {
		body := []byte(strings.Repeat("x", tc.size))
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.ContentLength = tc.announce
		got, err := readBody(httptest.NewRecorder(), r)
		var mbe *http.MaxBytesError
		if tc.tooLarge {
			if !errors.As(err, &mbe) {
				t.Errorf("%s: read %d bytes, error %v", tc.name, len(got), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: read %d of %d bytes, error %v", tc.name, len(got), tc.size, err)
		}
	}
}
