package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// realIntake serves the intake, on PostgreSQL, signed with e2eSecret.
func realIntake(t *testing.T) string {
	t.Helper()
	pool := testenv.DB(t)
	svc, err := intake.New(intake.DefaultConfig(e2eSecret), pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewServer(httpx.TrustProxies(nil, svc.RawLookups(mux)))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}

// A line the intake refuses for several faults was listed by its first
// alone: the operator fixed it, replayed, and was refused for the next.
// Every error the intake names is listed, compactly (the fields of one
// fault together), and none quotes the line's caller or a phone number,
// even where the intake's error quotes a key the line sent.
func TestReplayListsEveryErrorOfARejectedLine(t *testing.T) {
	t.Parallel()
	url := realIntake(t)
	file := filepath.Join(t.TempDir(), "orders.ndjson")
	bad := `{"ticket_id":"R-1","category":"smoke","address":"思明区莲前街道","caller":{"name":"王小明","phone":"13800138000x"},"王小明13800138000":"回电"}`
	if err := os.WriteFile(file, []byte(bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := runReplay(context.Background(), []string{"-q", "-url", url, file}, replayEnv, &out, &errb)
	summary := out.String()
	if err == nil || !strings.Contains(summary, "rejected 1") || !strings.Contains(summary, "(line 1)") {
		t.Fatalf("replay of a refused line: %v\n%s", err, summary)
	}
	for _, want := range []string{
		"/description, /received_at: missing: a required property",
		"/category: ",
		"/caller/phone: does not match pattern",
		"not allowed",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary does not list %q:\n%s", want, summary)
		}
	}
	if n := strings.Count(summary, "×"); n != 1 {
		t.Errorf("the rejection is listed as %d reasons, want one:\n%s", n, summary)
	}
	for _, pd := range []string{"王小明", "13800138000"} {
		if strings.Contains(summary, pd) {
			t.Errorf("the summary quotes %s:\n%s", pd, summary)
		}
	}
}
