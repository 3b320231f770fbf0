package app

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The NATS cluster comes back empty (its volumes lost) while an intake
// runs. The intake has no consumer that would stop it, and nothing
// restarts it: the complaints it stores afterwards must still be
// published, without an operator restarting every process.
func TestAnIntakeGoesOnPublishingAfterNATSLostItsData(t *testing.T) {
	pool := testenv.DB(t)
	srv, err := natsx.StartEmbedded(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL())
	port, _ := strconv.Atoi(u.Port())
	nc, err := natsx.Connect(srv.URL(), t.Name(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := natsx.DeclareStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	sys := &System{Cfg: config.Config{StreamReplicas: 1, SweepAfter: 2 * time.Minute}, Log: testenv.Log(t), Pool: pool, NC: nc, JS: js}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	idle := runnerFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
	go func() {
		done <- Serve(sctx, sys, ln, []Part{{Name: "intake", Runner: idle, Publishes: []string{"complaint.received"}}})
	}()
	defer func() { cancel(); <-done }()

	store := func(id string) {
		t.Helper()
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return outbox.Add(ctx, tx, "complaint.received", id, map[string]string{"event_id": id})
		}); err != nil {
			t.Fatal(err)
		}
	}
	sent := func(id string) bool {
		var ok bool
		_ = pool.QueryRow(ctx, `SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = $1`, id).Scan(&ok)
		return ok
	}
	store("before")
	testenv.Eventually(t, 10*time.Second, "published before the loss", func() bool { return sent("before") })

	srv.Shutdown()
	srv2, err := natsx.StartEmbedded(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	testenv.Eventually(t, 10*time.Second, "reconnect", nc.IsConnected)

	store("after")
	testenv.Eventually(t, 45*time.Second, "a complaint stored after NATS lost its data published", func() bool { return sent("after") })
}
