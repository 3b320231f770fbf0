package geocoder_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// statements measures what PostgreSQL did for a benchmark's database
// through pg_stat_statements, when the server preloads it.
type statements struct {
	pool *pgxpool.Pool
	dbid uint32
	ok   bool
}

// startStatements forgets the statements of the benchmark's database so
// far: the set-up's inserts and migrations are not the service's work.
func startStatements(b *testing.B, pool *pgxpool.Pool) statements {
	b.Helper()
	ctx := context.Background()
	s := statements{pool: pool}
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.Logf("no pg_stat_statements: %v", err)
		return s
	}
	if err := pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&s.dbid); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, s.dbid); err != nil {
		b.Logf("reset pg_stat_statements: %v", err)
		return s
	}
	s.ok = true
	return s
}

// report adds the statements and PostgreSQL execution time per complaint
// to the benchmark's figures, and logs the costliest statements. The
// benchmark's own polling of processed_events is left out.
func (s statements) report(b *testing.B, complaints int) {
	b.Helper()
	if !s.ok || complaints == 0 {
		return
	}
	ctx := context.Background()
	var calls int64
	var ms float64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8
		FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SELECT count(*) FROM processed_events%'`, s.dbid).Scan(&calls, &ms); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(calls)/float64(complaints), "stmts/complaint")
	b.ReportMetric(ms/float64(complaints), "pg-ms/complaint")
	rows, err := s.pool.Query(ctx, `SELECT calls, rows, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SELECT count(*) FROM processed_events%' ORDER BY total_exec_time DESC LIMIT 8`, s.dbid)
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
