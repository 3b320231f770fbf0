package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The command serves the API and readiness, and stops promptly even with
// an event stream open.
func TestRunServesAndStopsWithOpenStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	proc := testenv.StartProcess(t, testenv.StartNATS(t), run, nil, nil)
	dsn, addr := proc.DSN, proc.Addr

	pool, err := pgstore.Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, tok, err := auth.NewStore(pool, 0).Add(ctx, auth.NewOfficer{Name: "值班员", Team: "jimei-eco"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) *http.Response {
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// A triage correction leaves through this process's outbox relay.
	_, supTok, err := auth.NewStore(pool, 0).Add(ctx, auth.NewOfficer{Name: "督导", Role: auth.RoleSupervisor, District: "jimei"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ('c1', 'T1', now(), '夜里很吵');
		INSERT INTO triage (complaint_id, reason, kind) VALUES ('c1', 'no address', 'unlocated')`); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/triage/c1/correct",
		strings.NewReader(`{"district": "jimei", "category": "noise", "subcategory": "social_life"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+supTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("correction: %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "correction relayed", func() bool {
		var sent bool
		err := pool.QueryRow(ctx, `SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = 'c1.triage.corrected.1'`).Scan(&sent)
		return err == nil && sent
	})

	if resp := get("/api/v1/assignments", ""); resp.StatusCode != 401 {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	if resp := get("/api/v1/assignments", tok); resp.StatusCode != 200 {
		t.Fatalf("with a token: %d", resp.StatusCode)
	}
	stream := get("/api/v1/stream", tok)
	if stream.StatusCode != 200 {
		t.Fatalf("stream: %d", stream.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stream.Body)
		close(ended)
	}()

	start := time.Now()
	proc.Stop(t)
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("shutdown waited %s for the open stream", d)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not ended by the shutdown")
	}
}

// A trusted proxy named wrongly stops the process before it starts, the
// error naming the entry.
func TestRunRefusesABadTrustedProxy(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NUISANCE_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `NUISANCE_TRUSTED_PROXIES "lb.internal"`) {
		t.Fatalf("run returned %v", err)
	}
}
