package callbacks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is the hotline's callback endpoint: it fails the first
// failures requests, verifies every signature and keeps what it accepted.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	hook     *standardwebhooks.Webhook
	schema   *jsonschema.Schema
	failures atomic.Int64
	down     atomic.Bool
	conns    atomic.Int64 // connections opened to it

	mu        sync.Mutex
	got       map[string][]callbacks.Body // ticket -> accepted bodies, in order
	ids       map[string]int              // webhook-id -> accepted deliveries
	attempts  int
	badSigned int
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schemas.Get("hotline.callback.v1")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, hook: wh, schema: sch, got: map[string][]callbacks.Body{}, ids: map[string]int{}}
	r.failures.Store(int64(failFirst))
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.down.Load() || r.failures.Add(-1) >= 0 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if err := r.hook.Verify(body, req.Header); err != nil {
		r.badSigned++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err == nil {
		err = r.schema.Validate(doc)
	}
	if err != nil {
		r.t.Errorf("callback body %s: %v", body, err)
	}
	var b callbacks.Body
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("decode callback: %v", err)
	}
	r.got[b.TicketID] = append(r.got[b.TicketID], b)
	r.ids[req.Header.Get("webhook-id")]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) statuses(ticket string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, b := range r.got[ticket] {
		s = append(s, b.Status)
	}
	return s
}

type env struct {
	ctx  context.Context
	pool *pgxpool.Pool
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &env{ctx: ctx, pool: testenv.DB(t)}
}

// service builds the service for url with short polls and backoffs, and
// then whatever configure changes.
func (e *env) service(t *testing.T, url string, js jetstream.JetStream, configure ...func(*callbacks.Config)) *callbacks.Service {
	t.Helper()
	cfg := callbacks.DefaultConfig(url, secret)
	cfg.Poll, cfg.BaseBackoff, cfg.MaxBackoff = 20*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	for _, c := range configure {
		c(&cfg)
	}
	s, err := callbacks.New(cfg, e.pool, js, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs svc until the test ends.
func (e *env) run(t *testing.T, svc *callbacks.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// storeCallbacks stores, through svc, the callbacks of one case event
// about n work orders named <prefix>000, <prefix>001, ...
func (e *env) storeCallbacks(t *testing.T, svc *callbacks.Service, ev event.CaseChanged, prefix string, n int) {
	t.Helper()
	for i := range n {
		ev.Tickets = append(ev.Tickets, fmt.Sprintf("%s%03d", prefix, i))
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	e.handle(t, svc, ev)
}

// handle has svc store the callbacks of ev, an event of a transition the
// database bears out (bear), in a transaction of its own.
func (e *env) handle(t *testing.T, svc *callbacks.Service, ev event.CaseChanged) {
	t.Helper()
	bear(t, e.ctx, e.pool, ev)
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error { return svc.HandleCaseChanged(ctx, tx, ev, natsx.Meta{}) })
}

func (e *env) complaint(t *testing.T, ticket string) string {
	t.Helper()
	id := "cmp_" + ticket
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone)
		VALUES ($1, $2, now(), '夜间施工', '张三', '13800000000')`, id, ticket); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) tx(t *testing.T, f func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return f(e.ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

var router = caseflow.Service("router")

// mergedCase opens a case for T1, assigns it, merges T2 and T3 into it and
// has the team accept, resolve and close it.
func (e *env) mergedCase(t *testing.T) string {
	t.Helper()
	first := e.complaint(t, "T1")
	id := caseflow.IDFor(first)
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: first, Category: "noise", District: "siming", OpenedAt: time.Now()}); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
			SignDue: time.Now().Add(24 * time.Hour), ResolveDue: time.Now().Add(120 * time.Hour)})
		return err
	})
	for _, ticket := range []string{"T2", "T3"} {
		c := e.complaint(t, ticket)
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
			_, _, err := caseflow.Merge(ctx, tx, id, router, c, "", "", time.Time{}, time.Time{})
			return err
		})
	}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Accept(ctx, tx, id, officer)
		return err
	})
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Resolve(ctx, tx, id, officer, caseflow.OutcomeRectified, "施工已停止")
		return err
	})
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		_, err := caseflow.Close(ctx, tx, id, officer, "办结")
		return err
	})
	return id
}

// The hotline fails the first attempts; once it recovers every ticket of
// a merged case hears of its assignment, resolution and closure, in order,
// each callback validly signed and delivered once.
func TestEveryTicketAnsweredOnceTheHotlineRecovers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	rcv := newReceiver(t, 5)
	relayCtx, stopRelay := context.WithCancel(e.ctx)
	relay := &outbox.Relay{Pool: e.pool, JS: n.JS, Log: testenv.Log(t), Poll: 20 * time.Millisecond}
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = relay.Run(relayCtx) }()
	t.Cleanup(func() { stopRelay(); <-relayDone })

	svc := e.service(t, rcv.srv.URL, n.JS)
	e.run(t, svc)

	caseID := e.mergedCase(t)
	want := map[string][]string{
		"T1": {"assigned", "resolved", "closed"},
		"T2": {"assigned", "resolved", "closed"},
		"T3": {"assigned", "resolved", "closed"},
	}
	testenv.Eventually(t, 30*time.Second, "every callback delivered", func() bool {
		var undelivered, total int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FROM callbacks`).Scan(&undelivered, &total)
		return err == nil && total == 9 && undelivered == 0
	})
	for ticket, w := range want {
		if got := rcv.statuses(ticket); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("ticket %s heard %v, want %v", ticket, got, w)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.badSigned != 0 {
		t.Errorf("%d callbacks with a bad signature", rcv.badSigned)
	}
	if len(rcv.ids) != 9 {
		t.Errorf("%d distinct webhook-ids accepted, want 9", len(rcv.ids))
	}
	for id, n := range rcv.ids {
		if n != 1 {
			t.Errorf("webhook-id %s accepted %d times", id, n)
		}
	}
	if rcv.attempts < 9+5 {
		t.Errorf("%d attempts, want the 5 failures retried", rcv.attempts)
	}
	for _, bodies := range rcv.got {
		for _, b := range bodies {
			if b.CaseID != caseID || b.Team == nil || *b.Team != "siming-eco" {
				t.Errorf("callback %+v: want case %s of siming-eco", b, caseID)
			}
		}
	}
}

