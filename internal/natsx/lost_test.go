package natsx_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The NATS cluster is lost with its data (volumes gone, restored from
// nothing) while the services run: the clients reconnect to empty
// servers. A consumer must not go on for ever consuming nothing from a
// durable that no longer exists: it stops (the process restarts and
// declares again) or declares its stream and durable again itself.
func TestAConsumerWhoseNATSLostItsDataRecovers(t *testing.T) {
	pool := testenv.DB(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE effects (event_id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := natsx.DeclareStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	s := setup{pool: pool, n: &testenv.NATS{Server: srv, NC: nc, JS: js}}
	c, err := natsx.NewConsumer(ctx, js, pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"}, AckWait: 5 * time.Second,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	ret := make(chan error, 1)
	go func() { ret <- c.Run(ctx) }()
	s.publish(t, "a", received("a"))
	testenv.Eventually(t, 10*time.Second, "first event", func() bool { return s.count(t, `SELECT count(*) FROM effects`) == 1 })

	// The whole NATS is lost; a new, empty one comes up at the same address.
	srv.Shutdown()
	srv2, err := natsx.StartEmbedded(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	testenv.Eventually(t, 10*time.Second, "reconnect", nc.IsConnected)

	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-ret:
			if err == nil {
				t.Fatal("Run returned nil with its context alive")
			}
			t.Logf("Run stopped: %v", err)
			return
		case <-deadline:
			_, serr := js.Stream(ctx, "COMPLAINTS")
			t.Fatalf("60 s after NATS lost its data the consumer still runs, consuming nothing (stream: %v)", serr)
		case <-time.After(time.Second):
			// Recovered by itself: its stream and durable exist again
			// and a new event is handled.
			if _, err := js.Consumer(ctx, "COMPLAINTS", "test"); err == nil {
				s.publish(t, "b", received("b"))
				testenv.Eventually(t, 20*time.Second, "event after recovery", func() bool { return s.count(t, `SELECT count(*) FROM effects`) == 2 })
				return
			}
		}
	}
}
