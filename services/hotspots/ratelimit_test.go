package hotspots

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const rateLimitedMetric = "nuisance_hotspots_rate_limited_total"

// TestRateLimit: a token (or a script holding it) cannot hammer the
// hotspots API any more than the officers' API: past its burst it is
// answered 429 with Retry-After, counted, on both routes, while another
// token goes on; random tokens from one address are held back too.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seedHotspots(t, pool)
	tokens := auth.NewStore(pool, auth.DefaultCacheTTL)
	_, script, err := tokens.Add(ctx, auth.NewOfficer{Name: "脚本", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := tokens.Add(ctx, auth.NewOfficer{Name: "督导", Role: auth.RoleSupervisor, District: "siming"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Authorize = tokens.Authorizer()
	// The default burst, refilled so slowly that a busy machine's slow
	// requests do not earn the 101st back.
	cfg.RatePerToken = 0.01
	s, err := New(cfg, pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(tok, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	limitedAs := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: %d %s %s", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var p httpx.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.Status != 429 || p.Detail == "" {
			t.Errorf("%s: problem %s", what, body)
		}
		if wait, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || wait < 1 {
			t.Errorf("%s: Retry-After %q", what, resp.Header.Get("Retry-After"))
		}
	}

	before, _ := testenv.Metric(t, rateLimitedMetric)
	const burst = 100 // the default, as the officers' API
	for i := range burst {
		if resp, body := get(script, "/api/v1/hotspots"); resp.StatusCode != 200 {
			t.Fatalf("request %d of the burst: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := get(script, "/api/v1/hotspots")
	limitedAs("past the burst", resp, body)
	resp, body = get(script, "/api/v1/hotspots/weekly?week=2024-W11&category=noise")
	limitedAs("the weekly cells past the burst", resp, body)
	if after, _ := testenv.Metric(t, rateLimitedMetric); after-before != 2 {
		t.Errorf("%s went from %v to %v, want 2 more", rateLimitedMetric, before, after)
	}
	if resp, body := get(other, "/api/v1/hotspots"); resp.StatusCode != 200 {
		t.Errorf("another token: %d %s", resp.StatusCode, body)
	}

	// Random tokens: 401 until the address has failed too often, then 429.
	for i := range 200 {
		tok, _, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		resp, body := get(tok, "/api/v1/hotspots")
		if resp.StatusCode == 429 {
			limitedAs("random tokens", resp, body)
			break
		}
		if resp.StatusCode != 401 || i == 199 {
			t.Fatalf("random token %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, body := get(other, "/api/v1/hotspots"); resp.StatusCode != 200 {
		t.Errorf("a valid token from the address that failed: %d %s", resp.StatusCode, body)
	}
}