// A delivery the hotline refuses for the whole retry window is dead,
// visible to operators, and delivered after an operator's retry.
func TestDeadDeliveriesWaitForAnOperatorsRetry(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	svc := e.service(t, rcv.srv.URL, nil, func(cfg *callbacks.Config) {
		cfg.BaseBackoff, cfg.MaxBackoff, cfg.RetryFor = 10*time.Millisecond, 50*time.Millisecond, 2*time.Second
	})
	e.complaint(t, "D1")
	e.handle(t, svc, event.CaseChanged{EventID: "case_x.resolved.4", CaseID: "case_x", Kind: "resolved", Status: "resolved",
		Team: "huli-urban", Category: "cooking_smoke", District: "huli", Actor: "officer:o9", Tickets: []string{"D1"}, At: time.Now()})
	testenv.Eventually(t, 10*time.Second, "delivery dead", func() bool {
		if _, err := svc.DeliverOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		dead, err := callbacks.Dead(e.ctx, e.pool, 10)
		return err == nil && len(dead) == 1
	})
	dead, _ := callbacks.Dead(e.ctx, e.pool, 10)
	if d := dead[0]; d.Attempts < 2 || d.LastError == "" || d.Body.TicketID != "D1" || d.ID != callbacks.WebhookID("case_x.resolved.4", "D1") {
		t.Errorf("dead delivery %+v: want several attempts, the last error and its webhook-id", d)
	}
	// Dead stays dead: the loop does not try it again.
	before := rcv.attempts
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if rcv.attempts != before {
		t.Errorf("a dead delivery was attempted again")
	}
	rcv.down.Store(false)
	if n, sup, err := callbacks.RetryDead(e.ctx, e.pool, nil); err != nil || n != 1 || sup != 0 {
		t.Fatalf("RetryDead: %d revived, %d superseded, %v; want 1 and 0", n, sup, err)
	}
	testenv.Eventually(t, 10*time.Second, "delivered after retry", func() bool {
		if _, err := svc.DeliverOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		return len(rcv.statuses("D1")) == 1
	})
}

