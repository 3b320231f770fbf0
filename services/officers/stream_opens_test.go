package officers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// openOnce opens the event stream with the bearer token in the header and
// closes it as soon as its head is read; it returns the response.
func (e *env) openOnce(token, query, lastID string) *http.Response {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+auth.StreamPath+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Every open of the stream is a JetStream consumer, and one resuming
// after Last-Event-ID 1 reads the whole case stream through: a script
// reconnecting in a loop made the server do so without end. A token
// opens a burst of streams (a phone's reconnections, StreamOpenBurst of
// the Config), then is told to wait, as a problem with Retry-After, until
// StreamOpenEvery gives one back; another token is not.
func TestATokenOpensStreamsAtARate(t *testing.T) {
	t.Parallel()
	if def := DefaultConfig(); def.StreamOpenBurst != 10 || def.StreamOpenEvery != 3*time.Second {
		t.Errorf("default stream opens: bursts of %d, one every %s; want 10, 3s", def.StreamOpenBurst, def.StreamOpenEvery)
	}
	n := testenv.StartNATS(t)
	// An hour between opens past the burst: no open is given back while
	// the test runs, so the refusal comes exactly after the burst.
	const burst = 3
	e := setup(t, n.JS, func(c *Config) { c.StreamOpenBurst, c.StreamOpenEvery = burst, time.Hour })
	for i := range burst {
		if resp := e.openOnce(e.tokens[whoOwn], "", "1"); resp.StatusCode != 200 {
			t.Fatalf("open %d of a token's first %d: %d", i+1, burst, resp.StatusCode)
		}
	}
	refused := e.openOnce(e.tokens[whoOwn], "", "1")
	if refused.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("open %d, past the token's burst of %d: %d, want 429", burst+1, burst, refused.StatusCode)
	}
	if s, err := strconv.Atoi(refused.Header.Get("Retry-After")); err != nil || s < 3000 || s > 3600 {
		t.Errorf("429 with Retry-After %q, want the hour of StreamOpenEvery in whole seconds", refused.Header.Get("Retry-After"))
	}
	if ct := refused.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("429 as %q, want a problem", ct)
	}
	// Another token opens its stream, and the limited one still makes
	// other requests: the opens have a budget of their own.
	if resp := e.openOnce(e.tokens[whoOtherTeam], "", ""); resp.StatusCode != 200 {
		t.Errorf("another token's stream: %d", resp.StatusCode)
	}
	if code, _ := e.do(whoOwn, "GET", "/api/v1/me", nil); code != 200 {
		t.Errorf("me of the token whose opens are limited: %d", code)
	}
}

// A browser's EventSource sends no Authorization header, so the stream
// takes its token as access_token; no other route does, or a token put
// in the address of a case or a report would work there (and spread
// through history, logs and Referer).
func TestOnlyTheStreamTakesTheTokenInItsAddress(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	q := "?heartbeat=event&access_token=" + url.QueryEscape(e.tokens[whoOwn])
	if resp := e.openOnce("", q, ""); resp.StatusCode != 200 {
		t.Fatalf("stream with access_token: %d", resp.StatusCode)
	}
	for _, path := range []string{"/api/v1/assignments", "/api/v1/me", "/api/v1/triage"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path+q, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with access_token and Accept: text/event-stream: %d, want 401", path, resp.StatusCode)
		}
	}
}
