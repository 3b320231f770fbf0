package natsx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

type setup struct {
	pool *pgxpool.Pool
	n    *testenv.NATS
}

func newSetup(t *testing.T) setup {
	t.Helper()
	pool := testenv.DB(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE effects (event_id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return setup{pool: pool, n: testenv.StartNATS(t)}
}

func (s setup) publish(t *testing.T, msgID string, payload any) {
	t.Helper()
	b, ok := payload.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	m := nats.NewMsg("complaint.received")
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := s.n.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (s setup) run(t *testing.T, h natsx.Handler[event.ComplaintReceived], maxDeliver int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: maxDeliver, AckWait: 5 * time.Second,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (s setup) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func received(id string) event.ComplaintReceived {
	return event.ComplaintReceived{EventID: id, ComplaintID: "c-" + id, TicketID: "t-" + id,
		ReceivedAt: time.Date(2024, 3, 11, 22, 0, 0, 0, time.UTC), Description: "夜间施工噪声"}
}

// record is a handler whose effect is a row per event id.
func record(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, _ natsx.Meta) error {
	_, err := tx.Exec(ctx, `INSERT INTO effects (event_id, n) VALUES ($1, 1) ON CONFLICT (event_id) DO UPDATE SET n = effects.n + 1`, ev.EventID)
	return err
}

func TestConsumeAcksAndIsIdempotent(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	s.run(t, record, 5)
	for i := range 50 {
		ev := received("e" + string(rune('A'+i%26)) + string(rune('a'+i/26)))
		s.publish(t, ev.EventID, ev)
		// The same event again under another message id (a sweeper
		// re-publication) must change nothing.
		s.publish(t, ev.EventID+"/r1", ev)
	}
	testenv.Eventually(t, 20*time.Second, "50 effects", func() bool {
		return s.count(t, `SELECT count(*) FROM effects`) == 50
	})
	testenv.Eventually(t, 10*time.Second, "all acknowledged", func() bool {
		ci, err := s.n.JS.Consumer(context.Background(), "COMPLAINTS", "test")
		if err != nil {
			return false
		}
		info, err := ci.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	if n := s.count(t, `SELECT count(*) FROM effects WHERE n <> 1`); n != 0 {
		t.Fatalf("%d events handled more than once", n)
	}
	if n := s.count(t, `SELECT count(*) FROM processed_events WHERE consumer = 'test'`); n != 50 {
		t.Fatalf("processed_events has %d rows, want 50", n)
	}
}

func TestConsumeDeadLettersInvalidPayload(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var calls atomic.Int32
	s.run(t, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, m natsx.Meta) error {
		calls.Add(1)
		return record(ctx, tx, ev, m)
	}, 5)
	s.publish(t, "bad-json", []byte(`{not json`))
	s.publish(t, "bad-schema", []byte(`{"event_id":"x1","complaint_id":"c","ticket_id":"t","received_at":"yesterday","description":"d"}`))
	testenv.Eventually(t, 30*time.Second, "two dead letters", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = 'test'`) == 2
	})
	if n := s.count(t, `SELECT count(*) FROM dead_letters WHERE reason LIKE '%received_at%'`); n != 1 {
		t.Fatalf("schema dead letter does not name the field: %d", n)
	}
	// Each keeps its event's id (its event_id field, else its message id),
	// so that the sweeper counts the event as dealt with instead of
	// sending it again every two minutes.
	if n := s.count(t, `SELECT count(*) FROM dead_letters WHERE (event_id, reason LIKE '%received_at%') IN (('x1', true), ('bad-json', false))`); n != 2 {
		t.Fatalf("%d of the 2 dead letters keep their event's id", n)
	}
	testenv.Eventually(t, 10*time.Second, "dead letters on the DLQ stream", func() bool {
		st, err := s.n.JS.Stream(context.Background(), "DLQ")
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 2
	})
	// Each records its copy's sequence, for the retention job to delete
	// the copy by, with the creation of the stream that numbered it.
	st, err := s.n.JS.Stream(context.Background(), "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	created := st.CachedInfo().Created
	testenv.Eventually(t, 10*time.Second, "the copies' sequences recorded", func() bool {
		return s.count(t, `SELECT count(DISTINCT k.seq) FROM dead_letters d JOIN dead_letter_copies k ON k.dead_letter_id = d.id
			WHERE d.consumer = 'test' AND k.seq BETWEEN 1 AND 2
			AND abs(extract(epoch FROM k.stream_created - $1::timestamptz)) < 0.001`, created) == 2
	})
	if calls.Load() != 0 {
		t.Fatalf("handler called %d times for invalid payloads", calls.Load())
	}
}

func TestConsumeRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var maxDelivered atomic.Uint64
	s.run(t, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, m natsx.Meta) error {
		maxDelivered.Store(max(maxDelivered.Load(), m.Delivered))
		if m.Delivered == 1 {
			// An effect written before the failure must be rolled back.
			if err := record(ctx, tx, ev, m); err != nil {
				return err
			}
			return errors.New("database hiccup")
		}
		return record(ctx, tx, ev, m)
	}, 5)
	ev := received("retry")
	s.publish(t, ev.EventID, ev)
	testenv.Eventually(t, 15*time.Second, "effect after a retry", func() bool {
		return s.count(t, `SELECT count(*) FROM effects WHERE event_id = 'retry' AND n = 1`) == 1
	})
	if maxDelivered.Load() != 2 {
		t.Fatalf("handled on %d deliveries, want success on the second", maxDelivered.Load())
	}
	if n := s.count(t, `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Fatalf("%d dead letters for a transient error", n)
	}
}

func TestConsumeDeadLettersAtMaxDeliver(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var deliveries deliverySet
	s.run(t, func(_ context.Context, _ pgx.Tx, _ event.ComplaintReceived, m natsx.Meta) error {
		deliveries.add(m.Delivered)
		return errors.New("always failing")
	}, 3)
	ev := received("poison")
	s.publish(t, ev.EventID, ev)
	testenv.Eventually(t, 30*time.Second, "dead letter after 3 deliveries", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'poison' AND deliveries = 3 AND reason LIKE 'max deliveries%'`) == 1
	})
	time.Sleep(3 * time.Second) // a terminated message must not come back
	if got := deliveries.list(); len(got) != 3 || got[2] != 3 {
		t.Fatalf("handled on deliveries %v, want 1, 2 and 3", got)
	}
}

func TestConsumeDeadLettersHandlerInvalid(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var deliveries deliverySet
	s.run(t, func(_ context.Context, _ pgx.Tx, _ event.ComplaintReceived, m natsx.Meta) error {
		deliveries.add(m.Delivered)
		return fault.Errorf(fault.Invalid, "category %q unknown", "smell")
	}, 5)
	ev := received("invalid")
	s.publish(t, ev.EventID, ev)
	testenv.Eventually(t, 10*time.Second, "dead letter", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'invalid' AND deliveries = 1 AND reason LIKE '%smell%'`) == 1
	})
	if got := deliveries.list(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("handled on deliveries %v, want only the first", got)
	}
}

// deliverySet records which deliveries of a message reached the handler
// (a failing batch is retried message by message within one delivery).
type deliverySet struct {
	mu sync.Mutex
	m  map[uint64]bool
}

func (d *deliverySet) add(n uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[uint64]bool{}
	}
	d.m[n] = true
}

func (d *deliverySet) list() []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []uint64
	for n := range d.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestConsumeOneBadMessageDoesNotHoldBackItsBatch(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	for i := range 20 {
		ev := received(fmt.Sprintf("mix-%02d", i))
		s.publish(t, ev.EventID, ev)
	}
	s.run(t, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, m natsx.Meta) error {
		if ev.EventID == "mix-07" {
			return fault.Errorf(fault.Invalid, "unusable")
		}
		return record(ctx, tx, ev, m)
	}, 5)
	testenv.Eventually(t, 15*time.Second, "19 effects and 1 dead letter", func() bool {
		return s.count(t, `SELECT count(*) FROM effects`) == 19 && s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'mix-07'`) == 1
	})
	if n := s.count(t, `SELECT count(*) FROM processed_events WHERE event_id = 'mix-07'`); n != 0 {
		t.Fatal("the dead-lettered event is recorded as processed")
	}
}

func TestBatchConsumerWorksBatchesAndIsolatesAFailure(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	for i := range 40 {
		ev := received(fmt.Sprintf("bat-%02d", i))
		s.publish(t, ev.EventID, ev)
	}
	var mu sync.Mutex
	var sizes []int
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewBatchConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 5, AckWait: 5 * time.Second,
	}, func(ctx context.Context, tx pgx.Tx, evs []event.ComplaintReceived, metas []natsx.Meta) error {
		if len(evs) != len(metas) {
			return fmt.Errorf("%d events, %d metas", len(evs), len(metas))
		}
		mu.Lock()
		sizes = append(sizes, len(evs))
		mu.Unlock()
		ids := make([]string, len(evs))
		for i, ev := range evs {
			if ev.EventID == "bat-13" {
				return fault.Errorf(fault.Invalid, "unusable")
			}
			ids[i] = ev.EventID
		}
		_, err := tx.Exec(ctx, `INSERT INTO effects (event_id, n) SELECT unnest($1::text[]), 1`, ids)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	testenv.Eventually(t, 15*time.Second, "39 effects and 1 dead letter", func() bool {
		return s.count(t, `SELECT count(*) FROM effects`) == 39 && s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'bat-13'`) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(sizes, func(n int) bool { return n > 1 }) {
		t.Fatalf("the handler was never given more than one event at once: calls of %v", sizes)
	}
	if n := s.count(t, `SELECT count(*) FROM processed_events WHERE event_id = 'bat-13'`); n != 0 {
		t.Fatal("the dead-lettered event is recorded as processed")
	}
}

func TestConsumerDeclaredBeforeItsStreamWaitsForIt(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	// Another process declares the stream a moment later.
	go func() {
		time.Sleep(time.Second)
		_, _ = s.n.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "LATER", Subjects: []string{"later.>"}})
	}()
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "LATER", Durable: "waits", Filters: []string{"later.>"},
	}, func(context.Context, pgx.Tx, event.ComplaintReceived, natsx.Meta) error { return nil })
	if err != nil {
		t.Fatalf("declared before its stream: %v", err)
	}
	if c == nil {
		t.Fatal("no consumer")
	}
	if _, err := s.n.JS.Consumer(ctx, "LATER", "waits"); err != nil {
		t.Fatalf("the consumer is not on the server: %v", err)
	}
}

