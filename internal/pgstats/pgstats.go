// Package pgstats measures what PostgreSQL's statements cost in one
// database, from pg_stat_statements: the benchmarks, the load generator
// and the pipeline bench read it the same way.
package pgstats

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrUnavailable is returned by Start when the server cannot count
// statements (pg_stat_statements not preloaded, or not installable).
var ErrUnavailable = errors.New("pg_stat_statements is not available")

// Measure counts the statements of pool's database from its Start on.
// Statements whose text matches one of the exclude LIKE patterns are left
// out, and so are its own queries.
type Measure struct {
	pool    *pgxpool.Pool
	dbid    uint32
	dealloc int64
	exclude []string
}

// Statement is one normalised statement and what it cost.
type Statement struct {
	Calls, Rows int64
	Ms          float64 // total execution time
	Query       string  // whitespace collapsed
}

// Start forgets what the database did so far and starts counting. The
// error wraps ErrUnavailable when the server has no pg_stat_statements.
func Start(ctx context.Context, pool *pgxpool.Pool, exclude ...string) (*Measure, error) {
	m := &Measure{pool: pool, exclude: append([]string{"%pg_stat_statements%"}, exclude...)}
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&m.dbid); err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, m.dbid); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := pool.QueryRow(ctx, `SELECT dealloc FROM pg_stat_statements_info`).Scan(&m.dealloc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return m, nil
}

// Totals returns the statements executed since Start and their execution
// time in milliseconds; evicted says pg_stat_statements dropped entries
// meanwhile, so the figures are lower bounds.
func (m *Measure) Totals(ctx context.Context) (calls int64, ms float64, evicted bool, err error) {
	var dealloc int64
	err = m.pool.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8,
			(SELECT dealloc FROM pg_stat_statements_info)
		FROM pg_stat_statements WHERE dbid = $1 AND NOT query LIKE ANY ($2)`, m.dbid, m.exclude).Scan(&calls, &ms, &dealloc)
	if err != nil {
		return 0, 0, false, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return calls, ms, dealloc != m.dealloc, nil
}

// Top returns the n statements that took the most execution time since
// Start, costliest first.
func (m *Measure) Top(ctx context.Context, n int) ([]Statement, error) {
	rows, err := m.pool.Query(ctx, `SELECT calls, rows, total_exec_time, regexp_replace(query, '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = $1 AND NOT query LIKE ANY ($2) ORDER BY total_exec_time DESC LIMIT $3`, m.dbid, m.exclude, n)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Statement, error) {
		var s Statement
		err := r.Scan(&s.Calls, &s.Rows, &s.Ms, &s.Query)
		return s, err
	})
}

// Short is q cut to at most n bytes on a character boundary, marked when
// cut.
func Short(q string, n int) string {
	if len(q) <= n {
		return q
	}
	for n > 0 && q[n]&0xC0 == 0x80 {
		n--
	}
	return q[:n] + "…"
}
