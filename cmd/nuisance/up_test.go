package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// A data directory that ran the demo week without a callback URL holds
// its callbacks, waiting. Started again with HOTLINE_CALLBACK_URL set (the
// real hotline's), nuisance up tells the hotline of none of them: they
// are listed discarded by the demo, neither pending nor dead, while a
// real work order's callback waiting beside them is delivered. Its
// banner says the reports need an officer's token.
func TestUpWithACallbackURLNeverSendsTheDemosCallbacks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := pgtest.DSN(t)
	pool := pgtest.Pool(t, dsn)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	const real = "12345-20261201-000009"
	demo := []string{callbacks.DemoTicketPrefix + "12345-20261130-000001", callbacks.DemoTicketPrefix + "12345-20261130-000002", callbacks.DemoTicketPrefix + "12345-20261130-000003"}
	if _, err := pool.Exec(ctx, `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, at)
		SELECT 'cb_' || t, 'ev_' || t, t, 'case_' || t, 'assigned', 'siming-eco', now() - interval '1 day' FROM unnest($1::text[]) AS t`,
		append([]string{real}, demo...)); err != nil {
		t.Fatal(err)
	}

	hook, err := standardwebhooks.NewWebhook(e2eSecret)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &hotlineReceiver{statuses: map[string][]string{}, hook: hook}
	hl := httptest.NewServer(rcv)
	t.Cleanup(hl.Close)
	dataDir, addr := t.TempDir(), testenv.FreeAddr(t)
	logf, err := os.Create(filepath.Join(dataDir, "up.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildBinary(t), "up")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "NUISANCE_DATA_DIR="+dataDir, "NUISANCE_HTTP_ADDR="+addr,
		"HOTLINE_SECRET="+e2eSecret, "HOTLINE_CALLBACK_URL="+hl.URL, "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	testenv.Eventually(t, 60*time.Second, "the real work order's callback delivered and none waiting", func() bool {
		rcv.mu.Lock()
		heard := len(rcv.statuses[real])
		rcv.mu.Unlock()
		pending, _, err := callbacks.Counts(ctx, pool)
		return heard == 1 && err == nil && pending == 0
	})
	rcv.mu.Lock()
	for ticket := range rcv.statuses {
		if ticket != real {
			t.Errorf("the hotline heard of %s", ticket)
		}
	}
	rcv.mu.Unlock()
	if pending, dead, err := callbacks.Counts(ctx, pool); err != nil || pending != 0 || dead != 0 {
		t.Errorf("counted %d pending and %d dead (%v), want none", pending, dead, err)
	}
	var out, errOut bytes.Buffer
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": dataDir}
	if err := runCallbacks(ctx, []string{"dead", "-discarded"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("callbacks dead -discarded: %v: %s", err, errOut.String())
	}
	for _, ticket := range demo {
		if !strings.Contains(out.String(), ticket) {
			t.Errorf("callbacks dead -discarded does not list %s:\n%s", ticket, out.String())
		}
	}
	if !strings.Contains(out.String(), callbacks.DemoDiscardReason) || !strings.Contains(out.String(), "3 discarded") {
		t.Errorf("callbacks dead -discarded:\n%s\nwant the demo's 3, each with its reason", out.String())
	}
	log, err := os.ReadFile(logf.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "reports (with an officer's token) http://"+addr+"/reports/weekly/") {
		t.Errorf("the banner does not say the reports need a token:\n%s", log)
	}
	if !strings.Contains(string(log), "callbacks of demo work orders discarded") {
		t.Errorf("the log does not tell of the demo's callbacks discarded:\n%s", log)
	}
	// The reports answer a browser without a token 401, as the banner says.
	r, err := http.Get("http://" + addr + "/reports/weekly/")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("reports without a token: %s, want 401", r.Status)
	}
}
