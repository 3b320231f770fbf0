package natsx_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The network between a consumer and NATS stalls for a while, its
// connection still open: JetStream answers none of its pulls, and the
// next message fails at every missed heartbeat. The failure is logged
// once (and at most one more line with the count of those not logged),
// its end once the network is back, and the consumer goes on handling
// messages.
func TestAConsumerLogsMissedHeartbeatsAtABoundedRate(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	u, err := url.Parse(s.n.Server.URL())
	if err != nil {
		t.Fatal(err)
	}
	addr, stall := testenv.Stallable(t, u.Host)
	nc, err := natsx.Connect("nats://"+addr, t.Name(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	const durable = "test-heartbeat"
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewConsumer(ctx, js, s.pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: durable, Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", AckWait: 5 * time.Second, Heartbeat: 500 * time.Millisecond,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	ret := make(chan error, 1)
	go func() { ret <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ret })

	s.publish(t, "hb-1", received("hb-1"))
	testenv.Eventually(t, 10*time.Second, "the first event handled", func() bool {
		return s.count(t, `SELECT count(*) FROM effects`) == 1
	})

	// Each pull that gets no heartbeat fails the next message once two
	// heartbeats' time has passed, and the consumer pulls again: the
	// pulls held back count the failures.
	stall.Hold(true)
	pull := []byte("$JS.API.CONSUMER.MSG.NEXT.COMPLAINTS." + durable)
	const failing = 3
	testenv.Eventually(t, 60*time.Second, "the next message failing several times", func() bool {
		return bytes.Count(stall.Sent(), pull) >= failing
	})
	select {
	case err := <-ret:
		t.Fatalf("Run stopped while the network stalled: %v", err)
	default:
	}
	stall.Hold(false)

	// The recovery is the next message that comes.
	s.publish(t, "hb-2", received("hb-2"))
	testenv.Eventually(t, 30*time.Second, "an event handled once the network is back", func() bool {
		return s.count(t, `SELECT count(*) FROM effects WHERE event_id = 'hb-2'`) == 1
	})
	lines := logs.FilterMessage("next message").All()
	if len(lines) < 1 || len(lines) > 2 {
		t.Fatalf("%d failures of the next message or more logged %d lines, want 1 (and at most one more with the count of the others): %v", failing, len(lines), lines)
	}
	if m := lines[0].ContextMap(); m["consumer"] != durable || m["error"] == nil {
		t.Errorf("the failure logged %v, want its consumer and error", m)
	}
	back := logs.FilterMessage("next message: recovered").All()
	if len(back) != 1 {
		t.Fatalf("the return logged %v, want one \"next message: recovered\"", back)
	}
	if failures, _ := back[0].ContextMap()["failures"].(int64); failures < failing {
		t.Errorf("the return counted %d failures of the next message, want %d or more: %v", failures, failing, back[0].ContextMap())
	}
}
