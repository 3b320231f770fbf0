package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

type runnerFunc func(context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

// serve runs Serve with parts on a free port until stop is called, and
// returns what Serve returned.
func serve(t *testing.T, parts ...Part) (stop func() error) {
	_, stop = serveConfig(t, config.Config{}, parts...)
	return stop
}

// serveConfig is serve with the configuration cfg, and tells the address
// it serves on.
func serveConfig(t *testing.T, cfg config.Config, parts ...Part) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &System{Cfg: cfg, Log: zap.NewNop()}, ln, parts) }()
	return ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
			return nil
		}
	}
}

// A part still starting when the process is stopped (declaring its
// consumer, say) ends with its context's error: that is a clean stop, not
// a failure of the process.
func TestServeStopsCleanlyWhileAPartIsStarting(t *testing.T) {
	starting := runnerFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("router: declare consumer router-returned: %w", ctx.Err())
	})
	stop := serve(t, Part{Name: "router", Runner: starting, Publishes: []string{}})
	if err := stop(); err != nil {
		t.Fatalf("Serve returned %v, want a clean stop", err)
	}
}

// A part that fails on its own stops the process with its error.
func TestServeReportsAPartThatFails(t *testing.T) {
	boom := errors.New("boom")
	stop := serve(t, Part{Name: "broken", Runner: runnerFunc(func(context.Context) error { return boom }), Publishes: []string{}})
	time.Sleep(100 * time.Millisecond)
	if err := stop(); !errors.Is(err, boom) {
		t.Fatalf("Serve returned %v, want the part's failure", err)
	}
}

// The routes of every part see the client NUISANCE_TRUSTED_PROXIES says
// a request comes from: the address its proxy forwarded for it when the
// peer is one of them, the peer otherwise.
func TestServeReadsTheClientBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	echo := Part{Name: "echo", Routes: func(m httpx.Mux) {
		m.HandleFunc("GET /client", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, httpx.ClientAddr(r).String())
		})
	}}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxy trusted", nil, "127.0.0.1"},
		{"the peer trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.7"},
		{"another proxy trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1"},
	} {
		addr, stop := serveConfig(t, config.Config{TrustedProxies: tc.trusted}, echo)
		req, err := http.NewRequest("GET", "http://"+addr+"/client", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s: the client is %s, want %s", tc.name, b, tc.want)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