// Without a URL, callbacks are stored and wait, visible; none is lost.
func TestWithoutURLCallbacksWait(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := e.service(t, "", nil)
	e.complaint(t, "W1")
	e.complaint(t, "W2")
	ev := event.CaseChanged{EventID: "case_w.assigned.2", CaseID: "case_w", Kind: "assigned", Status: "assigned",
		Team: "jimei-eco", Category: "noise", District: "jimei", Actor: "service:router", Tickets: []string{"W1", "W2"}, At: time.Now()}
	bear(t, e.ctx, e.pool, ev)
	for range 2 { // a redelivery stores nothing more
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error { return svc.HandleCaseChanged(ctx, tx, ev, natsx.Meta{}) })
	}
	if n, err := svc.DeliverOnce(e.ctx); err != nil || n != 0 {
		t.Errorf("DeliverOnce without URL: %d, %v; want 0", n, err)
	}
	pending, err := callbacks.Pending(e.ctx, e.pool, 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending %d (%v), want 2", len(pending), err)
	}
	for _, p := range pending {
		if p.Attempts != 0 || p.DeadAt != nil {
			t.Errorf("waiting delivery %+v was attempted", p)
		}
	}
}

// storeEvent stores, through svc, the callback of one case event of
// ticket at a given time.
func (e *env) storeEvent(t *testing.T, svc *callbacks.Service, caseID, ticket, kind string, version int, at time.Time) {
	t.Helper()
	e.handle(t, svc, caseEventOf(caseID, ticket, kind, version, at))
}

