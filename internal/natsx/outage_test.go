package natsx_test

import (
	"context"
	"strings"
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

// PostgreSQL unreachable, the callers' names the errors of failed
// messages are masked of are not read from it at each failure: a read
// waited up to 2 s on it for each failing batch and each message that
// does not decode, holding back the handling of the failures. A failure
// that is PostgreSQL unreachable itself skips the read, and a read that
// failed skips the others for a while; the phone numbers the errors
// quote are masked all the same.
func TestCallerNamesAreNotReadWhilePostgreSQLIsDown(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE effects (event_id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	pool, outage := testenv.Cuttable(t, db, true)
	s := setup{pool: pool, n: testenv.StartNATS(t)}

	const durable = "test-names-outage"
	core, logs := observer.New(zap.InfoLevel)
	cctx, cancel := context.WithCancel(ctx)
	// No schema: a payload that is no event fails Go's decoder, whose
	// error quotes the value.
	c, err := natsx.NewConsumer(cctx, s.n.JS, pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: durable, Filters: []string{"complaint.received"},
		MaxDeliver: 2, AckWait: 5 * time.Second, Batch: 1,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(cctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	lookups := func(outcome string) float64 {
		v, _ := testenv.Metric(t, "nuisance_consumer_caller_name_lookups_total", "consumer", durable, "outcome", outcome)
		return v
	}

	// Events whose batches fail on the connection to PostgreSQL, out of
	// deliveries: their dead letters are refused too, and no read of
	// their callers' names is tried.
	for _, id := range []string{"names-down-1", "names-down-2", "names-down-3"} {
		s.publish(t, id, received(id))
	}
	testenv.Eventually(t, 30*time.Second, "the dead letters of the three events refused", func() bool {
		return lookups("skipped")+lookups("failed")+lookups("read") >= 3
	})
	if n := lookups("read") + lookups("failed"); n != 0 {
		t.Errorf("%v reads of the callers' names tried for failures that were PostgreSQL unreachable, want 0", n)
	}
	if outage.Refused() == 0 {
		t.Fatal("no connection refused: PostgreSQL was not cut off")
	}
	if logs.FilterMessage("store dead letter; left for redelivery").Len() == 0 {
		t.Fatal("no dead letter refused")
	}

	// Payloads that are no event, quoting a caller's phone, each naming
	// its complaint: the first read of the names fails, the others are
	// skipped for a while.
	const phone = "13812345678"
	bad := []string{"names-bad-1", "names-bad-2", "names-bad-3", "names-bad-4"}
	before := lookups("skipped")
	for _, id := range bad {
		s.publish(t, id, []byte(`{"event_id":"`+id+`","complaint_id":"c-`+id+`","ticket_id":"t","received_at":"`+phone+`","description":"d"}`))
	}
	testenv.Eventually(t, 30*time.Second, "the four payloads' dead letters refused", func() bool {
		return lookups("failed")+lookups("skipped")-before >= 4
	})
	if n := lookups("failed"); n != 1 {
		t.Errorf("%v reads of the callers' names failed for four payloads in a row, want 1, the others skipped", n)
	}
	if n := lookups("read"); n != 0 {
		t.Errorf("%v reads of the callers' names done with PostgreSQL cut off", n)
	}

	// PostgreSQL back, the dead letters are stored, their reasons logged
	// with the phone masked.
	outage.Down(false)
	testenv.Eventually(t, 30*time.Second, "the four dead letters stored", func() bool {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id LIKE 'names-bad-%'`, durable).Scan(&n)
		return n == 4
	})
	testenv.Eventually(t, 10*time.Second, "four dead-lettered lines", func() bool {
		n := 0
		for _, e := range logs.FilterMessage("dead-lettered").All() {
			if strings.HasPrefix(toString(e.ContextMap()["event_id"]), "names-bad-") {
				n++
			}
		}
		return n == 4
	})
	for _, e := range logs.FilterMessage("dead-lettered").All() {
		reason := toString(e.ContextMap()["reason"])
		if strings.HasPrefix(toString(e.ContextMap()["event_id"]), "names-bad-") && (strings.Contains(reason, phone) || !strings.Contains(reason, "138****5678")) {
			t.Errorf("dead letter logged with reason %q, want the phone masked", reason)
		}
	}
}
