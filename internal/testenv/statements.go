package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Statements measures what PostgreSQL did in one database through
// pg_stat_statements, when the server preloads it (the private cluster
// does). Statements whose text matches one of the LIKE patterns given to
// StartStatements are left out, and so are its own queries.
type Statements struct {
	pool    *pgxpool.Pool
	dbid    uint32
	dealloc int64
	exclude []string
	ok      bool
}

// StartStatements forgets what pool's database did so far (the set-up's
// inserts and migrations are not the measured work). Without
// pg_stat_statements it logs why, and Report reports nothing.
func StartStatements(tb testing.TB, pool *pgxpool.Pool, exclude ...string) *Statements {
	tb.Helper()
	ctx := context.Background()
	s := &Statements{pool: pool, exclude: append([]string{"%pg_stat_statements%"}, exclude...)}
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		tb.Logf("no pg_stat_statements: %v", err)
		return s
	}
	if err := pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&s.dbid); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, s.dbid); err != nil {
		tb.Logf("reset pg_stat_statements: %v", err)
		return s
	}
	if err := pool.QueryRow(ctx, `SELECT dealloc FROM pg_stat_statements_info`).Scan(&s.dealloc); err != nil {
		tb.Logf("pg_stat_statements_info: %v", err)
		return s
	}
	s.ok = true
	return s
}

// Totals returns the statements executed since the start and their
// execution time in milliseconds; ok is false without pg_stat_statements.
func (s *Statements) Totals(tb testing.TB) (calls int64, ms float64, ok bool) {
	tb.Helper()
	if !s.ok {
		return 0, 0, false
	}
	var dealloc int64
	if err := s.pool.QueryRow(context.Background(), `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8,
			(SELECT dealloc FROM pg_stat_statements_info)
		FROM pg_stat_statements WHERE dbid = $1 AND NOT query LIKE ANY ($2)`, s.dbid, s.exclude).Scan(&calls, &ms, &dealloc); err != nil {
		tb.Fatal(err)
	}
	if dealloc != s.dealloc {
		tb.Logf("pg_stat_statements evicted entries during the run: the figures are lower bounds")
	}
	return calls, ms, true
}

// Report adds statements and PostgreSQL milliseconds per unit ("complaint",
// "event", ...) to the benchmark's figures and logs the costliest
// statements.
func (s *Statements) Report(b *testing.B, units int, unit string) {
	b.Helper()
	calls, ms, ok := s.Totals(b)
	if !ok || units == 0 {
		return
	}
	b.ReportMetric(float64(calls)/float64(units), "stmts/"+unit)
	b.ReportMetric(ms/float64(units), "pg-ms/"+unit)
	rows, err := s.pool.Query(context.Background(), `SELECT calls, rows, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_statements WHERE dbid = $1 AND NOT query LIKE ANY ($2) ORDER BY total_exec_time DESC LIMIT 8`, s.dbid, s.exclude)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, r int64
		var t float64
		var q string
		if err := rows.Scan(&n, &r, &t, &q); err != nil {
			b.Fatal(err)
		}
		b.Logf("%7d calls %8d rows %9.1f ms  %s", n, r, t, q)
	}
}
