package intake_test

import (
	"context"
	"encoding/json"
	"net/http"
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