// caseEventOf is the event of one transition of a case holding ticket.
func caseEventOf(caseID, ticket, kind string, version int, at time.Time) event.CaseChanged {
	return event.CaseChanged{EventID: fmt.Sprintf("%s.%s.%d", caseID, kind, version), CaseID: caseID, Kind: kind,
		Status: kind, Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router", Tickets: []string{ticket}, At: at}
}

// deliverAll runs delivery rounds until nothing is left to claim.
func (e *env) deliverAll(t *testing.T, svc *callbacks.Service) {
	t.Helper()
	for range 100 {
		n, err := svc.DeliverOnce(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var waiting int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM callbacks WHERE delivered_at IS NULL AND dead_at IS NULL`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if n == 0 && waiting == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("callbacks still waiting after 100 rounds")
}

// A case event that comes late (a batch redelivered after a delay, a dead
// letter sent again) is older than a callback the hotline has had: sent
// now, it would take the work order back. It is stored superseded and
// never sent, and it is not a dead delivery for the operator.
func TestALateEarlierEventIsNotSentAfterALaterOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	svc := e.service(t, rcv.srv.URL, nil)
	e.complaint(t, "L1")
	t0 := time.Now().Add(-time.Hour)
	// The case was assigned, then resolved; the assignment's event comes
	// after the resolution's was delivered.
	assigned, resolved := caseEventOf("case_l", "L1", "assigned", 2, t0), caseEventOf("case_l", "L1", "resolved", 4, t0.Add(30*time.Minute))
	bear(t, e.ctx, e.pool, assigned, resolved)
	for _, ev := range []event.CaseChanged{resolved, assigned} {
		e.tx(t, func(ctx context.Context, tx pgx.Tx) error { return svc.HandleCaseChanged(ctx, tx, ev, natsx.Meta{}) })
		e.deliverAll(t, svc)
	}
	if got := rcv.statuses("L1"); fmt.Sprint(got) != "[resolved]" {
		t.Errorf("the hotline heard %v, want [resolved]", got)
	}
	var by string
	if err := e.pool.QueryRow(e.ctx, `SELECT COALESCE(superseded_by, '') FROM callbacks WHERE status = 'assigned'`).Scan(&by); err != nil || by != callbacks.WebhookID("case_l.resolved.4", "L1") {
		t.Errorf("the late callback is superseded by %q (%v), want the resolved one", by, err)
	}
	if dead, err := callbacks.Dead(e.ctx, e.pool, 10); err != nil || len(dead) != 0 {
		t.Errorf("dead deliveries %v (%v), want none", dead, err)
	}
	// Events in order, even when stored in one batch, are all sent.
	e.storeEvent(t, svc, "case_m", "M1", "assigned", 2, t0)
	e.storeEvent(t, svc, "case_m", "M1", "resolved", 4, t0.Add(time.Minute))
	e.deliverAll(t, svc)
	if got := rcv.statuses("M1"); fmt.Sprint(got) != "[assigned resolved]" {
		t.Errorf("the hotline heard %v, want [assigned resolved]", got)
	}
}

// The hotline is down until a work order's first callback is dead; the
// case moves on and its next callback is sent once the hotline is back.
// The operator's retry then does not send the dead one after it: it is
// superseded. A dead callback with nothing later is sent again as before.
func TestARetriedDeadCallbackIsNotSentAfterALaterOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	svc := e.service(t, rcv.srv.URL, nil, func(cfg *callbacks.Config) {
		cfg.BaseBackoff, cfg.MaxBackoff, cfg.RetryFor = 10*time.Millisecond, 50*time.Millisecond, time.Second
	})
	e.complaint(t, "D1")
	e.complaint(t, "D2")
	e.storeEvent(t, svc, "case_d", "D1", "assigned", 2, time.Now())
	e.storeEvent(t, svc, "case_e", "D2", "assigned", 2, time.Now())
	testenv.Eventually(t, 10*time.Second, "both dead", func() bool {
		if _, err := svc.DeliverOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		dead, err := callbacks.Dead(e.ctx, e.pool, 10)
		return err == nil && len(dead) == 2
	})
	e.storeEvent(t, svc, "case_d", "D1", "resolved", 4, time.Now())
	rcv.down.Store(false)
	e.deliverAll(t, svc)
	n, sup, err := callbacks.RetryDead(e.ctx, e.pool, nil)
	if err != nil || n != 1 || sup != 1 {
		t.Fatalf("RetryDead: %d revived, %d superseded, %v; want 1 and 1", n, sup, err)
	}
	e.deliverAll(t, svc)
	if got := rcv.statuses("D1"); fmt.Sprint(got) != "[resolved]" {
		t.Errorf("D1: the hotline heard %v, want [resolved]", got)
	}
	if got := rcv.statuses("D2"); fmt.Sprint(got) != "[assigned]" {
		t.Errorf("D2: the hotline heard %v, want [assigned]", got)
	}
	if dead, err := callbacks.Dead(e.ctx, e.pool, 10); err != nil || len(dead) != 0 {
		t.Errorf("dead deliveries %v (%v), want none", dead, err)
	}
}

// A delivery's retry window starts at its first attempt: one that waited
// behind its work order's earlier callback is not dead at its first
// failure.
func TestAWaitingCallbacksRetryWindowStartsAtItsFirstAttempt(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	svc := e.service(t, "", nil)
	e.complaint(t, "Q1")
	e.storeEvent(t, svc, "case_q", "Q1", "assigned", 2, time.Now())
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET retry_since = now() - interval '2 days'`); err != nil {
		t.Fatal(err)
	}
	svc = e.service(t, rcv.srv.URL, nil)
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	var dead bool
	var attempts int
	if err := e.pool.QueryRow(e.ctx, `SELECT dead_at IS NOT NULL, attempts FROM callbacks`).Scan(&dead, &attempts); err != nil {
		t.Fatal(err)
	}
	if dead || attempts != 1 {
		t.Errorf("after its first failed attempt: dead %v, %d attempts; want alive, 1", dead, attempts)
	}
}

// A hotline that answers with a redirect has not taken the callback: the
// client would follow it as a GET without the body. The attempt fails,
// saying where the redirect points, and the callback waits for a retry.
func TestARedirectIsNotADelivery(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var posts, others atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			others.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	svc := e.service(t, srv.URL+"/old", nil)
	e.complaint(t, "R1")
	e.handle(t, svc, event.CaseChanged{EventID: "case_r.assigned.2", CaseID: "case_r", Kind: "assigned", Status: "assigned",
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "service:router", Tickets: []string{"R1"}, At: time.Now()})
	if _, err := svc.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	var delivered bool
	var attempts int
	var lastError string
	if err := e.pool.QueryRow(e.ctx, `SELECT delivered_at IS NOT NULL, attempts, COALESCE(last_error, '') FROM callbacks`).Scan(&delivered, &attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if delivered || attempts != 1 || !strings.Contains(lastError, "301") || !strings.Contains(lastError, "/new") {
		t.Errorf("after a 301: delivered %v, %d attempts, last error %q; want undelivered, 1 attempt, the redirect named", delivered, attempts, lastError)
	}
	if posts.Load() != 0 || others.Load() != 0 {
		t.Errorf("the redirect was followed: %d POSTs and %d other requests at its target", posts.Load(), others.Load())
	}
}

// Two instances deliver a hundred callbacks together: each exactly once.
func TestTwoInstancesDeliverEachCallbackOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	a, b := e.service(t, rcv.srv.URL, nil), e.service(t, rcv.srv.URL, nil)
	e.storeCallbacks(t, a, event.CaseChanged{EventID: "case_m.closed.9", CaseID: "case_m", Kind: "closed", Status: "closed",
		Team: "xiangan-housing", Category: "dust", District: "xiangan", Actor: "officer:s1"}, "M", 100)
	var wg sync.WaitGroup
	for _, s := range []*callbacks.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.DeliverOnce(e.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.ids) != 100 || rcv.attempts != 100 {
		t.Errorf("%d webhook-ids in %d attempts, want 100 in 100", len(rcv.ids), rcv.attempts)
	}
}

func TestWebhookIDIsStablePerEventAndTicket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b [2]string
		same bool
	}{
		{[2]string{"case_1.resolved.5", "T1"}, [2]string{"case_1.resolved.5", "T1"}, true},
		{[2]string{"case_1.resolved.5", "T1"}, [2]string{"case_1.resolved.5", "T2"}, false},
		{[2]string{"case_1.resolved.5", "T1"}, [2]string{"case_1.closed.6", "T1"}, false},
		{[2]string{"a.b", "c"}, [2]string{"a", "b.c"}, false},
	}
	for _, tt := range tests {
		x, y := callbacks.WebhookID(tt.a[0], tt.a[1]), callbacks.WebhookID(tt.b[0], tt.b[1])
		if (x == y) != tt.same {
			t.Errorf("WebhookID(%v) = %s, WebhookID(%v) = %s; same = %v, want %v", tt.a, x, tt.b, y, x == y, tt.same)
		}
	}
}

