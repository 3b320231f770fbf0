package intake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// signedGet looks up path as the hotline does, signed over an empty body,
// with path sent exactly as given.
func signedGet(t *testing.T, e env, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.Sign(req, "look-raw", nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// A ticket_id may hold a slash (the schema allows it, XM/2026/12:0001):
// its look-up answers the work order whether the hotline escapes the
// slashes in the path or not. Sent as they are, they were answered 404
// "no endpoint", as if the look-up did not exist.
func TestLookupOfATicketWithSlashes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	const ticket = "XM/2026/12:0001"
	resp, err := e.client.Post(ctx, "p-slash", body(ticket, ""))
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("post: %d %s (%v)", resp.Status, resp.Body, err)
	}
	for _, path := range []string{
		"/v1/hotline/complaints/XM/2026/12:0001",
		"/v1/hotline/complaints/XM%2F2026%2F12:0001",
		"/v1/hotline/complaints/XM%2F2026%2F12%3A0001",
	} {
		st, m := signedGet(t, e, path)
		if st != http.StatusOK || m["ticket_id"] != ticket {
			t.Errorf("GET %s: %d %v, want 200 with ticket %s", path, st, m, ticket)
		}
	}
	if r, _ := e.client.Lookup(ctx, "look-client", ticket); r.Status != http.StatusOK {
		t.Errorf("the client's look-up: %d %s", r.Status, r.Body)
	}
	// A ticket that is not there is the look-up's 404, which says so.
	st, m := signedGet(t, e, "/v1/hotline/complaints/XM/2026/12:0002")
	if st != http.StatusNotFound || m["detail"] != "no work order with this ticket_id" {
		t.Errorf("unknown ticket with slashes: %d %v", st, m)
	}
}

// A ticket_id may hold //, /./ or /../ (the schema's pattern allows
// them): sent with its slashes as they are, its look-up finds its own
// work order, not the one of the path a ServeMux cleans it to (a 307 to
// /v1/hotline/complaints/0004 for XM/../0004, another ticket's), and
// sent escaped (%2F) it does too.
func TestLookupOfATicketWithDotSegments(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tickets := []string{"XM/../0004", "XM//0005", "XM/./0006", "XM/.", "XM/..", "0004", "0005", "XM/0006", "XM"}
	for i, ticket := range tickets {
		resp, err := e.client.Post(ctx, fmt.Sprintf("dots-%d", i), body(ticket, ""))
		if err != nil || resp.Status != http.StatusAccepted {
			t.Fatalf("post %s: %d %s (%v)", ticket, resp.Status, resp.Body, err)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, ticket := range tickets {
		for _, path := range []string{ticket, strings.ReplaceAll(ticket, "/", "%2F")} {
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/hotline/complaints/"+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.client.Sign(req, "look-dots", nil); err != nil {
				t.Fatal(err)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || m["ticket_id"] != ticket {
				t.Errorf("GET %s: %d %s %v, want 200 with ticket %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), m, ticket)
			}
		}
	}
	// The client's look-up escapes the slashes.
	if r, _ := e.client.Lookup(ctx, "look-client", "XM/../0004"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"XM/../0004"`) {
		t.Errorf("the client's look-up: %d %s", r.Status, r.Body)
	}
}

// The collection takes POST alone: a GET of it (no ticket) or a PUT is
// 405 problem+json naming POST and the look-up's path, with an Allow that
// lists POST only, not the mux's redirect (307 text/html) to the look-up
// of no ticket, nor its Allow listing that GET.
func TestTheCollectionTakesPostAlone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, e.srv.URL+"/v1/hotline/complaints", nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" ||
			resp.Header.Get("Allow") != "POST" || !strings.Contains(fmt.Sprint(m["detail"]), "/v1/hotline/complaints/{ticket_id}") {
			t.Errorf("%s /v1/hotline/complaints: %d %s Allow %q %v", method, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), m)
		}
	}
	// No ticket after the slash is no look-up of a work order.
	st, m := signedGet(t, e, "/v1/hotline/complaints/")
	if st != http.StatusNotFound || !strings.Contains(fmt.Sprint(m["detail"]), "no ticket_id") {
		t.Errorf("GET /v1/hotline/complaints/: %d %v", st, m)
	}
}