// Work a handler registers with OnCommit runs after its transaction
// commits, when the effect is visible, and never for a message whose
// handling rolled back; a handler called outside the consume loop gets
// no hook.
func TestOnCommitRunsOnlyForCommittedWork(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	if _, ok := natsx.OnCommit(context.Background()); ok {
		t.Fatal("OnCommit outside the consume loop offers a hook")
	}
	for i := range 30 {
		ev := received(fmt.Sprintf("com-%02d", i))
		s.publish(t, ev.EventID, ev)
	}
	var mu sync.Mutex
	ran := map[string]int{}
	var invisible []string
	s.run(t, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, m natsx.Meta) error {
		register, ok := natsx.OnCommit(ctx)
		if !ok {
			return errors.New("no OnCommit in the consume loop")
		}
		if err := record(ctx, tx, ev, m); err != nil {
			return err
		}
		register(func() {
			// The effect must be committed when the hook runs.
			var n int
			err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM effects WHERE event_id = $1`, ev.EventID).Scan(&n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || n != 1 {
				invisible = append(invisible, ev.EventID)
			}
			ran[ev.EventID]++
		})
		if ev.EventID == "com-11" {
			return fault.Errorf(fault.Invalid, "unusable") // its hook must not run
		}
		return nil
	}, 5)
	testenv.Eventually(t, 15*time.Second, "29 effects and 1 dead letter", func() bool {
		return s.count(t, `SELECT count(*) FROM effects`) == 29 && s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'com-11'`) == 1
	})
	testenv.Eventually(t, 5*time.Second, "29 hooks run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) == 29
	})
	mu.Lock()
	defer mu.Unlock()
	if ran["com-11"] != 0 {
		t.Error("the hook of a rolled-back message ran")
	}
	for id, n := range ran {
		if n != 1 {
			t.Errorf("hook of %s ran %d times, want once", id, n)
		}
	}
	if len(invisible) > 0 {
		t.Errorf("hooks ran before their effect was committed: %v", invisible)
	}
}

