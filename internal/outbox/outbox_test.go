package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func addEvents(t *testing.T, pool *pgxpool.Pool, n int, prefix string) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s-%04d", prefix, i)
			if err := outbox.Add(context.Background(), tx, "complaint.received", id, map[string]string{"event_id": id}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openWith begins a transaction that writes the event id and stays open
// until the test commits it (or ends: then it rolls back).
func openWith(t *testing.T, pool *pgxpool.Pool, id string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // a no-op once committed
	if err := outbox.Add(ctx, tx, "complaint.received", id, map[string]string{"event_id": id}); err != nil {
		t.Fatal(err)
	}
	return tx
}

func streamMsgs(t *testing.T, n *testenv.NATS) uint64 {
	t.Helper()
	st, err := n.JS.Stream(context.Background(), "COMPLAINTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestRelayTwoRelaysAndACrashPublishEachEventOnce(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	log := testenv.Log(t)
	addEvents(t, pool, 1000, "ev")

	// A relay that dies after JetStream acknowledged its batch but before
	// it marked the rows sent.
	crashing := &outbox.Relay{Pool: pool, JS: n.JS, Log: log, Batch: 300,
		AfterPublish: func() error { return errors.New("killed") }}
	if _, err := crashing.RelayOnce(context.Background()); err == nil {
		t.Fatal("crashing relay reported success")
	}
	if got := streamMsgs(t, n); got != 300 {
		t.Fatalf("after the crash the stream holds %d messages, want 300", got)
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &outbox.Relay{Pool: pool, JS: n.JS, Log: log, Batch: 100}
			for {
				claimed, err := r.RelayOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if claimed == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	var unsent int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil {
		t.Fatal(err)
	}
	if unsent != 0 {
		t.Fatalf("%d events left unsent", unsent)
	}
	if got := streamMsgs(t, n); got != 1000 {
		t.Fatalf("stream holds %d messages, want exactly 1000", got)
	}
}

func TestRelayRunWakesOnNotify(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Poll: time.Hour}
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(200 * time.Millisecond) // let the first scan pass before the insert
	addEvents(t, pool, 10, "wake")
	testenv.Eventually(t, 5*time.Second, "events relayed without polling", func() bool { return streamMsgs(t, n) == 10 })
}

func TestSweeperRepublishesUnprocessedEvents(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	log := testenv.Log(t)
	addEvents(t, pool, 10, "sw")
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: log}
	if _, err := r.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The consumer processed the first six and gave up on the last one;
	// the rest were lost.
	if _, err := pool.Exec(context.Background(), `INSERT INTO processed_events (consumer, event_id)
		SELECT 'geocoder', event_id FROM outbox WHERE event_id < 'sw-0006'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
		VALUES ('geocoder', 'complaint.received', 'sw-0009', 'COMPLAINTS:10', 8, 'poison', '\x00')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: log, After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "geocoder", Filter: "complaint.received"}}}
	if got, err := s.SweepOnce(context.Background()); err != nil || got != 0 {
		t.Fatalf("sweep before the deadline republished %d (err %v)", got, err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE outbox SET sent_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	got, err := s.SweepOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Fatalf("republished %d events, want the 3 lost ones (not the dead-lettered one)", got)
	}
	if m := streamMsgs(t, n); m != 13 {
		t.Fatalf("stream holds %d messages, want 13 (republications are not deduplicated away)", m)
	}
	// Just republished: not again until After has passed once more.
	if got, err := s.SweepOnce(context.Background()); err != nil || got != 0 {
		t.Fatalf("second sweep republished %d (err %v)", got, err)
	}
}

func TestRelayOnlyItsSubjects(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i, sub := range []string{"complaint.received", "complaint.located.siming.noise", "case.assigned.siming-eco", "case.resolved"} {
			if err := outbox.Add(context.Background(), tx, sub, fmt.Sprintf("only-%d", i), map[string]int{"i": i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Subjects: []string{"case.>"}}
	if _, err := r.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(context.Background(), `SELECT subject FROM outbox WHERE sent_at IS NOT NULL ORDER BY subject`)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(subs) != "[case.assigned.siming-eco case.resolved]" {
		t.Fatalf("relayed %v, want only the case events", subs)
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filters []string
		subject string
		want    bool
	}{
		{nil, "anything.at.all", true},
		{[]string{"case.>"}, "case.assigned.siming-eco", true},
		{[]string{"case.>"}, "case.assigned.*", true},
		{[]string{"case.>"}, "case", false},
		{[]string{"complaint.received"}, "complaint.received", true},
		{[]string{"complaint.received"}, "complaint.located.siming.noise", false},
		{[]string{"complaint.located.*.*"}, "complaint.located.siming.noise", true},
		{[]string{"complaint.located.*.*"}, "complaint.located.siming", false},
		{[]string{"hotspot.>", "complaint.clustered.>"}, "complaint.clustered.>", true},
	} {
		if got := outbox.Covers(tc.filters, tc.subject); got != tc.want {
			t.Errorf("Covers(%v, %q) = %v, want %v", tc.filters, tc.subject, got, tc.want)
		}
	}
}

// After a start the sweeper reaches a stalled event behind many processed
// ones in one sweep, not one page per sweep.
func TestSweeperCatchesUpInOneSweep(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at)
		SELECT 'old-' || i, 'complaint.received', '{}', now() - interval '3 hours' FROM generate_series(1, 12000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) SELECT 'geocoder', event_id FROM outbox`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at) VALUES ('lost', 'complaint.received', '{}', now() - interval '3 hours')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "geocoder", Filter: "complaint.received"}}}
	got, err := s.SweepOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Fatalf("republished %d events in the first sweep, want the lost one", got)
	}
}

