// Package testenv gives tests the real infrastructure they run against: a
// migrated PostgreSQL database of their own and a real NATS server with
// JetStream, in-process, with its streams declared.
package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// DB returns a pool on a new migrated database, closed and dropped after t.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgstore.Open(ctx, dsn, 20)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// NATS is a running JetStream server of one test.
type NATS struct {
	Server *natsx.Embedded
	NC     *nats.Conn
	JS     jetstream.JetStream
}

// StartNATS starts an in-process nats-server with JetStream in a
// temporary directory and declares the pipeline's streams.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	srv, err := natsx.StartEmbedded(t.TempDir(), 0)
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := natsx.Connect(srv.URL(), t.Name(), zap.NewNop())
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natsx.DeclareStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	return &NATS{Server: srv, NC: nc, JS: js}
}

// Log is a logger that writes to the test's output, warnings and up,
// until the test ends: a line that comes later (a goroutine that outlived
// the test) goes to the process's standard error, named for the test,
// where testing would panic on it, so that it is neither lost nor fatal.
func Log(t testing.TB) *zap.Logger {
	return logTo(t, nil)
}

// logTo is Log, writing the lines that come after t to late (os.Stderr
// when nil).
func logTo(t testing.TB, late io.Writer) *zap.Logger {
	l := &untilEnd{TB: t, late: late}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.ended = true
	})
	return zaptest.NewLogger(l, zaptest.Level(zap.WarnLevel))
}

// untilEnd is t, whose log writes the lines that come once t has ended
// to late.
type untilEnd struct {
	testing.TB
	mu    sync.RWMutex
	ended bool
	late  io.Writer // os.Stderr when nil
}

func (l *untilEnd) Logf(format string, args ...any) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.ended {
		l.TB.Logf(format, args...)
		return
	}
	w := l.late
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "%s (logged after it ended): %s\n", l.TB.Name(), strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// Eventually polls cond every 20 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
