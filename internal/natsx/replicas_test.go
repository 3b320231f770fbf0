package natsx_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// freePort is a loopback port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A NATS node of three going down leaves the streams running on the
// other two, with nothing failing: the consumers say so in
// nuisance_jetstream_replicas_lost, for the operator to bring it back
// before one more loss stops the pipeline.
func TestALostNATSNodeIsCounted(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	routes := make([]int, 3)
	for i := range routes {
		routes[i] = freePort(t)
	}
	var servers []*server.Server
	for i := range 3 {
		opts := &server.Options{
			ServerName: "n" + strconv.Itoa(i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: routes[i]},
		}
		for j := range routes {
			if j != i {
				u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", routes[j]))
				opts.Routes = append(opts.Routes, u)
			}
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("a NATS node did not start")
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	testenv.Eventually(t, 30*time.Second, "the streams declared on three replicas", func() bool {
		// Until the cluster has a meta leader the requests go unanswered:
		// each try waits a moment only.
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		defer tcancel()
		return natsx.DeclareStreams(tctx, js, 3) == nil
	})
	c, err := natsx.NewConsumer(ctx, js, pool, zap.NewNop(), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "replicated", Filters: []string{"complaint.received"},
		LagEvery: 100 * time.Millisecond,
	}, func(context.Context, pgx.Tx, event.ComplaintReceived, natsx.Meta) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	testenv.Eventually(t, 20*time.Second, "all replicas current", func() bool { return lostOf(t, "replicated") == 0 })
	// Stop a node other than the one the client is connected to.
	info, err := js.Consumer(ctx, "COMPLAINTS", "replicated")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(ctx)
	if err != nil || ci.Cluster == nil {
		t.Fatalf("consumer info: %+v %v", ci, err)
	}
	victim := servers[1]
	if ci.Cluster.Leader == "n2" {
		victim = servers[2]
	}
	victim.Shutdown()
	testenv.Eventually(t, 30*time.Second, "the lost replica counted", func() bool { return lostOf(t, "replicated") >= 1 })
}

// lostOf reads nuisance_jetstream_replicas_lost of a consumer (-1: none).
func lostOf(t *testing.T, consumer string) float64 {
	return consumerGauge(t, "nuisance_jetstream_replicas_lost", consumer)
}