// A watch of a rare subject reaches its stalled event behind many events
// of other subjects in one sweep, and later sweeps read from there: a
// sweep's queries look at spans of the outbox, never all of it.
func TestSweeperPassesOtherSubjectsInSpans(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at)
		SELECT 'other-' || i, 'complaint.received', '{}', now() - interval '3 hours', now() - interval '3 hours' FROM generate_series(1, 150000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at) VALUES
		('lost', 'triage.corrected', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('last', 'complaint.received', '{}', now() - interval '3 hours', now() - interval '3 hours')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "geocoder", Filter: "triage.corrected"}}}
	if got, err := s.SweepOnce(ctx); err != nil || got != 1 {
		t.Fatalf("first sweep republished %d (err %v), want the lost event", got, err)
	}
	// An hour later the republished event has been processed.
	if _, err := pool.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ('geocoder', 'lost');
		UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE event_id = 'lost'`); err != nil {
		t.Fatal(err)
	}
	// The last span ends past the outbox: the checkpoint stays after the
	// lost event, and an event written later is found.
	if got, err := s.SweepOnce(ctx); err != nil || got != 0 {
		t.Fatalf("second sweep republished %d (err %v), want none", got, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at) VALUES
		('lost-2', 'triage.corrected', '{}', now() - interval '2 hours', now() - interval '2 hours'),
		('after', 'complaint.received', '{}', now() - interval '2 hours', now() - interval '2 hours')`); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SweepOnce(ctx); err != nil || got != 1 {
		t.Fatalf("third sweep republished %d (err %v), want the second lost event", got, err)
	}
}

func TestEventsWritesABatchInOneStatementAndKeepsThePayload(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	var ev outbox.Events
	if err := ev.Write(ctx, nil); err != nil { // nothing to write: no statement, no transaction needed
		t.Fatal(err)
	}
	for i := range 300 {
		id := fmt.Sprintf("many-%03d", i)
		if err := ev.Add("complaint.received", id, map[string]string{"event_id": id, "z": "后", "a": "先"}); err != nil {
			t.Fatal(err)
		}
	}
	ev.AddRaw("complaint.received", "many-000", []byte(`{"event_id":"many-000","again":true}`)) // the same id twice: the first stays
	if ev.Len() != 301 {
		t.Fatalf("Len = %d, want 301", ev.Len())
	}
	for range 2 { // a replay of the batch changes nothing
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return ev.Write(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	var again bool
	if err := pool.QueryRow(ctx, `SELECT payload::text LIKE '%again%' FROM outbox WHERE event_id = 'many-000'`).Scan(&again); err != nil || again {
		t.Fatalf("the second event with id many-000 replaced the first (%v)", err)
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE event_id LIKE 'many-%'`).Scan(&rows); err != nil || rows != 300 {
		t.Fatalf("outbox holds %d rows (%v), want 300", rows, err)
	}
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := n.JS.Stream(ctx, "COMPLAINTS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "complaint.received")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"先","event_id":"many-299","z":"后"}`; string(m.Data) != want {
		t.Fatalf("published %s, want the bytes written: %s", m.Data, want)
	}
}

func TestSweeperDoesNotPassAnEventTooYoungToBeDue(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	// young was sent just now (say, republished); after it comes an old
	// event the consumer processed. The sweep must not move past young.
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at) VALUES
		('old-1', 'complaint.received', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('young', 'complaint.received', '{}', now(), now() - interval '3 hours'),
		('old-2', 'complaint.received', '{}', now() - interval '3 hours', now() - interval '3 hours')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ('geocoder', 'old-1'), ('geocoder', 'old-2')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "geocoder", Filter: "complaint.received"}}}
	if got, err := s.SweepOnce(ctx); err != nil || got != 0 {
		t.Fatalf("first sweep republished %d (err %v), want none", got, err)
	}
	// An hour later young is still not processed: it is due.
	if _, err := pool.Exec(ctx, `UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE event_id = 'young'`); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SweepOnce(ctx); err != nil || got != 1 {
		t.Fatalf("second sweep republished %d (err %v), want the young event now due", got, err)
	}
}

