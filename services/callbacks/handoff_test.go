package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// publish puts case events on their stream, as the router and the
// officers' service do, with what they wrote in the database.
func (e *env) publish(t *testing.T, n *testenv.NATS, evs ...event.CaseChanged) {
	t.Helper()
	bear(t, e.ctx, e.pool, evs...)
	e.publishRaw(t, n, evs...)
}

// publishRaw puts case events on their stream as a service's stolen
// credential could, without the database's record of them.
func (e *env) publishRaw(t *testing.T, n *testenv.NATS, evs ...event.CaseChanged) {
	t.Helper()
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.JS.Publish(e.ctx, caseflow.Subject(ev.Kind, ev.Team), data); err != nil {
			t.Fatal(err)
		}
	}
}

// Callbacks the consumer stores go to the deliverers as their transaction
// commits, without waiting to be found due. The deliverer's clock here
// runs four minutes behind the database's (within the five minutes a
// signature's timestamp may be off), so to DeliverOnce a callback stored
// now is not due for four minutes: only the hand-over delivers it at
// once.
func TestStoredCallbacksAreHandedToTheDeliverers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	n := testenv.StartNATS(t)
	svc := e.service(t, rcv.srv.URL, n.JS, func(cfg *callbacks.Config) {
		cfg.Now = func() time.Time { return time.Now().Add(-4 * time.Minute) }
	})
	e.run(t, svc)
	var tickets []string
	for i := range 40 {
		tickets = append(tickets, fmt.Sprintf("H%03d", i))
	}
	e.publish(t, n, event.CaseChanged{EventID: "case_h.assigned.2", CaseID: "case_h", Kind: caseflow.KindAssigned,
		Status: caseflow.StatusAssigned, Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router",
		Tickets: tickets[:20], At: time.Now()})
	e.publish(t, n, event.CaseChanged{EventID: "case_i.assigned.2", CaseID: "case_i", Kind: caseflow.KindAssigned,
		Status: caseflow.StatusAssigned, Team: "huli-eco", Category: "noise", District: "huli", Actor: "service:router",
		Tickets: tickets[20:], At: time.Now()})
	testenv.Eventually(t, 15*time.Second, "40 callbacks delivered", func() bool {
		var delivered int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE delivered_at IS NOT NULL`).Scan(&delivered)
		return err == nil && delivered == 40
	})
	for _, tk := range tickets {
		if got := rcv.statuses(tk); !slices.Equal(got, []string{caseflow.StatusAssigned}) {
			t.Errorf("%s heard %v, want [assigned]", tk, got)
		}
	}
	var attempts, open int
	if err := e.pool.QueryRow(e.ctx, `SELECT max(attempts), count(*) FILTER (WHERE last_error IS NOT NULL) FROM callbacks`).Scan(&attempts, &open); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || open != 0 {
		t.Errorf("at most %d attempts and %d errors recorded, want 1 and none", attempts, open)
	}
}

// Handed-over callbacks keep each work order's order: the first of a work
// order goes out at once, the next waits until it is delivered, and a
// failed POST is recorded and retried like any other.
func TestHandedCallbacksKeepEachTicketsOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 7) // the hotline refuses the first 7 POSTs
	n := testenv.StartNATS(t)
	svc := e.service(t, rcv.srv.URL, n.JS)
	e.run(t, svc)
	var stories []event.CaseChanged
	for i := range 10 {
		stories = append(stories, caseStory(fmt.Sprintf("case_o%d", i), fmt.Sprintf("O%dA", i), fmt.Sprintf("O%dB", i))...)
	}
	// The stories interleaved, as cases progress side by side.
	var feed []event.CaseChanged
	for step := range 4 {
		for i := range 10 {
			feed = append(feed, stories[i*4+step])
		}
	}
	e.publish(t, n, feed...)
	want := map[string][]string{}
	for i := range 10 {
		want[fmt.Sprintf("O%dA", i)] = []string{caseflow.StatusAssigned, caseflow.StatusResolved, caseflow.StatusClosed}
		want[fmt.Sprintf("O%dB", i)] = []string{caseflow.StatusAssigned, caseflow.StatusResolved, caseflow.StatusClosed}
	}
	testenv.Eventually(t, 30*time.Second, "every work order told its case's story", func() bool {
		for tk, w := range want {
			if len(rcv.statuses(tk)) < len(w) {
				return false
			}
		}
		return true
	})
	for tk, w := range want {
		if got := rcv.statuses(tk); !slices.Equal(got, w) {
			t.Errorf("%s heard %v, want %v", tk, got, w)
		}
	}
	var failed int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE attempts > 1 AND delivered_at IS NOT NULL`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed == 0 {
		t.Error("no callback was retried after the hotline refused the first POSTs")
	}
}

// Callbacks handed to the deliverers but not yet sent when the service
// stops are given back: the next instance sends them at once, not after
// their minute's lease.
func TestHandedCallbacksLeftAtShutdownGoOutAfterARestart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	// The hotline holds the first POST until the service has stopped.
	held := make(chan struct{})
	arrived := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
			<-held
		default:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(held) })
	first := e.service(t, slow.URL, n.JS, func(cfg *callbacks.Config) { cfg.Workers = 1 })
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	var tickets []string
	for i := range 5 {
		tickets = append(tickets, fmt.Sprintf("R%03d", i))
	}
	e.publish(t, n, event.CaseChanged{EventID: "case_r.assigned.2", CaseID: "case_r", Kind: caseflow.KindAssigned,
		Status: caseflow.StatusAssigned, Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router",
		Tickets: tickets, At: time.Now()})
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("no callback reached the hotline")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	var waiting int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE attempts = 0 AND next_at <= now()`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 4 {
		t.Errorf("%d callbacks given back at shutdown, want the 4 not sent", waiting)
	}

	rcv := newReceiver(t, 0)
	second := e.service(t, rcv.srv.URL, n.JS)
	e.run(t, second)
	testenv.Eventually(t, 15*time.Second, "the 4 given back delivered by the next instance", func() bool {
		got := 0
		for _, tk := range tickets {
			got += len(rcv.statuses(tk))
		}
		return got >= 4
	})
}

// Of a work order's callbacks stored together, only the first is handed
// over; the later ones wait, unclaimed, until it is delivered. The hotline
// here holds every POST, so what was claimed stays claimed while the
// test looks.
func TestOnlyAWorkOrdersFirstCallbackIsHandedOver(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	held := make(chan struct{})
	hotline := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-held
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(hotline.Close)
	t.Cleanup(func() { close(held) })
	e.run(t, e.service(t, hotline.URL, n.JS))
	var feed []event.CaseChanged
	for i := range 3 {
		feed = append(feed, caseStory(fmt.Sprintf("case_f%d", i), fmt.Sprintf("F%dA", i), fmt.Sprintf("F%dB", i))...)
	}
	e.publish(t, n, feed...)
	// Per case: A assigned, resolved and closed; B merged, resolved and closed.
	testenv.Eventually(t, 15*time.Second, "18 callbacks stored", func() bool {
		var stored int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks`).Scan(&stored)
		return err == nil && stored == 18
	})
	rows, err := e.pool.Query(e.ctx, `SELECT ticket_id, count(*) FILTER (WHERE attempts > 0) FROM callbacks GROUP BY 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[string]int{}
	for rows.Next() {
		var ticket string
		var n int
		if err := rows.Scan(&ticket, &n); err != nil {
			t.Fatal(err)
		}
		claimed[ticket] = n
	}
	rows.Close()
	if len(claimed) != 6 {
		t.Fatalf("callbacks of %d work orders, want 6: %v", len(claimed), claimed)
	}
	for ticket, n := range claimed {
		if n != 1 {
			t.Errorf("%s has %d callbacks claimed, want its first only", ticket, n)
		}
	}
}
