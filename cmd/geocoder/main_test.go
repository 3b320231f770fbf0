package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// syncBuffer is the process's stdout, written by the logger while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRunGeocodesUntilCancelled(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	n := testenv.StartNATS(t)
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL":       dsn,
		"NATS_URL":           n.Server.URL(),
		"NUISANCE_HTTP_ADDR": addr,
		"NUISANCE_DATA_DIR":  t.TempDir(),
		"LOG_LEVEL":          "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, out) }()

	testenv.Eventually(t, 30*time.Second, "/readyz answers 200", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO complaints (id, ticket_id, received_at, description, address)
		VALUES ('c1', 'T1', now(), '楼下KTV半夜唱歌', '湖里区江头街道')`); err != nil {
		t.Fatal(err)
	}
	ev := event.ComplaintReceived{EventID: "c1.received", ComplaintID: "c1", TicketID: "T1", ReceivedAt: time.Now(),
		Description: "楼下KTV半夜唱歌", Address: "湖里区江头街道"}
	b, _ := json.Marshal(ev)
	m := nats.NewMsg(event.SubjComplaintReceived)
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, ev.EventID)
	if _, err := n.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the complaint located", func() bool {
		var district string
		err := pool.QueryRow(context.Background(), `SELECT district FROM locations WHERE complaint_id = 'c1'`).Scan(&district)
		return err == nil && district == "huli"
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, output:\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of shutdown")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LOG_LEVEL": "loud", "NUISANCE_DATA_DIR": t.TempDir()}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &syncBuffer{})
	if err == nil {
		t.Fatal("run accepted LOG_LEVEL=loud")
	}
	if err := run(context.Background(), []string{"-batch=x"}, func(string) string { return "" }, &syncBuffer{}); err == nil {
		t.Fatal("run accepted -batch=x")
	}
}
