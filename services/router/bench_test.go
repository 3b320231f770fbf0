package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// BenchmarkHandleComplaintClustered measures one complaint handled in a
// batch transaction of 256, as the consume loop runs it: about one in
// eight opens and assigns a case, the rest join one. "batch" is the
// loop's common path, one idempotency statement for the batch and the
// handlers in one transaction; "savepoint" is its path after a handler
// failed, a savepoint and an idempotency row per message.
func BenchmarkHandleComplaintClustered(b *testing.B) {
	for _, mode := range []string{"batch", "savepoint"} {
		b.Run(mode, func(b *testing.B) {
			e := setupB(b)
			at := time.Date(2024, 3, 5, 21, 0, 0, 0, shanghai)
			evs := make([]event.ComplaintClustered, b.N)
			rows := make([][]any, b.N)
			for i := range evs {
				ticket := fmt.Sprintf("BN%07d", i)
				evs[i] = clustered(ticket, at.Add(time.Duration(i)*time.Second), float64(i%64)*1000, float64(i%8)*5)
				rows[i] = []any{evs[i].ComplaintID, ticket, evs[i].ReceivedAt, "施工噪声"}
			}
			if _, err := e.pool.CopyFrom(e.ctx, pgx.Identifier{"complaints"}, []string{"id", "ticket_id", "received_at", "description"}, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
			stats := startStatements(b, e)
			b.ResetTimer()
			for start := 0; start < len(evs); start += 256 {
				batch := evs[start:min(start+256, len(evs))]
				var err error
				if mode == "batch" {
					err = pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
						ids := make([]string, len(batch))
						for i, ev := range batch {
							ids[i] = ev.ID()
						}
						if _, err := tx.Exec(e.ctx, `INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, router.DurableClustered, ids); err != nil {
							return err
						}
						for _, ev := range batch {
							if err := e.svc.HandleComplaintClustered(e.ctx, tx, ev, natsx.Meta{}); err != nil {
								return err
							}
						}
						return nil
					})
				} else {
					err = pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
						for _, ev := range batch {
							sp, err := tx.Begin(e.ctx)
							if err != nil {
								return err
							}
							if _, err := sp.Exec(e.ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, router.DurableClustered, ev.ID()); err != nil {
								return err
							}
							if err := e.svc.HandleComplaintClustered(e.ctx, sp, ev, natsx.Meta{}); err != nil {
								return err
							}
							if err := sp.Commit(e.ctx); err != nil {
								return err
							}
						}
						return nil
					})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			stats.report(b, b.N)
			var cases int
			if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM cases`).Scan(&cases); err != nil {
				b.Fatal(err)
			}
			if want := min(b.N, 64); cases != want {
				b.Fatalf("%d cases for %d places", cases, want)
			}
		})
	}
}

// statements measures what PostgreSQL did for the benchmark's database
// through pg_stat_statements, when the server preloads it.
type statements struct {
	e    *env
	dbid uint32
	ok   bool
}

// startStatements forgets the statements of the benchmark's database so
// far: the set-up's inserts and migrations are not the router's work.
func startStatements(b *testing.B, e *env) statements {
	b.Helper()
	s := statements{e: e}
	if _, err := e.pool.Exec(e.ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.Logf("no pg_stat_statements: %v", err)
		return s
	}
	if err := e.pool.QueryRow(e.ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&s.dbid); err != nil {
		b.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, s.dbid); err != nil {
		b.Logf("reset pg_stat_statements: %v", err)
		return s
	}
	s.ok = true
	return s
}

// report adds the statements and PostgreSQL execution time per complaint
// to the benchmark's figures, and logs the costliest statements.
func (s statements) report(b *testing.B, complaints int) {
	b.Helper()
	if !s.ok {
		return
	}
	var calls int64
	var ms float64
	if err := s.e.pool.QueryRow(s.e.ctx, `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8
		FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%'`, s.dbid).Scan(&calls, &ms); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(calls)/float64(complaints), "stmts/complaint")
	b.ReportMetric(ms/float64(complaints), "pg-ms/complaint")
	rows, err := s.e.pool.Query(s.e.ctx, `SELECT calls, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 8`, s.dbid)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var t float64
		var q string
		if err := rows.Scan(&n, &t, &q); err != nil {
			b.Fatal(err)
		}
		b.Logf("%7d calls %9.1f ms  %s", n, t, q)
	}
}
