package testenv

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// RunFunc is a command's run: what its main calls with the process's
// arguments, environment and standard output.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Process is a command's run function started as its process would be.
type Process struct {
	Addr string      // its HTTP address
	DSN  string      // its database
	Out  *SyncBuffer // its standard output (the logs)

	cancel context.CancelFunc
	done   chan error
}

// StartProcess runs run with args against n and a new database of its
// own, with extra added to the environment, and waits until its /readyz
// answers 200.
func StartProcess(t testing.TB, n *NATS, run RunFunc, args []string, extra map[string]string) *Process {
	t.Helper()
	p := &Process{Addr: FreeAddr(t), DSN: pgtest.DSN(t), Out: &SyncBuffer{}, done: make(chan error, 1)}
	env := map[string]string{
		"NATS_URL":           n.Server.URL(),
		"DATABASE_URL":       p.DSN,
		"NUISANCE_HTTP_ADDR": p.Addr,
		"NUISANCE_DATA_DIR":  t.TempDir(),
		"LOG_LEVEL":          "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	t.Cleanup(cancel)
	go func() { p.done <- run(ctx, args, func(k string) string { return env[k] }, p.Out) }()
	Eventually(t, 30*time.Second, "/readyz answers 200", func() bool {
		resp, err := http.Get("http://" + p.Addr + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// Stop ends the process's context and fails t unless run returns nil
// within 30 s.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, output:\n%s", err, p.Out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of shutdown")
	}
}

// FreeAddr is a loopback address with a port free at the time of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SyncBuffer is an output written by a process's logger while the test
// reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