func TestRelayIsNotHeldUpByALongTransactionAndMissesNoneOfItsRows(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}

	// A long transaction writes its event first, and stays open.
	long := openWith(t, pool, "long-1")
	// Later transactions commit theirs.
	addEvents(t, pool, 5, "short")
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := streamMsgs(t, n); got != 5 {
		t.Fatalf("with a transaction still open, %d events were published, want the 5 committed", got)
	}
	// The long transaction commits: its older row is published next.
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	addEvents(t, pool, 2, "after")
	for range 3 {
		if _, err := r.RelayOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := streamMsgs(t, n); got != 8 {
		t.Fatalf("%d events published, want all 8", got)
	}
	var unsent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil || unsent != 0 {
		t.Fatalf("%d rows unsent (%v)", unsent, err)
	}
	// A new relay of the same subjects continues from the stored cursor
	// and finds nothing left.
	again := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}
	if got, err := again.RelayOnce(ctx); err != nil || got != 0 {
		t.Fatalf("a second relay claimed %d rows (%v), want none", got, err)
	}
}

func TestRelayOfSomeSubjectsWakesForThemAndNotForOthers(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Poll: time.Hour, Subjects: []string{"complaint.>"}}
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(200 * time.Millisecond) // let the first scan pass before the insert
	// Events on another relay's subjects first: the notification names
	// them, and this relay stays asleep; then its own.
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		return outbox.Add(context.Background(), tx, "case.assigned.x", "other-1", map[string]string{"event_id": "other-1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	addEvents(t, pool, 3, "mine")
	testenv.Eventually(t, 5*time.Second, "its own events relayed without polling", func() bool { return streamMsgs(t, n) == 3 })
	var sent bool
	if err := pool.QueryRow(context.Background(), `SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = 'other-1'`).Scan(&sent); err != nil || sent {
		t.Fatalf("the other relay's event was sent (%v)", err)
	}
}

func TestSweeperWaitsForAConsumerWorkingThroughABacklog(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	cons, err := n.JS.CreateOrUpdateConsumer(ctx, "COMPLAINTS", jetstream.ConsumerConfig{
		Durable: "geocoder", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "complaint.received"})
	if err != nil {
		t.Fatal(err)
	}
	// Ten events published and sent long ago; the consumer has not been
	// given them yet: a backlog, not a loss.
	addEvents(t, pool, 10, "queued")
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE outbox SET sent_at = now() - interval '2 hours', created_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "geocoder", Filter: "complaint.received"}}}
	if got, err := s.SweepOnce(ctx); err != nil || got != 0 {
		t.Fatalf("swept %d events (%v) of a consumer with a backlog, want none", got, err)
	}
	// The consumer takes the messages (and loses the effect of them):
	// with nothing queued any more, the sweep republishes them.
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		_ = m.Ack()
	}
	if got, err := s.SweepOnce(ctx); err != nil || got != 10 {
		t.Fatalf("swept %d events (%v) once the backlog drained, want 10", got, err)
	}
}

