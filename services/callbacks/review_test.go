package callbacks_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// The hotline answers every POST in 600 ms, well within the 1 s timeout.
// Callbacks handed over by the consumer and callbacks found due by the
// poll go out at the same time: together they are never more POSTs than
// Workers, and none of them times out waiting for a connection (which
// the hotline would then receive twice).
func TestHandoffAndPollTogetherStayWithinWorkers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var inFlight, maxInFlight atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		time.Sleep(600 * time.Millisecond)
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(slow.Close)
	svc := e.service(t, slow.URL, n.JS, func(cfg *callbacks.Config) {
		cfg.Workers, cfg.Timeout = 2, time.Second
	})
	e.run(t, svc)
	// Stored outside the consume loop: found due by DeliverOnce.
	e.storeCallbacks(t, svc, event.CaseChanged{EventID: "case_p.assigned.2", CaseID: "case_p", Kind: "assigned", Status: "assigned",
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "router"}, "P", 8)
	// Stored by the consumer: handed over.
	var tickets []string
	for i := range 8 {
		tickets = append(tickets, fmt.Sprintf("H%03d", i))
	}
	e.publish(t, n, event.CaseChanged{EventID: "case_h.assigned.2", CaseID: "case_h", Kind: caseflow.KindAssigned,
		Status: caseflow.StatusAssigned, Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router",
		Tickets: tickets, At: time.Now()})
	testenv.Eventually(t, 40*time.Second, "16 callbacks delivered", func() bool {
		var delivered int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE delivered_at IS NOT NULL`).Scan(&delivered)
		return err == nil && delivered == 16
	})
	var failed int
	var lastErr string
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FILTER (WHERE attempts > 1), COALESCE(max(last_error), '') FROM callbacks`).Scan(&failed, &lastErr); err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d callbacks needed a second attempt from a hotline answering within the timeout (%s)", failed, lastErr)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, k := range seen {
		if k != 1 {
			t.Errorf("webhook-id %s received %d times", id, k)
		}
	}
	if m := maxInFlight.Load(); m > 2 {
		t.Errorf("%d POSTs at once, want at most Workers (2)", m)
	}
}

// A hotline that answers 429 with Retry-After is not asked again before
// then: not for that callback, and not for another.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.Header().Set("Retry-After", "30")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	svc := e.service(t, srv.URL, nil) // backoff 20 ms
	e.complaint(t, "A1")
	e.storeEvent(t, svc, "case_a", "A1", "assigned", 2, time.Now())
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	var wait time.Duration
	var secs float64
	if err := e.pool.QueryRow(e.ctx, `SELECT extract(epoch FROM next_at - now()) FROM callbacks`).Scan(&secs); err != nil {
		t.Fatal(err)
	}
	wait = time.Duration(secs * float64(time.Second))
	if wait < 25*time.Second {
		t.Errorf("after 429 Retry-After: 30, the callback is due again in %s", wait.Round(time.Millisecond))
	}
	// Another work order's callback, stored now, waits for the pause too.
	e.storeEvent(t, svc, "case_b", "B1", "assigned", 2, time.Now())
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if p := posts.Load(); p != 1 {
		t.Errorf("%d POSTs within the 30 s the hotline asked for, want 1", p)
	}
}

// During a key rotation HOTLINE_SECRET holds the new and the old key: a
// hotline still verifying with either accepts the callback.
func TestEveryConfiguredKeySigns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	newKey := "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("n", 32)))
	for i, verifyWith := range []string{newKey, secret} {
		wh, err := standardwebhooks.NewWebhook(verifyWith)
		if err != nil {
			t.Fatal(err)
		}
		var ok, bad atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := wh.Verify(body, r.Header); err != nil {
				bad.Add(1)
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			ok.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		svc := e.service(t, srv.URL, nil, func(cfg *callbacks.Config) { cfg.Secret = newKey + " " + secret })
		e.handle(t, svc, event.CaseChanged{EventID: fmt.Sprintf("case_k.assigned.%d", i+2), CaseID: "case_k", Kind: "assigned",
			Status: "assigned", Team: "siming-eco", Category: "noise", District: "siming", Actor: "router", Tickets: []string{"K" + verifyWith[6:10]}, At: time.Now()})
		if _, err := svc.DeliverOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if ok.Load() != 1 || bad.Load() != 0 {
			t.Errorf("a hotline verifying with the key %s...: %d accepted, %d refused; want the callback accepted", verifyWith[:10], ok.Load(), bad.Load())
		}
	}
}

// The hotline's URL may carry its access token; a failed POST's error,
// kept in last_error (shown by `nuisance callbacks dead`) and logged,
// does not repeat it.
func TestFailedPostDoesNotRecordTheURLsToken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL + "/cb?access_token=s3cr3t-T0KEN"
	srv.Close() // connection refused
	svc := e.service(t, url, nil)
	e.complaint(t, "U1")
	e.storeEvent(t, svc, "case_u", "U1", "assigned", 2, time.Now())
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	var lastErr string
	if err := e.pool.QueryRow(e.ctx, `SELECT COALESCE(last_error, '') FROM callbacks`).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if lastErr == "" || strings.Contains(lastErr, "s3cr3t-T0KEN") {
		t.Errorf("last_error %q: want the failure without the URL's token", lastErr)
	}
}

// Two replicas whose clocks differ by two minutes (within the five a
// signature may be off): while one is still posting a callback, under
// its lease, the other does not claim it and post it again.
func TestASkewedReplicaDoesNotTakeALeaseInForce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	held, arrived := make(chan struct{}), make(chan struct{}, 8)
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		arrived <- struct{}{}
		<-held
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(held) })
	a := e.service(t, srv.URL, nil)
	b := e.service(t, srv.URL, nil, func(cfg *callbacks.Config) {
		cfg.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	})
	e.complaint(t, "S1")
	e.storeEvent(t, a, "case_s", "S1", "assigned", 2, time.Now().Add(-time.Minute))
	go func() { _, _ = a.DeliverOnce(e.ctx) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no POST from the first replica")
	}
	n, err := b.DeliverOnce(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || posts.Load() != 1 {
		t.Errorf("the second replica claimed %d callbacks leased to the first; %d POSTs of one callback at once", n, posts.Load())
	}
}