// One message whose handler outlasts the batch's deadline (AckWait, a
// lock wait, a pathological query) fails alone: the others of its batch
// are handled, and it is dead-lettered at its last delivery instead of
// being dropped with them by JetStream.
func TestASlowMessageFailsAlone(t *testing.T) {
	s := newSetup(t)
	for _, id := range []string{"ok-1", "ok-2", "slow", "ok-3", "ok-4"} {
		s.publish(t, id, received(id))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"}, MaxDeliver: 3, AckWait: 2 * time.Second,
	}, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, m natsx.Meta) error {
		if ev.EventID == "slow" {
			<-ctx.Done() // e.g. a lock wait or a pathological query on this one input
			return ctx.Err()
		}
		return record(ctx, tx, ev, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 60*time.Second, "JetStream done with the messages", func() bool {
		ci, err := s.n.JS.Consumer(context.Background(), "COMPLAINTS", "test")
		if err != nil {
			return false
		}
		info, err := ci.Info(context.Background())
		time.Sleep(time.Second)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	time.Sleep(time.Second)
	slow, others, ok := s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'slow'`),
		s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id IS DISTINCT FROM 'slow'`), s.count(t, `SELECT count(*) FROM effects`)
	if slow != 1 || others != 0 || ok != 4 {
		t.Fatalf("the slow message dead-lettered %d times, %d other dead letters, %d of 4 others handled; want 1, 0, 4", slow, others, ok)
	}
}

// A consumer whose durable is deleted on the server stops with an error,
// which stops its process (and its restart declares the consumer again),
// instead of running on consuming nothing.
func TestAConsumerWhoseDurableIsDeletedStops(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"}, AckWait: 5 * time.Second,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	ret := make(chan error, 1)
	go func() { ret <- c.Run(ctx) }()
	s.publish(t, "a", received("a"))
	testenv.Eventually(t, 10*time.Second, "first event", func() bool { return s.count(t, `SELECT count(*) FROM effects`) == 1 })
	if err := s.n.JS.DeleteConsumer(ctx, "COMPLAINTS", "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ret:
		if err == nil {
			t.Error("Run returned nil with its context alive")
		}
	case <-time.After(20 * time.Second):
		t.Error("Run goes on with its durable deleted")
	}
}

// A consumer that is alive but does not get through its messages shows
// its backlog in nuisance_consumer_pending, and the gauge falls back to 0
// once it has worked through them.
func TestTheBacklogOfAStuckConsumerIsExported(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	for i := range 5 {
		s.publish(t, fmt.Sprintf("lag-%d", i), received(fmt.Sprintf("lag-%d", i)))
	}
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "lagging", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", AckWait: 30 * time.Second, LagEvery: 50 * time.Millisecond,
	}, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, _ natsx.Meta) error {
		<-release // stuck: on a lock, say
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 10*time.Second, "the backlog of 5 exported", func() bool { return pendingOf(t, "lagging") == 5 })
	close(release)
	testenv.Eventually(t, 10*time.Second, "the backlog back to 0", func() bool { return pendingOf(t, "lagging") == 0 })
}