// After a read that saw every unsent row, the next read looks only at the
// transactions then running or started since: the rows a long transaction
// keeps after the cursor, sent already, are not read again and again. A
// row of an ended transaction that is unsent again (here by hand) shows
// it: the relay that saw it sent passes it, a new relay sends it.
func TestRelayReadsOnlyTransactionsItHasNotSeenEnd(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}

	long := openWith(t, pool, "held-1")
	addEvents(t, pool, 3, "first")
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE outbox SET sent_at = NULL WHERE event_id = 'first-0001'`); err != nil {
		t.Fatal(err)
	}
	addEvents(t, pool, 2, "second")
	if got, err := r.RelayOnce(ctx); err != nil || got != 2 {
		t.Fatalf("the next read claimed %d rows (%v), want the 2 of the transaction started since", got, err)
	}
	// A new relay reads from the cursor, which the long transaction holds.
	fresh := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}
	if got, err := fresh.RelayOnce(ctx); err != nil || got != 1 {
		t.Fatalf("a new relay claimed %d rows (%v), want the one unsent by hand", got, err)
	}
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := r.RelayOnce(ctx); err != nil || got != 1 {
		t.Fatalf("after the long transaction committed the read claimed %d rows (%v), want its 1", got, err)
	}
	if got := streamMsgs(t, n); got != 6 {
		t.Fatalf("%d events in the stream, want the 6 written (JetStream drops the one sent twice by its id)", got)
	}
}

// A consumer of several subjects is checked by one read of the outbox:
// the stalled events of each of its subjects are found, and an event of
// a subject it does not watch is not.
func TestSweeperChecksAConsumersSubjectsTogether(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at) VALUES
		('done-a', 'case.assigned.siming-eco', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('lost-a', 'case.assigned.huli-urban', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('lost-b', 'case.resolved', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('other', 'case.escalated', '{}', now() - interval '3 hours', now() - interval '3 hours'),
		('done-b', 'case.resolved', '{}', now() - interval '3 hours', now() - interval '3 hours');
		INSERT INTO processed_events (consumer, event_id) VALUES ('callbacks', 'done-a'), ('callbacks', 'done-b')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour,
		Watches: []outbox.Watch{{Consumer: "callbacks", Filter: "case.assigned.>"}, {Consumer: "callbacks", Filter: "case.resolved"}}}
	reads := testenv.StartStatements(t, pool, "UPDATE outbox SET republished%")
	if got, err := s.SweepOnce(ctx); err != nil || got != 2 {
		t.Fatalf("republished %d (err %v), want lost-a and lost-b", got, err)
	}
	if calls, _, ok := reads.Totals(t); !ok {
		t.Log("no pg_stat_statements: the number of reads is not checked")
	} else if calls != 1 {
		t.Errorf("the sweep read the outbox %d times for one consumer's two subjects, want once", calls)
	}
	var again []string
	rows, err := pool.Query(ctx, `SELECT event_id FROM outbox WHERE event_id IN ('lost-a', 'lost-b', 'other') AND sent_at > now() - interval '1 minute' ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	if again, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0] != "lost-a" || again[1] != "lost-b" {
		t.Errorf("published again: %v, want [lost-a lost-b]", again)
	}
}

