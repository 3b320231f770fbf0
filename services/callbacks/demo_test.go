package callbacks_test

import (
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// demoCase is an assignment of a case holding the demo's work orders
// DEMO-T000... (n of them).
func demoCase(id string) event.CaseChanged {
	return event.CaseChanged{EventID: id + ".assigned.2", CaseID: id, Kind: caseflow.KindAssigned, Status: caseflow.StatusAssigned,
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router", At: time.Now()}
}

// checkDemoDiscarded fails unless the demo's n callbacks are neither
// pending nor dead, and are listed discarded by the demo, never attempted.
func (e *env) checkDemoDiscarded(t *testing.T, n int) {
	t.Helper()
	pending, dead, err := callbacks.Counts(e.ctx, e.pool)
	if err != nil || pending != 0 || dead != 0 {
		t.Errorf("counted %d pending and %d dead (%v), want none: the demo's are neither", pending, dead, err)
	}
	ds, err := callbacks.Discarded(e.ctx, e.pool, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != n {
		t.Fatalf("%d listed discarded, want the demo's %d", len(ds), n)
	}
	for _, d := range ds {
		if !callbacks.IsDemoTicket(d.Body.TicketID) || d.DiscardedBy != callbacks.DemoDiscardedBy ||
			d.DiscardReason != callbacks.DemoDiscardReason || d.Attempts != 0 || d.DeliveredAt != nil {
			t.Errorf("discarded %s of %s by %q for %q after %d attempts, delivered %v; want a demo work order's, by %q for %q, never attempted",
				d.ID, d.Body.TicketID, d.DiscardedBy, d.DiscardReason, d.Attempts, d.DeliveredAt, callbacks.DemoDiscardedBy, callbacks.DemoDiscardReason)
		}
	}
}

// The demo week's callbacks wait while no URL is set; a start with a
// URL (the real hotline's, on the same database) discards them, says so
// in the listing, and sends none, while a real work order's callback
// waiting beside them is delivered.
func TestDemoCallbacksWaitingNeverReachTheHotline(t *testing.T) {
	t.Parallel()
	e := setup(t)
	trial := e.service(t, "", nil)
	e.storeCallbacks(t, trial, demoCase("case_demo"), callbacks.DemoTicketPrefix+"T", 5)
	e.storeCallbacks(t, trial, demoCase("case_real"), "12345-20261201-", 1)
	if ds, err := callbacks.Pending(e.ctx, e.pool, 100); err != nil || len(ds) != 6 {
		t.Fatalf("%d pending without URL (%v), want the 6 stored", len(ds), err)
	}

	rcv := newReceiver(t, 0)
	n := testenv.StartNATS(t)
	e.run(t, e.service(t, rcv.srv.URL, n.JS))
	testenv.Eventually(t, 15*time.Second, "the real work order's callback delivered and none waiting", func() bool {
		pending, _, err := callbacks.Counts(e.ctx, e.pool)
		return err == nil && pending == 0 && len(rcv.statuses("12345-20261201-000")) == 1
	})
	rcv.mu.Lock()
	for ticket := range rcv.got {
		if callbacks.IsDemoTicket(ticket) {
			t.Errorf("the hotline heard of demo work order %s", ticket)
		}
	}
	if rcv.attempts != 1 {
		t.Errorf("the hotline was posted %d callbacks, want the real one only", rcv.attempts)
	}
	rcv.mu.Unlock()
	e.checkDemoDiscarded(t, 5)
}

// A demo work order's callback claimed by a deliverer (stored while a URL
// is set, or left waiting when the discard at start failed) is discarded,
// not posted, and its work order's next callback is discarded in turn.
func TestAClaimedDemoCallbackIsDiscardedNotSent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	demo := callbacks.DemoTicketPrefix + "12345-20261201-000001"
	e.storeEvent(t, svc, "case_d", demo, caseflow.KindAssigned, 2, time.Now().Add(-time.Minute))
	e.storeEvent(t, svc, "case_d", demo, caseflow.KindResolved, 3, time.Now())
	e.storeEvent(t, svc, "case_r", "12345-20261201-000002", caseflow.KindAssigned, 2, time.Now())
	e.deliverAll(t, svc)
	if got := rcv.statuses(demo); len(got) != 0 {
		t.Errorf("the hotline heard %v of a demo work order", got)
	}
	if got := rcv.statuses("12345-20261201-000002"); len(got) != 1 {
		t.Errorf("the real work order heard %v, want its assignment", got)
	}
	e.checkDemoDiscarded(t, 2)
}
