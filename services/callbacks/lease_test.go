package callbacks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// A callback's retry window is reckoned on the database's clock, the one
// its first attempt was stamped with: a replica whose clock runs four
// minutes ahead (within the five a signature may be off) does not give a
// callback up that has been retried for less than the window, and one
// whose clock runs behind does not go on retrying one whose window is
// over.
func TestGivingUpIsReckonedOnTheDatabasesClock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	skewed := func(d time.Duration) *callbacks.Service {
		return e.service(t, rcv.srv.URL, nil, func(cfg *callbacks.Config) {
			cfg.RetryFor = 3 * time.Minute
			cfg.Now = func() time.Time { return time.Now().Add(d) }
		})
	}
	ahead, behind := skewed(4*time.Minute), skewed(-4*time.Minute)
	state := func(ticket string) (attempts int, dead bool) {
		t.Helper()
		if err := e.pool.QueryRow(e.ctx, `SELECT attempts, dead_at IS NOT NULL FROM callbacks WHERE ticket_id = $1`, ticket).Scan(&attempts, &dead); err != nil {
			t.Fatal(err)
		}
		return attempts, dead
	}

	e.storeEvent(t, ahead, "case_a", "A1", "assigned", 2, time.Now())
	if _, err := ahead.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if attempts, dead := state("A1"); attempts != 1 || dead {
		t.Errorf("A1 after its first failed attempt, by a replica running ahead: %d attempts, dead %v; want 1, alive", attempts, dead)
	}

	e.storeEvent(t, behind, "case_b", "B1", "assigned", 2, time.Now())
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET attempts = 1, retry_since = now() - interval '5 minutes' WHERE ticket_id = 'B1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := behind.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if attempts, dead := state("B1"); attempts != 2 || !dead {
		t.Errorf("B1 failing five minutes into a three-minute window, by a replica running behind: %d attempts, dead %v; want 2, dead", attempts, dead)
	}
}

// orderedHotline is the hotline's callback endpoint, keeping the order in
// which it finished taking each work order's callbacks. It holds the
// second POST of one callback (hold) until release is closed, and counts
// the POSTs that arrived while an earlier callback of their work order
// was still being posted: those the hotline may take in the wrong order.
type orderedHotline struct {
	hold          string
	held, release chan struct{}
	mu            sync.Mutex
	seen          map[string]int         // webhook-id -> POSTs arrived
	posting       map[string][]time.Time // ticket -> the times of the callbacks being posted
	taken         map[string][]string    // ticket -> statuses in the order taken
	overtook      int
}

func newOrderedHotline(t *testing.T, hold string) (*orderedHotline, string) {
	h := &orderedHotline{hold: hold, held: make(chan struct{}), release: make(chan struct{}),
		seen: map[string]int{}, posting: map[string][]time.Time{}, taken: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(h.free)
	return h, srv.URL
}

func (h *orderedHotline) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

func (h *orderedHotline) serve(w http.ResponseWriter, r *http.Request) {
	var b callbacks.Body
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	h.seen[id]++
	n := h.seen[id]
	for _, at := range h.posting[b.TicketID] {
		if at.Before(b.At) {
			h.overtook++
		}
	}
	h.posting[b.TicketID] = append(h.posting[b.TicketID], b.At)
	h.mu.Unlock()
	if id == h.hold && n == 2 {
		close(h.held)
		select {
		case <-h.release:
		case <-time.After(10 * time.Second):
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.posting[b.TicketID]
	i := slices.IndexFunc(p, b.At.Equal)
	h.posting[b.TicketID] = slices.Delete(p, i, i+1)
	h.taken[b.TicketID] = append(h.taken[b.TicketID], b.Status)
	w.WriteHeader(http.StatusNoContent)
}

// stallRecords holds an instance's first statement that records results
// until unstall is closed: a replica paused (a long GC, a slow network to
// the database) between posting its callbacks and recording them.
type stallRecords struct {
	armed   atomic.Bool
	stalled chan struct{}
	unstall chan struct{}
}

func (s *stallRecords) TraceQueryStart(ctx context.Context, _ *pgx.Conn, q pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(strings.TrimSpace(q.SQL), "UPDATE callbacks c SET") && strings.Contains(q.SQL, "last_error") && s.armed.CompareAndSwap(true, false) {
		close(s.stalled)
		select {
		case <-s.unstall:
		case <-ctx.Done():
		}
	}
	return ctx
}

func (*stallRecords) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Two instances on one database. The first posts a work order's first
// callback, then stalls before recording it; its lease runs out and the
// second instance claims the callback and posts it again. The first
// instance's result, recorded late, must not mark the callback delivered
// under the second's lease: the work order's next callback would go out
// while the first is still being posted, and the hotline could take them
// in the wrong order, its last word the earlier one.
func TestAResultIsRecordedOnlyUnderItsLease(t *testing.T) {
	t.Parallel()
	e := setup(t)
	t0 := time.Now().Add(-time.Hour)
	first := callbacks.WebhookID("case_l.assigned.2", "L1")
	hotline, url := newOrderedHotline(t, first)
	stall := &stallRecords{stalled: make(chan struct{}), unstall: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-stall.unstall:
		default:
			close(stall.unstall)
		}
	})
	cfg := e.pool.Config().Copy()
	cfg.ConnConfig.Tracer = stall
	poolA, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(poolA.Close)
	lease := func(c *callbacks.Config) { c.Lease = time.Second }
	b := e.service(t, url, nil, lease)
	a, err := callbacks.New(func() callbacks.Config {
		c := callbacks.DefaultConfig(url, secret)
		c.Poll, c.BaseBackoff, c.MaxBackoff = 20*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
		lease(&c)
		return c
	}(), poolA, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	e.storeEvent(t, b, "case_l", "L1", "assigned", 2, t0)
	e.storeEvent(t, b, "case_l", "L1", "resolved", 4, t0.Add(time.Minute))

	// A posts L1's first callback and stalls before recording it.
	stall.armed.Store(true)
	aDone := make(chan error, 1)
	go func() { _, err := a.DeliverOnce(e.ctx); aDone <- err }()
	select {
	case <-stall.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the first instance never came to record its result")
	}
	// Its lease over, B claims the callback and posts it again; the
	// hotline holds that POST.
	bDone := make(chan error, 1)
	go func() {
		for {
			n, err := b.DeliverOnce(e.ctx)
			if err != nil || n > 0 {
				bDone <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case <-hotline.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the second instance never posted the callback again")
	}
	// A records its result late, and looks for more to send.
	close(stall.unstall)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if _, err := a.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	hotline.free()
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	for _, s := range []*callbacks.Service{a, b, a, b} {
		e.deliverAll(t, s)
	}

	hotline.mu.Lock()
	defer hotline.mu.Unlock()
	taken := hotline.taken["L1"]
	if len(taken) == 0 || taken[len(taken)-1] != "resolved" {
		t.Errorf("the hotline took L1's callbacks as %v: its last word is not the resolution", taken)
	}
	if hotline.overtook != 0 {
		t.Errorf("%d callbacks posted while an earlier one of their work order was still being posted", hotline.overtook)
	}
}
