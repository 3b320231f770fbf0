package outbox_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A dead letter an operator asks to retry is sent again by the relay once
// the cause is fixed: the consumer that gave up handles it, and another
// consumer of the same subject, which had handled it, does not handle it
// twice.
func TestARetriedDeadLetterIsHandledOnce(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	handled := map[string]map[string]int{} // consumer -> event id -> times
	consume := func(durable string, fail *atomic.Bool) {
		c, err := natsx.NewConsumer(ctx, n.JS, pool, testenv.Log(t), natsx.ConsumerSpec{
			Stream: "COMPLAINTS", Durable: durable, Filters: []string{"complaint.received"}, MaxDeliver: 1, AckWait: 5 * time.Second,
		}, func(_ context.Context, _ pgx.Tx, ev event.ComplaintReceived, _ natsx.Meta) error {
			if fail != nil && fail.Load() {
				return errors.New("the database of the stage is read-only")
			}
			mu.Lock()
			defer mu.Unlock()
			if handled[durable] == nil {
				handled[durable] = map[string]int{}
			}
			handled[durable][ev.EventID]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = c.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	consume("flaky", &broken)
	consume("steady", nil)
	times := func(durable, id string) int {
		mu.Lock()
		defer mu.Unlock()
		return handled[durable][id]
	}

	relay := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Poll: 50 * time.Millisecond, RedriveEvery: 100 * time.Millisecond}
	relayDone := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(relayDone) }()
	t.Cleanup(func() { cancel(); <-relayDone })

	id := "dl-1.received"
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, "complaint.received", id, event.ComplaintReceived{EventID: id, ComplaintID: "dl-1", TicketID: "T-DL-1",
			ReceivedAt: time.Date(2024, 3, 11, 22, 0, 0, 0, time.UTC), Description: "夜间施工噪声"})
	}); err != nil {
		t.Fatal(err)
	}
	count := func(sql string, args ...any) int {
		var c int
		if err := pool.QueryRow(ctx, sql, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	testenv.Eventually(t, 30*time.Second, "the flaky consumer gives up", func() bool {
		return count(`SELECT count(*) FROM dead_letters WHERE consumer = 'flaky' AND event_id = $1`, id) == 1
	})
	testenv.Eventually(t, 30*time.Second, "the steady consumer handles the event", func() bool { return times("steady", id) == 1 })

	letters, err := outbox.DeadLetters(ctx, pool, "flaky", true, 10)
	if err != nil || len(letters) != 1 || letters[0].EventID != id || letters[0].Subject != "complaint.received" || letters[0].RetryRequested != nil {
		t.Fatalf("dead letters of flaky: %+v (%v), want the event, not yet asked to retry", letters, err)
	}
	// Nothing goes out before the operator asks.
	time.Sleep(300 * time.Millisecond)
	if count(`SELECT count(*) FROM dead_letters WHERE retried_at IS NOT NULL`) != 0 {
		t.Fatal("a dead letter was sent again without being asked")
	}

	broken.Store(false)
	// A relay of other subjects may not publish it, and leaves it.
	if sent, err := outbox.Redrive(ctx, pool, n.JS, []string{"case.>"}, 10); err != nil || sent != 0 {
		t.Fatalf("a case relay sent %d dead letters (%v) before any was asked for", sent, err)
	}
	if asked, err := outbox.RequestRetry(ctx, pool, "flaky", nil); err != nil || asked != 1 {
		t.Fatalf("retry asked for %d dead letters (%v), want 1", asked, err)
	}
	if sent, err := outbox.Redrive(ctx, pool, n.JS, []string{"case.>"}, 10); err != nil || sent != 0 {
		t.Fatalf("a relay of case events sent %d complaint dead letters (%v)", sent, err)
	}
	testenv.Eventually(t, 30*time.Second, "the flaky consumer handles the retried event", func() bool {
		return times("flaky", id) == 1 && count(`SELECT count(*) FROM processed_events WHERE consumer = 'flaky' AND event_id = $1`, id) == 1
	})
	if got := count(`SELECT count(*) FROM dead_letters WHERE consumer = 'flaky' AND retried_at IS NOT NULL`); got != 1 {
		t.Errorf("%d dead letters marked sent again, want 1", got)
	}
	// The steady consumer received it again and skipped it by its event id.
	time.Sleep(500 * time.Millisecond)
	if got := times("steady", id); got != 1 {
		t.Errorf("the steady consumer handled the event %d times, want once", got)
	}
	if asked, err := outbox.RequestRetry(ctx, pool, "", nil); err != nil || asked != 0 {
		t.Errorf("a second retry asked for %d dead letters (%v); the one there was sent already", asked, err)
	}
	if pending, err := outbox.DeadLetters(ctx, pool, "", true, 10); err != nil || len(pending) != 0 {
		t.Errorf("dead letters still to send: %+v (%v)", pending, err)
	}
	sent, err := outbox.DeadLetters(ctx, pool, "flaky", false, 10)
	if err != nil || len(sent) != 1 || sent[0].Retried == nil || !sent[0].Handled {
		t.Fatalf("dead letters of flaky, all: %+v (%v), want it sent again and handled since", sent, err)
	}
	// Asked for by its ID, a dead letter sent before goes again, and the
	// event id keeps every consumer from handling it twice.
	before := streamMsgs(t, n)
	if asked, err := outbox.RequestRetry(ctx, pool, "flaky", []int64{sent[0].ID}); err != nil || asked != 1 {
		t.Fatalf("retry by ID asked for %d (%v), want 1", asked, err)
	}
	testenv.Eventually(t, 30*time.Second, "the dead letter sent a second time", func() bool {
		return count(`SELECT count(*) FROM dead_letters WHERE id = $1 AND retried_at IS NOT NULL`, sent[0].ID) == 1
	})
	// JetStream stored it: its message id differs from the first retry's.
	if after := streamMsgs(t, n); after != before+1 {
		t.Errorf("the stream holds %d messages after the second retry, %d before: JetStream dropped it as a duplicate", after, before)
	}
	time.Sleep(500 * time.Millisecond)
	if f, s := times("flaky", id), times("steady", id); f != 1 || s != 1 {
		t.Errorf("after a second sending the event was handled %d and %d times, want once by each", f, s)
	}
}

// A dead letter whose payload is still no event when it is sent again
// (not JSON) is dead-lettered again under its event's id, which the
// retry carries in a header: the new dead letter had no event id, and the
// operator could not tell which event it was.
func TestARetriedDeadLetterStillBrokenKeepsItsEventID(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := natsx.NewConsumer(ctx, n.JS, pool, testenv.Log(t), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "broken", Filters: []string{"complaint.received"}, MaxDeliver: 1, AckWait: 5 * time.Second,
	}, func(context.Context, pgx.Tx, event.ComplaintReceived, natsx.Meta) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	var first int64
	if err := pool.QueryRow(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, retry_requested_at)
		VALUES ('broken', 'complaint.received', 'dl-9.received', 'COMPLAINTS:999', 1, 'not JSON', '\x7b2265', now()) RETURNING id`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if sent, err := outbox.Redrive(ctx, pool, n.JS, nil, 10); err != nil || sent != 1 {
		t.Fatalf("redrive: %d %v", sent, err)
	}
	var eventID string
	testenv.Eventually(t, 10*time.Second, "the retry dead-lettered again", func() bool {
		return pool.QueryRow(ctx, `SELECT COALESCE(event_id, '') FROM dead_letters WHERE id > $1`, first).Scan(&eventID) == nil
	})
	if eventID != "dl-9.received" {
		t.Errorf("the retry's dead letter has event id %q, want dl-9.received", eventID)
	}
}
