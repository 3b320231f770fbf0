package officers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const abandonedMetric = "nuisance_officers_requests_abandoned_total"

// accepted tells whether the 签收 of case id was recorded, and checks it
// was recorded whole or not at all: the status, the assignment, the
// audit entry and the event for the outbox go together.
func (e *env) accepted(id string) bool {
	e.t.Helper()
	var status string
	var assignment, audit, events int
	if err := e.pool.QueryRow(context.Background(), `SELECT c.status,
			(SELECT count(*) FROM assignments a WHERE a.case_id = c.id AND a.status = 'active' AND a.accepted_at IS NOT NULL),
			(SELECT count(*) FROM case_audit u WHERE u.case_id = c.id AND u.action = 'accept'),
			(SELECT count(*) FROM outbox o WHERE o.payload->>'case_id' = c.id AND o.payload->>'kind' = 'accepted')
		FROM cases c WHERE c.id = $1`, id).Scan(&status, &assignment, &audit, &events); err != nil {
		e.t.Fatal(err)
	}
	got := fmt.Sprintf("status %s, assignment accepted %d, audit %d, events %d", status, assignment, audit, events)
	switch got {
	case "status accepted, assignment accepted 1, audit 1, events 1":
		return true
	case "status assigned, assignment accepted 0, audit 0, events 0":
		return false
	}
	e.t.Errorf("case %s is half accepted: %s", id, got)
	return false
}

// errorsLogged lists what the service logged at ERROR or above.
func (e *env) errorsLogged() []string {
	var out []string
	for _, l := range e.logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		out = append(out, fmt.Sprintf("%s %v", l.Message, l.ContextMap()))
	}
	return out
}

// A phone that gives up on an action mid-request (the console aborts
// after 15 s, a mobile network drops the connection) is no failure of
// the server: nothing is logged at ERROR, and the action is carried out
// whole or not at all.
func TestActionAbandonedByItsClient(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	// A server of its own, to know when the service is done with a request.
	mux := httpx.NewRecordingMux()
	e.svc.Routes(mux)
	var finished, inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		defer finished.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	accept := func(ctx context.Context, id string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/cases/"+id+"/accept", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.tokens[whoOwn])
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}

	t.Run("waiting for the case", func(t *testing.T) {
		id := e.newCase(ownTeam, complaint{})
		// A colleague's transaction holds the case: the 签收 waits for it.
		colleague, err := e.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer colleague.Rollback(ctx)
		if _, err := colleague.Exec(ctx, `SELECT 1 FROM cases WHERE id = $1 FOR UPDATE`, id); err != nil {
			t.Fatal(err)
		}
		before := finished.Load()
		const route = "POST /api/v1/cases/{id}/accept"
		counted, _ := testenv.Metric(t, abandonedMetric, "route", route)
		phone, giveUp := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- accept(phone, id) }()
		testenv.Eventually(t, 20*time.Second, "the 签收 waiting for the case's lock", func() bool {
			var n int
			err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF c%'
				AND query LIKE '%cases c WHERE c.id = $1%'`).Scan(&n)
			return err == nil && n > 0
		})
		giveUp()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("the phone gave up, yet its request ended with %v", err)
		}
		testenv.Eventually(t, 20*time.Second, "the service done with the request", func() bool { return finished.Load() > before })
		if err := colleague.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if e.accepted(id) {
			t.Error("a 签收 the phone gave up on before it could lock the case was recorded")
		}
		if now, _ := testenv.Metric(t, abandonedMetric, "route", route); now != counted+1 {
			t.Errorf("%s{route=%q} went from %v to %v, want one more", abandonedMetric, route, counted, now)
		}
		if got := e.errorsLogged(); len(got) > 0 {
			t.Errorf("a request its client gave up on is logged as an error: %q", got)
		}
	})

	// Given up at any moment, an action is carried out whole or not at
	// all, and never logged as an error.
	t.Run("at any moment", func(t *testing.T) {
		var done int
		for i := range 16 {
			id := e.newCase(ownTeam, complaint{})
			phone, giveUp := context.WithTimeout(ctx, time.Duration(i)*time.Millisecond)
			_ = accept(phone, id)
			giveUp()
			testenv.Eventually(t, 20*time.Second, "the service done with the request", func() bool { return inFlight.Load() == 0 })
			if e.accepted(id) {
				done++
			}
		}
		srv.Close() // waits for any request still on its way
		t.Logf("%d of 16 given up at 0 to 15 ms were carried out", done)
		if got := e.errorsLogged(); len(got) > 0 {
			t.Errorf("a request its client gave up on is logged as an error: %q", got)
		}
	})
}
