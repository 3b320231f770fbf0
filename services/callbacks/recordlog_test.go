package callbacks_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// PostgreSQL refuses to write the results of the callbacks handed to the
// deliverers as they were stored (here a trigger refuses their
// delivered_at): each set's write fails. The repeated failure of "record
// callbacks" is one line (and at most one count of those not logged),
// not one a set; the first write that passes says it recovered. The
// deliverer's clock runs four minutes behind the database's, so that
// DeliverOnce leaves the callbacks to the hand-over.
func TestRecordCallbacksFailingIsLoggedAtABoundedRate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	rcv := newReceiver(t, 0)
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := callbacks.DefaultConfig(rcv.srv.URL, secret)
	cfg.Poll = 20 * time.Millisecond
	cfg.Now = func() time.Time { return time.Now().Add(-4 * time.Minute) }
	svc, err := callbacks.New(cfg, e.pool, n.JS, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `CREATE FUNCTION refuse_delivered() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'delivered_at refused'; END $$;
		CREATE TRIGGER refuse_delivered BEFORE UPDATE ON callbacks FOR EACH ROW
		WHEN (NEW.delivered_at IS NOT NULL AND OLD.delivered_at IS NULL) EXECUTE FUNCTION refuse_delivered()`); err != nil {
		t.Fatal(err)
	}
	e.run(t, svc)
	attempts := func() int {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.attempts
	}
	send := func(i int) {
		e.publish(t, n, event.CaseChanged{EventID: fmt.Sprintf("case_r%d.assigned.2", i), CaseID: fmt.Sprintf("case_r%d", i),
			Kind: caseflow.KindAssigned, Status: caseflow.StatusAssigned, Team: "siming-eco", Category: "noise", District: "siming",
			Actor: "service:router", Tickets: []string{fmt.Sprintf("R%d", i)}, At: time.Now()})
		testenv.Eventually(t, 15*time.Second, "the callback posted", func() bool { return attempts() == i+1 })
		// Its set is written once the recorder's linger (100 ms) is over:
		// the next callback makes a set of its own.
		time.Sleep(300 * time.Millisecond)
	}
	const refused = 5
	for i := range refused {
		send(i)
	}
	lines := logs.FilterMessage("record callbacks").All()
	if len(lines) < 1 || len(lines) > 2 {
		t.Fatalf("%d sets refused logged %d lines \"record callbacks\", want 1 (and at most one count of those not logged): %v",
			refused, len(lines), lines)
	}
	if m := lines[0].ContextMap(); lines[0].Level != zapcore.WarnLevel || m["callbacks"] != int64(1) || m["error"] == nil {
		t.Errorf("the first refusal logged %v %v, want a warning with the set's size and the error", lines[0].Level, m)
	}

	if _, err := e.pool.Exec(e.ctx, `DROP TRIGGER refuse_delivered ON callbacks`); err != nil {
		t.Fatal(err)
	}
	send(refused)
	testenv.Eventually(t, 15*time.Second, "the write's return logged", func() bool {
		return logs.FilterMessage("record callbacks: recovered").Len() == 1
	})
	back := logs.FilterMessage("record callbacks: recovered").All()[0]
	if f, _ := back.ContextMap()["failures"].(int64); f < 2 {
		t.Errorf("the return logged %v, want the sets refused counted", back.ContextMap())
	}
}
