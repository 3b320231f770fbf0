package officer

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeScript is the cost of one console asset request, gzip.
func BenchmarkServeScript(b *testing.B) {
	h := Handler()
	req := httptest.NewRequest(http.MethodGet, "/officer/app.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkDistrictOutlines is the one-off cost of simplifying the seed.
func BenchmarkDistrictOutlines(b *testing.B) {
	for b.Loop() {
		if _, err := districtOutlines(); err != nil {
			b.Fatal(err)
		}
	}
}
