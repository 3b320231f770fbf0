package officers

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const rateLimited = "nuisance_officers_rate_limited_total"

// send sends a request as who and returns the response, its body read.
func (e *env) send(who, method, path string, body []byte) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		e.t.Fatal(err)
	}
	return resp, b.Bytes()
}

// TestRateLimit: one token (or a script holding it) cannot hammer the
// API: past its burst it is answered 429 with Retry-After, counted, while
// other tokens and its event stream go on; the defaults let a console
// through, opening and redrawing on every pushed case event.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)

	t.Run("script", func(t *testing.T) {
		// One request every 2 s: a busy machine's slow requests do not
		// earn the 11th back.
		e := setup(t, n.JS, func(c *Config) { c.RatePerToken, c.RateBurst = 0.5, 10 })
		id := e.newCase(ownTeam, complaint{id: "cmp_rate", ticket: "TRATE"})
		before, _ := testenv.Metric(t, rateLimited)
		for i := range 10 {
			if code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil); code != 200 {
				t.Fatalf("request %d of the burst: %d %s", i+1, code, body)
			}
		}
		resp, body := e.send(whoOwn, "GET", "/api/v1/cases/"+id, nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("past the burst: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if p := problem(t, body); p.Status != 429 || p.Detail == "" {
			t.Errorf("problem %+v", p)
		}
		wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 2 {
			t.Errorf("Retry-After %q, want the second or so until the next request", resp.Header.Get("Retry-After"))
		}
		// An action is a request like any other; refused, it is not done.
		if resp, body := e.send(whoOwn, "POST", "/api/v1/cases/"+id+"/accept", nil); resp.StatusCode != 429 {
			t.Fatalf("accept past the burst: %d %s", resp.StatusCode, body)
		}
		if st := e.status(id); st != "assigned" {
			t.Errorf("a refused accept left the case %s", st)
		}
		if after, _ := testenv.Metric(t, rateLimited); after-before != 2 {
			t.Errorf("%s went from %v to %v, want 2 more", rateLimited, before, after)
		}
		// Another token is not held back by this one.
		if code, body := e.do(whoSupervisor, "GET", "/api/v1/cases/"+id, nil); code != 200 {
			t.Errorf("another token: %d %s", code, body)
		}
		// The event stream has caps of its own and is not rate limited.
		e.openStream(whoOwn, "")
		// After Retry-After the token is served again.
		time.Sleep(time.Duration(wait) * time.Second)
		if code, body := e.do(whoOwn, "GET", "/api/v1/cases/"+id, nil); code != 200 {
			t.Errorf("after Retry-After: %d %s", code, body)
		}
	})

	t.Run("unknown tokens", func(t *testing.T) {
		// Random tokens from one address: 401 until it failed too often,
		// then 429 with Retry-After (internal/auth), the officers still
		// served.
		e := setup(t, n.JS)
		for i := range 100 {
			tok, _, err := auth.NewToken()
			if err != nil {
				t.Fatal(err)
			}
			e.tokens["script"] = tok
			resp, body := e.send("script", "GET", "/api/v1/me", nil)
			if resp.StatusCode == 429 {
				if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("429 %v %s", resp.Header, body)
				}
				break
			}
			if resp.StatusCode != 401 || i == 99 {
				t.Fatalf("random token %d: %d %s", i+1, resp.StatusCode, body)
			}
		}
		if code, body := e.do(whoOwn, "GET", "/api/v1/me", nil); code != 200 {
			t.Errorf("an officer from the same address: %d %s", code, body)
		}
	})

	t.Run("console", func(t *testing.T) {
		e := setup(t, n.JS)
		id := e.newCase(ownTeam, complaint{id: "cmp_rate", ticket: "TRATE"})
		before, _ := testenv.Metric(t, rateLimited)
		// The console opens: who am I, the list, the triage list of a
		// supervisor; then it redraws the list and the open case on each
		// of 40 case events pushed at once (an outage's backlog), and the
		// officer acts.
		reqs := []string{"/api/v1/me", "/api/v1/assignments?status=assigned,accepted", "/api/v1/cases/" + id}
		for range 40 {
			reqs = append(reqs, "/api/v1/assignments?status=assigned,accepted", "/api/v1/cases/"+id)
		}
		for i, path := range reqs {
			if code, body := e.do(whoOwn, "GET", path, nil); code != 200 {
				t.Fatalf("console request %d (%s): %d %s", i+1, path, code, body)
			}
		}
		if code, body := e.do(whoOwn, "POST", "/api/v1/cases/"+id+"/accept", nil); code != 200 {
			t.Fatalf("accept: %d %s", code, body)
		}
		if after, _ := testenv.Metric(t, rateLimited); after != before {
			t.Fatalf("the console was rate limited")
		}
		// A script that goes on is held back.
		limited := 0
		for range 200 {
			if resp, _ := e.send(whoOwn, "GET", "/api/v1/assignments", nil); resp.StatusCode == 429 {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("200 more requests at once were all served")
		}
	})
}