// The consumers of a sweeper are checked by one read of the outbox, not
// one each: each finds its own stalled events, and an event two of them
// have not processed is published again once.
func TestSweeperChecksAllConsumersInOneRead(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at)
		SELECT id, subject, '{}', now() - interval '3 hours', now() - interval '3 hours' FROM (VALUES
			('r-done', 'complaint.received'), ('r-lost', 'complaint.received'),
			('l-done', 'complaint.located.siming.noise'), ('l-lost', 'complaint.located.huli.dust'),
			('both-lost', 'case.resolved'), ('half-lost', 'case.resolved'), ('c-done', 'case.closed')) v (id, subject);
		INSERT INTO processed_events (consumer, event_id) VALUES ('geocoder', 'r-done'), ('hotspots', 'l-done'),
			('callbacks', 'half-lost'), ('callbacks', 'c-done')`); err != nil {
		t.Fatal(err)
	}
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(t), After: time.Hour, Watches: []outbox.Watch{
		{Consumer: "geocoder", Filter: "complaint.received"},
		{Consumer: "hotspots", Filter: "complaint.located.>"},
		{Consumer: "hotspots-resolved", Filter: "case.resolved"},
		{Consumer: "callbacks", Filter: "case.resolved"},
		{Consumer: "callbacks", Filter: "case.closed"},
	}}
	reads := testenv.StartStatements(t, pool, "UPDATE outbox SET republished%")
	if got, err := s.SweepOnce(ctx); err != nil || got != 4 {
		t.Fatalf("republished %d (err %v), want r-lost, l-lost, both-lost and half-lost", got, err)
	}
	if calls, _, ok := reads.Totals(t); !ok {
		t.Log("no pg_stat_statements: the number of reads is not checked")
	} else if calls != 1 {
		t.Errorf("the sweep read the outbox %d times for three consumers, want once", calls)
	}
	var times int
	if err := pool.QueryRow(ctx, `SELECT republished FROM outbox WHERE event_id = 'both-lost'`).Scan(&times); err != nil || times != 1 {
		t.Errorf("both-lost was published again %d times (%v), want once", times, err)
	}
}

// One event NATS refuses to send at all (over the server's 1 MiB maximum
// payload) is moved to the dead letters, whole, and counted; the events
// before and after it, in its transaction and in later ones, are published
// and marked sent.
func TestAnUnpublishableEventDoesNotStopTheRelay(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20+100)
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := outbox.Add(ctx, tx, "complaint.received", "before", map[string]string{"event_id": "before"}); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, "complaint.received", "huge", map[string]string{"event_id": "huge", "d": big})
	}); err != nil {
		t.Fatal(err)
	}
	addEvents(t, pool, 3, "after")
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t)}
	before := testenv.MustMetric(t, "nuisance_outbox_dead_letters_total")
	for range 3 {
		_, _ = r.RelayOnce(ctx)
	}
	if got := testenv.MustMetric(t, "nuisance_outbox_dead_letters_total") - before; got < 1 {
		t.Errorf("nuisance_outbox_dead_letters_total rose by %v, want at least 1", got)
	}
	var unsent, sent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FILTER (WHERE sent_at IS NOT NULL) FROM outbox`).Scan(&unsent, &sent); err != nil {
		t.Fatal(err)
	}
	if unsent != 0 || sent != 4 {
		t.Errorf("after 3 passes %d unsent and %d sent, want none unsent and the 4 others sent", unsent, sent)
	}
	var size int
	if err := pool.QueryRow(ctx, `SELECT octet_length(payload) FROM dead_letters WHERE consumer = $1 AND event_id = 'huge'`, outbox.RelayDeadLetters).Scan(&size); err != nil || size < 1<<20 {
		t.Errorf("dead letter of the event: %d bytes, %v", size, err)
	}
}

// Unpublishable events leave the outbox for the dead letters: left there,
// each would hold the relay's cursor, and once as many had piled up as the
// relay reads at a time (Batch, 512 in production), every read would
// return only them and no later event would ever be published again. Here
// Batch is 2 and two events are over the maximum payload.
func TestUnpublishableEventsDoNotStarveTheRelay(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	big := strings.Repeat("x", 1<<20+100)
	for i := range 2 {
		id := fmt.Sprintf("huge-%d", i)
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return outbox.Add(ctx, tx, "complaint.received", id, map[string]string{"event_id": id, "d": big})
		}); err != nil {
			t.Fatal(err)
		}
	}
	addEvents(t, pool, 3, "after")
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Batch: 2}
	for range 5 {
		_, _ = r.RelayOnce(ctx)
	}
	var unsent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND event_id LIKE 'after-%'`).Scan(&unsent); err != nil {
		t.Fatal(err)
	}
	if unsent != 0 {
		t.Errorf("%d ordinary events behind two unpublishable ones still unsent after 5 passes", unsent)
	}
	// Each unpublishable event is kept whole among the dead letters, with
	// the reason, and is gone from the outbox.
	var letters, whole int
	var reason string
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE octet_length(payload) > 1048576), max(reason)
		FROM dead_letters WHERE consumer = $1 AND event_id LIKE 'huge-%'`, outbox.RelayDeadLetters).Scan(&letters, &whole, &reason); err != nil {
		t.Fatal(err)
	}
	if letters != 2 || whole != 2 || !strings.Contains(reason, "maximum payload") {
		t.Errorf("%d dead letters (%d whole), reason %q; want both events, whole, named as over the maximum payload", letters, whole, reason)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE event_id LIKE 'huge-%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d unpublishable events still in the outbox", left)
	}

	// Asked to send one again, the relay's redrive cannot: it withdraws
	// the request and sends the other dead letters asked for.
	if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
		VALUES ('router', 'complaint.received', 'small-1', 'small-1', 8, 'test', '\x7b7d')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE dead_letters SET retry_requested_at = now()`); err != nil {
		t.Fatal(err)
	}
	sent, err := outbox.Redrive(ctx, pool, n.JS, nil, 10)
	if err != nil || sent != 1 {
		t.Errorf("redrive: %d sent, %v; want the small one sent", sent, err)
	}
	var asked int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE retry_requested_at IS NOT NULL AND retried_at IS NULL`).Scan(&asked); err != nil {
		t.Fatal(err)
	}
	if asked != 0 {
		t.Errorf("%d retries still asked for after the redrive", asked)
	}
	// Retrying every dead letter leaves the relay's out: no retry sends
	// them. Named by id, one is asked for (and withdrawn again).
	if n, err := outbox.RequestRetry(ctx, pool, "", nil); err != nil || n != 0 {
		t.Errorf("retry of all asked for %d (%v), want none of the relay's", n, err)
	}
	var id int64
	if err := pool.QueryRow(ctx, `SELECT id FROM dead_letters WHERE consumer = $1 LIMIT 1`, outbox.RelayDeadLetters).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if n, err := outbox.RequestRetry(ctx, pool, "", []int64{id}); err != nil || n != 1 {
		t.Errorf("retry of relay dead letter %d by id asked for %d (%v), want 1", id, n, err)
	}
}

