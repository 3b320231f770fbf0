package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func TestServeDebugServesTheProfilerUntilStopped(t *testing.T) {
	addr := testenv.FreeAddr(t)
	stop, err := serveDebug(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("GET /debug/pprof/: %d %.200s", resp.StatusCode, body)
	}
	stop()
	if resp, err := http.Get("http://" + addr + "/debug/pprof/"); err == nil {
		resp.Body.Close()
		t.Fatal("the profiler still answers after stop")
	}
	if _, err := serveDebug(context.Background(), "not an address"); err == nil || !strings.Contains(err.Error(), "NUISANCE_DEBUG_ADDR") {
		t.Fatalf("a bad address gave %v, want an error naming NUISANCE_DEBUG_ADDR", err)
	}
}
