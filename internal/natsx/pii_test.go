package natsx_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A dead letter's reason is the error its stage gave up with, and errors
// quote the value they failed on: PostgreSQL's invalid input syntax for
// type date: "王小明 13812345678", a stage's own. The log lines, the DLQ
// copy's Nuisance-Reason header and the reason NATS keeps for the
// termination carried it whole, the caller's phone and name with it. They
// now carry it masked (138****5678, 王**, the name the complaint holds),
// and keep what the operator needs: the kind of error and the ids.
// PostgreSQL's dead letter keeps the reason whole until the retention job
// masks it.
func TestADeadLetterReasonIsLoggedAndCopiedWithoutTheCaller(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	ctx := context.Background()
	const name, phone = "王小明", "13812345678"
	// One event dead-lettered at once (an Invalid error), one after its
	// deliveries (a transient error, logged at each).
	invalid, transient := received("pii-invalid"), received("pii-transient")
	for _, ev := range []event.ComplaintReceived{invalid, transient} {
		if _, err := s.pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone)
			VALUES ($1, $2, $3, 'noise at night', $4, $5)`, ev.ComplaintID, ev.TicketID, ev.ReceivedAt, name, phone); err != nil {
			t.Fatal(err)
		}
	}
	// The reasons NATS keeps for the terminations, as its advisories give
	// them to whoever listens.
	var mu sync.Mutex
	var terminated []string
	sub, err := s.n.NC.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.COMPLAINTS.test-pii", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		terminated = append(terminated, string(m.Data))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := s.n.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cctx, cancel := context.WithCancel(ctx)
	c, err := natsx.NewConsumer(cctx, s.n.JS, s.pool, zap.New(core), natsx.ConsumerSpec{
		Stream: "COMPLAINTS", Durable: "test-pii", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 2, AckWait: 5 * time.Second,
	}, func(ctx context.Context, tx pgx.Tx, ev event.ComplaintReceived, _ natsx.Meta) error {
		// PostgreSQL's own error, quoting the value it was given.
		_, err := tx.Exec(ctx, `SELECT $1::text::date`, name+" "+phone)
		if ev.EventID == invalid.EventID {
			return fault.Errorf(fault.Invalid, "complaint %s: %w", ev.ComplaintID, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Run(cctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s.publish(t, invalid.EventID, invalid)
	s.publish(t, transient.EventID, transient)
	testenv.Eventually(t, 30*time.Second, "two dead letters", func() bool {
		return s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = 'test-pii'`) == 2
	})
	// PostgreSQL's row keeps the reason as the stage gave up with it.
	if n := s.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = 'test-pii' AND reason LIKE '%invalid input syntax for type date%'
		AND strpos(reason, $1) > 0`, phone); n != 2 {
		t.Fatalf("%d dead letters keep their reason whole, want 2", n)
	}

	clean := func(where, text string) {
		t.Helper()
		for _, leak := range []string{phone, "12345678", name} {
			if strings.Contains(text, leak) {
				t.Errorf("%s holds %q: %s", where, leak, text)
			}
		}
	}
	readable := func(where, text string) {
		t.Helper()
		if !strings.Contains(text, "invalid input syntax for type date") || !strings.Contains(text, "138****5678") {
			t.Errorf("%s lost the kind of error: %s", where, text)
		}
	}

	// The log lines. A dead letter's line comes after its row, its copy
	// and its copy's sequence are written.
	testenv.Eventually(t, 10*time.Second, "two dead-lettered lines", func() bool {
		return logs.FilterMessage("dead-lettered").Len() == 2
	})
	var deadLettered, handler int
	for _, e := range logs.All() {
		var b strings.Builder
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			b.WriteString(" " + k + "=" + strings.TrimSpace(strings.ReplaceAll(toString(v), "\n", " ")))
		}
		clean("log line "+e.Message, b.String())
		f := e.ContextMap()
		switch e.Message {
		case "dead-lettered":
			deadLettered++
			readable("log line "+e.Message, toString(f["reason"]))
			if id := toString(f["event_id"]); id != invalid.EventID && id != transient.EventID {
				t.Errorf("dead-lettered with event_id %q", id)
			}
		case "handler":
			handler++
			readable("log line "+e.Message, toString(f["error"]))
			if toString(f["event_id"]) != transient.EventID {
				t.Errorf("handler warning with event_id %v", f["event_id"])
			}
		}
	}
	if deadLettered != 2 || handler == 0 {
		t.Fatalf("%d dead-lettered lines and %d handler warnings, want 2 and some", deadLettered, handler)
	}

	// The DLQ copies, headers and data.
	st, err := s.n.JS.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("DLQ copy %d: %v", seq, err)
		}
		if m.Subject != "dlq.test-pii" {
			continue
		}
		copies++
		for k, vs := range m.Header {
			for _, v := range vs {
				clean("DLQ header "+k, v)
			}
		}
		readable("DLQ header Nuisance-Reason", m.Header.Get("Nuisance-Reason"))
		clean("DLQ copy's data", string(m.Data))
		clean("DLQ copy's subject", m.Subject)
	}
	if copies != 2 {
		t.Fatalf("%d DLQ copies, want 2", copies)
	}

	// The termination reasons.
	testenv.Eventually(t, 10*time.Second, "two termination advisories", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(terminated) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	for _, a := range terminated {
		clean("termination advisory", a)
		if !strings.Contains(a, "138****5678") {
			t.Errorf("termination advisory without the masked reason: %s", a)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
