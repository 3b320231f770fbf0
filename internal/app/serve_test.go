package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

type runnerFunc func(context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

// serve runs Serve with parts on a free port until stop is called, and
// returns what Serve returned.
func serve(t *testing.T, parts ...Part) (stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &System{Log: zap.NewNop()}, ln, parts) }()
	return func() error {
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
