package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// A failed check's error (a driver's names the database's user, name,
// host and port) is told on the host only; any other client, such as the
// hotline on the intake's published port, learns which check failed.
func TestReadyzTellsWhyOnTheHostOnly(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	httpx.Ops(mux, httpx.Check{Name: "postgres", Fn: func(context.Context) error {
		return errors.New("failed to connect to `user=nuisance database=nuisance`: 10.0.0.5:5432: dial error")
	}})
	for _, tc := range []struct {
		remote, forwarded string
		why               bool
	}{
		{"127.0.0.1:40000", "", true},
		{"[::1]:40000", "", true},
		{"203.0.113.9:40000", "", false},
		// A proxy on the host, not trusted, forwarding a client's request.
		{"127.0.0.1:40000", "203.0.113.9", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		req.RemoteAddr = tc.remote
		if tc.forwarded != "" {
			req.Header.Set("X-Forwarded-For", tc.forwarded)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, `"postgres"`) {
			t.Errorf("from %s: %d %s, want 503 naming the check", tc.remote, rec.Code, body)
		}
		if got := strings.Contains(body, "10.0.0.5"); got != tc.why {
			t.Errorf("from %s (forwarded for %q): %s; the error told: %v, want %v", tc.remote, tc.forwarded, body, got, tc.why)
		}
	}
}
