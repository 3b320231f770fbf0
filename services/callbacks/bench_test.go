package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// pgCost is what PostgreSQL spent on the benchmark's database so far:
// statements executed and their execution time, from pg_stat_statements.
// The benchmark's own bookkeeping queries are left out.
type pgCost struct {
	calls  int64
	execMs float64
}

// statCost reads pgCost; ok is false when the server has no
// pg_stat_statements, and the benchmark then reports time only.
func statCost(ctx context.Context, pool *pgxpool.Pool) (c pgCost, ok bool) {
	err := pool.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%/* bench */%'`).Scan(&c.calls, &c.execMs)
	return c, err == nil
}

// enableStats installs pg_stat_statements in the benchmark's database.
func enableStats(b *testing.B, ctx context.Context, pool *pgxpool.Pool) bool {
	b.Helper()
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.Logf("no pg_stat_statements, reporting time only: %v", err)
		return false
	}
	if _, ok := statCost(ctx, pool); !ok {
		b.Logf("pg_stat_statements is not preloaded, reporting time only")
		return false
	}
	return true
}

// logTopStatements logs the costliest statements of the benchmark's
// database, to see where PostgreSQL's time goes.
func logTopStatements(b *testing.B, ctx context.Context, pool *pgxpool.Pool) {
	b.Helper()
	rows, err := pool.Query(ctx, `SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%/* bench */%' AND calls > 1
		ORDER BY total_exec_time DESC LIMIT 6`)
	if err != nil {
		b.Logf("top statements: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var calls, n int64
		var ms float64
		var q string
		if err := rows.Scan(&calls, &ms, &n, &q); err != nil {
			b.Logf("top statements: %v", err)
			return
		}
		b.Logf("%7d calls %9.1f ms %8d rows  %s", calls, ms, n, q)
	}
}

// reportCost reports statements and PostgreSQL execution time per unit
// between two readings.
func reportCost(b *testing.B, before, after pgCost, units int, unit string) {
	b.ReportMetric(float64(after.calls-before.calls)/float64(units), "stmts/"+unit)
	b.ReportMetric((after.execMs-before.execMs)*1000/float64(units), "pg-µs/"+unit)
}

// BenchmarkDeliver delivers b.N callbacks, two per work order, to a local
// receiver that accepts them all, from a table that already holds 20,000
// delivered ones. Run it with -benchtime=5000x for the figures of a
// realistic claim.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	stats := enableStats(b, ctx, pool)
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
	before, _ := statCost(ctx, pool)
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
	after, _ := statCost(ctx, pool)
	var undelivered int
	if err := pool.QueryRow(ctx, `/* bench */ SELECT count(*) FROM callbacks WHERE delivered_at IS NULL`).Scan(&undelivered); err != nil {
		b.Fatal(err)
	}
	if undelivered != 0 {
		b.Fatalf("%d callbacks left undelivered", undelivered)
	}
	if stats {
		logTopStatements(b, ctx, pool)
		reportCost(b, before, after, b.N, "callback")
	}
}

// BenchmarkConsumeCaseChanged consumes b.N case events from JetStream
// through the service's consumer: per case an assignment of its first
// work order, a merge of a second, its resolution and its closure.
func BenchmarkConsumeCaseChanged(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	stats := enableStats(b, ctx, pool)
	n := testenv.StartNATS(b)
	at := time.Now().Add(-time.Hour)
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
	before, _ := statCost(ctx, pool)
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
	after, _ := statCost(ctx, pool)
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
	if stats {
		logTopStatements(b, ctx, pool)
		reportCost(b, before, after, b.N, "event")
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
