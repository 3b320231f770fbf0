package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The command starts against the environment's NATS and PostgreSQL,
// reports ready, and stops cleanly when its context ends.
func TestRunServesReadinessAndStops(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{
		"NATS_URL":             n.Server.URL(),
		"DATABASE_URL":         pgtest.DSN(t),
		"NUISANCE_HTTP_ADDR":   addr,
		"NUISANCE_DATA_DIR":    t.TempDir(),
		"HOTLINE_SECRET":       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"HOTLINE_CALLBACK_URL": "http://127.0.0.1:9/unused",
		"LOG_LEVEL":            "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard) }()
	testenv.Eventually(t, 30*time.Second, "ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s")
	}
}