// pendingOf reads nuisance_consumer_pending of a consumer (-1: none yet).
func pendingOf(t *testing.T, consumer string) float64 {
	return consumerGauge(t, "nuisance_consumer_pending", consumer)
}

// consumerGauge reads a gauge of a consumer (-1: none yet).
func consumerGauge(t *testing.T, name, consumer string) float64 {
	t.Helper()
	if v, ok := testenv.Metric(t, name, "consumer", consumer); ok {
		return v
	}
	return -1
}

// A dead letter that could not be stored (the database refused it) is
// left for redelivery, not counted: counted, the operator's alert
// NuisanceDeadLetters fired and `nuisance deadletters list` showed
// nothing, the event handled since. It is counted once stored.
func TestADeadLetterNotStoredIsNotCounted(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `ALTER TABLE dead_letters ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	const durable = "test-unstored"
	counted := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_consumer_messages_total", "consumer", durable, "outcome", "dead_letter")
		return v
	}
	base := counted() // the runs before this one's, with -count
	var deliveries deliverySet
	cctx, cancel := context.WithCancel(ctx)
	c, err := natsx.NewConsumer(cctx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: durable, Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 8, AckWait: 5 * time.Second,
	}, func(_ context.Context, _ pgx.Tx, _ event.ComplaintReceived, m natsx.Meta) error {
		deliveries.add(m.Delivered)
		return fault.Errorf(fault.Invalid, "category %q unknown", "smell")
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(cctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	ev := received("unstored")
	s.publish(t, ev.EventID, ev)
	testenv.Eventually(t, 20*time.Second, "a second delivery after the dead letter was refused", func() bool {
		return len(deliveries.list()) >= 2
	})
	if v := counted() - base; v != 0 {
		t.Errorf("nuisance_consumer_messages_total{outcome=\"dead_letter\"} rose by %v with no dead letter stored, want 0", v)
	}
	if _, err := s.pool.Exec(ctx, `ALTER TABLE dead_letters DROP CONSTRAINT refuse_all`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the dead letter stored", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = 'unstored'`, durable) == 1
	})
	// It is counted once its row is committed and its copy sent to the
	// DLQ stream, a moment after the row can be read.
	testenv.Eventually(t, 20*time.Second, "nuisance_consumer_messages_total{outcome=\"dead_letter\"} one up with one dead letter stored", func() bool {
		return counted()-base >= 1
	})
	if v := counted() - base; v != 1 {
		t.Errorf("nuisance_consumer_messages_total{outcome=\"dead_letter\"} rose by %v with one dead letter stored, want 1", v)
	}
}

