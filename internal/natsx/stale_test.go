package natsx_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// While JetStream does not answer the read of a consumer's backlog (NATS
// down here), nuisance_consumer_pending keeps its last value: the failed
// reads are counted and logged once, with the consumer, where they were
// dropped; the reads' return is logged when NATS is back.
func TestAFailedReadOfAConsumersBacklogIsCountedAndLogged(t *testing.T) {
	pool := testenv.DB(t)
	dir := t.TempDir()
	srv, err := natsx.StartEmbedded(dir, 0)
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
	core, logs := observer.New(zapcore.InfoLevel)
	c, err := natsx.NewConsumer(ctx, js, pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "stale", Filters: []string{"complaint.received"},
		AckWait: 5 * time.Second, LagEvery: 50 * time.Millisecond,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 10*time.Second, "the backlog read", func() bool { return pendingOf(t, "stale") == 0 })
	failures := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_consumer_pending")
		return v
	}
	before := failures()

	srv.Shutdown()
	testenv.Eventually(t, 20*time.Second, "failed reads counted", func() bool { return failures() >= before+3 })
	stale := logs.FilterMessage("gauge not refreshed").FilterField(zap.String("consumer", "stale")).All()
	if len(stale) != 1 || stale[0].ContextMap()["gauge"] != "nuisance_consumer_pending" {
		t.Errorf("the streak of failed reads logged %v, want one warning naming the gauge and the consumer", stale)
	}

	srv2, err := natsx.StartEmbedded(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	testenv.Eventually(t, 20*time.Second, "the reads' return logged", func() bool {
		return logs.FilterMessage("gauge not refreshed: recovered").FilterField(zap.String("consumer", "stale")).Len() == 1
	})
}
