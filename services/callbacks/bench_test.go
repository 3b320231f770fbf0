package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// benchQueries matches the benchmarks' own bookkeeping queries, which
// the statement figures leave out.
const benchQueries = "%/* bench */%"

// BenchmarkDeliver delivers b.N callbacks, two per work order, to a local
// receiver that accepts them all, from a table that already holds 20,000
// delivered ones. Run it with -benchtime=5000x for the figures of a
// realistic claim.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	if _, err := pool.Exec(ctx, `/* bench */ INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, at, attempts, delivered_at)
		SELECT 'old_' || i, 'ev_' || i, 'OLD' || (i / 3), 'case_old' || (i / 3), 'closed', 'siming-eco', now() - interval '1 day', 1, now() - interval '1 hour'
		FROM generate_series(1, 20000) AS i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `/* bench */ INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, at)
		SELECT 'new_' || i, 'ev_new_' || i, 'NEW' || (i / 2), 'case_new' || (i / 2),
			CASE WHEN i % 2 = 0 THEN 'assigned' ELSE 'resolved' END, 'siming-eco', now() - interval '1 minute' + i * interval '1 ms'
		FROM generate_series(0, $1 - 1) AS i`, b.N); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `/* bench */ ANALYZE callbacks`); err != nil {
		b.Fatal(err)
	}
	cfg := callbacks.DefaultConfig(srv.URL, secret)
	svc, err := callbacks.New(cfg, pool, nil, testenv.Log(b))
	if err != nil {
		b.Fatal(err)
	}
	st := testenv.StartStatements(b, pool, benchQueries)
	b.ResetTimer()
	for {
		n, err := svc.DeliverOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	b.StopTimer()
	st.Report(b, b.N, "callback")
	var undelivered int
	if err := pool.QueryRow(ctx, `/* bench */ SELECT count(*) FROM callbacks WHERE delivered_at IS NULL`).Scan(&undelivered); err != nil {
		b.Fatal(err)
	}
	if undelivered != 0 {
		b.Fatalf("%d callbacks left undelivered", undelivered)
	}
}

// BenchmarkConsumeCaseChanged consumes b.N case events from JetStream
// through the service's consumer: per case an assignment of its first
// work order, a merge of a second, its resolution and its closure.
func BenchmarkConsumeCaseChanged(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	n := testenv.StartNATS(b)
	at := time.Now().Add(-time.Hour)
	evs := make([]event.CaseChanged, 0, b.N)
	for i := range b.N {
		c, step := i/4, i%4
		caseID := fmt.Sprintf("case_b%06d", c)
		first, second := fmt.Sprintf("B%06da", c), fmt.Sprintf("B%06db", c)
		ev := event.CaseChanged{CaseID: caseID, Team: "siming-eco", Category: "noise", District: "siming",
			Actor: "service:router", At: at.Add(time.Duration(i) * time.Millisecond)}
		switch step {
		case 0:
			ev.Kind, ev.Status, ev.Tickets = caseflow.KindAssigned, caseflow.StatusAssigned, []string{first}
		case 1:
			ev.Kind, ev.Status, ev.Tickets = caseflow.KindMerged, caseflow.StatusAssigned, []string{first, second}
		case 2:
			ev.Kind, ev.Status, ev.Tickets = caseflow.KindResolved, caseflow.StatusResolved, []string{first, second}
		case 3:
			ev.Kind, ev.Status, ev.Tickets = caseflow.KindClosed, caseflow.StatusClosed, []string{first, second}
		}
		ev.EventID = fmt.Sprintf("%s.%s.%d", caseID, ev.Kind, step+1)
		evs = append(evs, ev)
	}
	bear(b, ctx, pool, evs...)
	for _, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.JS.Publish(ctx, caseflow.Subject(ev.Kind, ev.Team), data); err != nil {
			b.Fatal(err)
		}
	}
	cfg := callbacks.DefaultConfig("", "")
	svc, err := callbacks.New(cfg, pool, n.JS, testenv.Log(b))
	if err != nil {
		b.Fatal(err)
	}
	st := testenv.StartStatements(b, pool, benchQueries)
	b.ResetTimer()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	for {
		var processed int
		if err := pool.QueryRow(ctx, `/* bench */ SELECT count(*) FROM processed_events WHERE consumer = $1`, callbacks.Durable).Scan(&processed); err != nil {
			b.Fatal(err)
		}
		if processed == b.N {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	st.Report(b, b.N, "event")
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	var stored int
	if err := pool.QueryRow(ctx, `/* bench */ SELECT count(*) FROM callbacks`).Scan(&stored); err != nil {
		b.Fatal(err)
	}
	if want := callbacksFor(b.N); stored != want {
		b.Fatalf("%d callbacks stored, want %d", stored, want)
	}
}

// callbacksFor is how many callbacks the first n events of
// BenchmarkConsumeCaseChanged produce: per case 1, 1, 2 and 2.
func callbacksFor(n int) int {
	per := []int{1, 1, 2, 2}
	total := 0
	for i := range n {
		total += per[i%4]
	}
	return total
}