// Deliveries reuse their connections to the hotline: one per worker at
// most, not one per callback.
func TestDeliveriesKeepTheirConnections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	s := e.service(t, rcv.srv.URL, nil)
	e.storeCallbacks(t, s, event.CaseChanged{EventID: "case_k.assigned.1", CaseID: "case_k", Kind: "assigned", Status: "assigned",
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "router"}, "K", 300)
	for {
		n, err := s.DeliverOnce(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	rcv.mu.Lock()
	delivered := len(rcv.ids)
	rcv.mu.Unlock()
	workers := callbacks.DefaultConfig("", "").Workers
	if delivered != 300 {
		t.Fatalf("%d callbacks delivered, want 300", delivered)
	}
	if n := rcv.conns.Load(); n > int64(workers) {
		t.Errorf("300 callbacks opened %d connections to the hotline, want at most %d (one per worker)", n, workers)
	}
}

// A stored callback goes out when its transaction commits, not at the
// next poll.
func TestNewCallbacksGoOutAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	n := testenv.StartNATS(t)
	svc := e.service(t, rcv.srv.URL, n.JS, func(cfg *callbacks.Config) { cfg.Poll = time.Hour })
	e.run(t, svc)
	testenv.Eventually(t, 20*time.Second, "the deliverer listening", func() bool {
		var listening int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN "callbacks"'`).Scan(&listening)
		return err == nil && listening == 1
	})
	e.storeCallbacks(t, svc, event.CaseChanged{EventID: "case_w.assigned.2", CaseID: "case_w", Kind: "assigned", Status: "assigned",
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "router"}, "W", 2)
	testenv.Eventually(t, 10*time.Second, "both callbacks delivered within the hour's poll", func() bool {
		return len(rcv.statuses("W000")) == 1 && len(rcv.statuses("W001")) == 1
	})
}