// A relay that loses its turn to another relay of the same subjects (two
// replicas of a service) reports nothing pending: its last batch's count
// would otherwise stay on its gauge while the other publishes, and the
// operator's alert take it for a relay that cannot publish. Not parallel:
// the gauge is the process's.
func TestARelayWaitingForItsTurnHasNothingPending(t *testing.T) {
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	addEvents(t, pool, 3, "turn")
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(t), Batch: 3}
	if got, err := r.RelayOnce(ctx); err != nil || got != 3 {
		t.Fatalf("relayed %d, %v", got, err)
	}
	if got := testenv.MustMetric(t, "nuisance_outbox_pending"); got != 3 {
		t.Fatalf("nuisance_outbox_pending %v after a full batch, want 3", got)
	}
	// The other replica's relay holds the turn.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('outbox relay ', 0))`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testenv.MustMetric(t, "nuisance_outbox_pending"); got != 0 {
		t.Errorf("nuisance_outbox_pending %v while the other relay has the turn, want 0", got)
	}
}

// An event JetStream refuses every time (its subject in no stream) is
// named by the relay's warnings, as the operator's runbook
// (NuisanceOutboxEventRefused) says: by the error a relay that published
// nothing else returns, which Run logs, and by the first_refused of
// "outbox: events left unsent" when the others went.
func TestTheRelayNamesTheEventJetStreamRefuses(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, "nowhere.x", "stray-1", map[string]string{"event_id": "stray-1"})
	}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: zap.New(core)}
	if _, err := r.RelayOnce(ctx); err == nil || !strings.Contains(err.Error(), "stray-1") {
		t.Errorf("a pass that published nothing but the refused event: error %v, want it to name stray-1", err)
	}
	addEvents(t, pool, 2, "ok")
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatalf("a pass that published the others: %v", err)
	}
	unsent := logs.FilterMessage("outbox: events left unsent").All()
	if len(unsent) == 0 {
		t.Fatal("no warning \"outbox: events left unsent\"")
	}
	if got := unsent[0].ContextMap()["first_refused"]; got != "stray-1" {
		t.Errorf("the warning's first_refused is %q, want stray-1", got)
	}
	// The event is refused at every pass, in production once a second:
	// the warning is a run of one failure, logged at its first, then at
	// most once every 30 s.
	for i := range 10 {
		addEvents(t, pool, 1, fmt.Sprintf("more%d", i))
		if _, err := r.RelayOnce(ctx); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
	if n := logs.FilterMessage("outbox: events left unsent").Len(); n != 1 {
		t.Errorf("11 passes leaving stray-1 unsent logged %d warnings, want 1", n)
	}
}
