package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer the command writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `nuisance gateway` reads its routes from NUISANCE_GATEWAY_ROUTES, serves
// its own health and proxies the rest, and stops with its context.
func TestGatewayCommandRoutesFromTheEnvironment(t *testing.T) {
	t.Parallel()
	hotspots := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hotspots") }))
	t.Cleanup(hotspots.Close)
	officers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "officers") }))
	t.Cleanup(officers.Close)
	env := map[string]string{
		"NUISANCE_HTTP_ADDR":      "127.0.0.1:0",
		"NUISANCE_DATA_DIR":       t.TempDir(),
		"NUISANCE_GATEWAY_ROUTES": "/api/v1/hotspots[timeout=5m]=" + hotspots.URL + ";/=" + officers.URL,
	}
	var errOut lockedBuffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"gateway"}, func(k string) string { return env[k] }, io.Discard, &errOut)
	}()
	defer stop()

	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		for _, line := range strings.Split(errOut.String(), "\n") {
			var e struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "gateway listening" {
				addr = e.Addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not start:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for path, want := range map[string]string{"/api/v1/hotspots?limit=1": "hotspots", "/officer/": "officers", "/healthz": `{"status":"ok"}`} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %d %q, want %q", path, resp.StatusCode, b, want)
		}
	}
	// Each route is logged with the wait for its headers, its own or
	// the default.
	timeouts := map[string]float64{}
	for _, line := range strings.Split(errOut.String(), "\n") {
		var e struct {
			Msg, Prefix   string
			HeaderTimeout float64 `json:"header_timeout"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "route" {
			timeouts[e.Prefix] = e.HeaderTimeout
		}
	}
	if timeouts["/api/v1/hotspots"] != 300 || timeouts["/"] != 60 {
		t.Errorf("routes logged with header timeouts %v (seconds), want /api/v1/hotspots 300 and / 60", timeouts)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestGatewayCommandNeedsRoutes(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"gateway"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "NUISANCE_GATEWAY_ROUTES") {
		t.Fatalf("got %v, want an error naming NUISANCE_GATEWAY_ROUTES", err)
	}
}