// An event this version's schema refuses is logged at each delivery with
// the ids an operator finds it by: its event id and its message's place in
// the stream, as the dead letter it becomes is. The warning named only the
// subject, the same for every event refused.
func TestAnEventTheSchemaRefusesIsLoggedWithItsIDs(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := natsx.NewConsumer(ctx, s.n.JS, s.pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test-schema-ids", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 2, AckWait: 5 * time.Second,
	}, record)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s.publish(t, "newer-1", []byte(`{"event_id":"newer-1","complaint_id":"c","ticket_id":"t","received_at":"yesterday","description":"d"}`))
	testenv.Eventually(t, 20*time.Second, "the dead letter", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = 'test-schema-ids'`) == 1
	})
	refused := logs.FilterMessageSnippet("refused by this version's schema").All()
	if len(refused) == 0 {
		t.Fatal("no warning of the event refused")
	}
	for _, e := range refused {
		f := e.ContextMap()
		if f["event_id"] != "newer-1" || f["msg_id"] != "COMPLAINTS:1" {
			t.Errorf("warning %q has event_id %v and msg_id %v, want newer-1 and COMPLAINTS:1", e.Message, f["event_id"], f["msg_id"])
		}
	}
}

// A message whose termination was lost comes back after it was
// dead-lettered (here its consumer is declared again, which delivers the
// stream from its start), and past the DLQ stream's duplicate window
// (shortened here from 2 minutes) its copy is published again under a
// sequence of its own. The dead letter is stored once and records both
// copies, for the retention job to delete both. (The second sequence
// was written over the first, whose copy the job never deleted.)
func TestDeadLetteredAgainRecordsEveryCopy(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	st, err := s.n.JS.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := s.n.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "bad-json", []byte(`{not json`))
	copies := func() int {
		return s.count(t, `SELECT count(*) FROM dead_letters d JOIN dead_letter_copies k ON k.dead_letter_id = d.id WHERE d.consumer = 'test'`)
	}
	for i := 1; i <= 2; i++ {
		runCtx, cancel := context.WithCancel(ctx)
		c, err := natsx.NewConsumer(runCtx, s.n.JS, s.pool, testenv.Log(t), natsx.ConsumerSpec{
			Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"},
			Schema: "complaint.received.v1", MaxDeliver: 3, AckWait: 5 * time.Second,
		}, record)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = c.Run(runCtx); close(done) }()
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("copy %d recorded", i), func() bool { return copies() == i })
		cancel()
		<-done
		if err := s.n.JS.DeleteConsumer(ctx, "COMPLAINTS", "test"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // past the shortened window
	}
	if n := s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = 'test'`); n != 1 {
		t.Fatalf("%d dead letters, want the one", n)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count(t, `SELECT count(DISTINCT k.seq) FROM dead_letters d JOIN dead_letter_copies k ON k.dead_letter_id = d.id
		WHERE d.consumer = 'test' AND k.seq BETWEEN 1 AND 2 AND abs(extract(epoch FROM k.stream_created - $1::timestamptz)) < 0.001`,
		info.Created); n != 2 || info.State.Msgs != 2 {
		t.Fatalf("%d of the 2 copies on the DLQ stream (%d) recorded with their stream", n, info.State.Msgs)
	}
}
