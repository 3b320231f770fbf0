package reporter

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A client that sends token after unknown token is told to wait, as the
// officers' API tells it (429 with Retry-After), not answered 401 for
// ever: the reports share the token store's limit on failed look-ups.
func TestReportsTellAnAddressFailingTooOftenToWait(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	cfg := DefaultConfig(auth.NewStore(pool, time.Second).Authorizer().Role())
	s, err := New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for i := range 100 {
		token, _, err := auth.NewToken() // well formed, never stored
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", srv.URL+"/reports/weekly/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			continue
		case http.StatusTooManyRequests:
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("429 as %s", resp.Header.Get("Content-Type"))
			}
			return
		default:
			t.Fatalf("unknown token %d: %d", i+1, resp.StatusCode)
		}
	}
	t.Fatal("100 unknown tokens from one address were all answered 401: no wait asked")
}
