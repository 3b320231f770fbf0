package natsx_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// PostgreSQL unreachable, every batch's transaction fails, and so does
// the dead letter of each event out of deliveries: each was a line at
// every failure. Each failure is logged at its first, with the ids of
// the event when it names one, the others counted, and the first batch
// that commits again says it recovered.
func TestAConsumerLogsAnOutageAtABoundedRate(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE effects (event_id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	pool, outage := testenv.Cuttable(t, db, true)
	s := setup{pool: pool, n: testenv.StartNATS(t)}

	const durable = "test-outage"
	core, logs := observer.New(zap.InfoLevel)
	cctx, cancel := context.WithCancel(ctx)
	c, err := natsx.NewConsumer(cctx, s.n.JS, pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: durable, Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 3, AckWait: 5 * time.Second, Batch: 1,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(cctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, id := range []string{"outage-1", "outage-2", "outage-3", "outage-4", "outage-5"} {
		s.publish(t, id, received(id))
	}
	retries := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_consumer_messages_total", "consumer", durable, "outcome", "retry")
		return v
	}
	before := retries()
	// Each event fails its batch at each delivery, and its dead letter at
	// the third: 5 events, 3 deliveries each (JetStream's own limit is
	// 5, past which they would be lost to this test).
	testenv.Eventually(t, 30*time.Second, "15 failed deliveries", func() bool { return retries()-before >= 15 })
	failed := logs.FilterMessage("batch transaction").All()
	if len(failed) != 1 {
		t.Errorf("%v failed deliveries logged %d lines \"batch transaction\", want 1: %v", retries()-before, len(failed), failed)
	}
	unstored := logs.FilterMessage("store dead letter; left for redelivery").All()
	if len(unstored) != 1 {
		t.Fatalf("the dead letters refused logged %d lines, want 1: %v", len(unstored), unstored)
	}
	if m := unstored[0].ContextMap(); m["event_id"] == nil || m["event_id"] == "" || m["msg_id"] == nil || m["consumer"] != durable {
		t.Errorf("the dead letter refused logged %v, want its event_id, msg_id and consumer", m)
	}

	outage.Down(false)
	testenv.Eventually(t, 30*time.Second, "the events handled once PostgreSQL is back", func() bool {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&n)
		return n == 5
	})
	back := logs.FilterMessage("batch transaction: recovered").All()
	if len(back) != 1 {
		t.Fatalf("the return logged %v, want one \"batch transaction: recovered\"", back)
	}
	if f, _ := back[0].ContextMap()["failures"].(int64); f < 5 {
		t.Errorf("the return logged %v, want the failures counted", back[0].ContextMap())
	}
	if n := logs.FilterMessage("batch transaction").Len(); n != 1 {
		t.Errorf("%d lines \"batch transaction\" in all, want 1", n)
	}
}
