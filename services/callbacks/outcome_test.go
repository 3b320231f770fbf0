package callbacks_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// attemptCounts reads nuisance_callbacks_attempts_total by outcome from
// the default registry.
func attemptCounts(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "nuisance_callbacks_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// A POST the hotline refused is counted failed, and one it took delivered:
// the operator's alert on a hotline refusing every callback reads them.
// Both were counted lease_lost, and logged as results not recorded, while
// they were recorded. Not parallel: it reads the process's counters.
func TestEachAttemptIsCountedByItsOutcome(t *testing.T) {
	e := setup(t)
	rcv := newReceiver(t, 1)
	svc := e.service(t, rcv.srv.URL, nil)
	e.complaint(t, "M1")
	e.handle(t, svc, event.CaseChanged{EventID: "case_m.resolved.4", CaseID: "case_m", Kind: "resolved", Status: "resolved",
		Team: "huli-urban", Category: "cooking_smoke", District: "huli", Actor: "officer:o9", Tickets: []string{"M1"}, At: time.Now()})
	before := attemptCounts(t)
	if n, err := svc.DeliverOnce(e.ctx); err != nil || n != 1 {
		t.Fatalf("DeliverOnce: %d, %v; want 1 claimed", n, err)
	}
	after := attemptCounts(t)
	if d := after["failed"] - before["failed"]; d != 1 {
		t.Errorf("a refused POST counted %v failed, want 1 (counts before %v, after %v)", d, before, after)
	}
	// The backoff is 20 ms to 100 ms: the next claim delivers it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := svc.DeliverOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		p, err := callbacks.Pending(e.ctx, e.pool, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the callback was not delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	final := attemptCounts(t)
	if d := final["delivered"] - before["delivered"]; d != 1 {
		t.Errorf("a delivered POST counted %v delivered, want 1 (counts before %v, after %v)", d, before, final)
	}
	if d := final["lease_lost"] - before["lease_lost"]; d != 0 {
		t.Errorf("%v attempts counted lease_lost, want none: each result was recorded under its lease", d)
	}
}
