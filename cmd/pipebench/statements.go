package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// statements reads what the pipeline's statements cost PostgreSQL from
// pg_stat_statements, which the private cluster preloads: the run's
// database only, from the start of the replay. Without the extension it
// does nothing.
type statements struct {
	dbid uint32
	ok   bool
}

func startStatements(ctx context.Context, pool *pgxpool.Pool) statements {
	var s statements
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return s
	}
	if err := pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&s.dbid); err != nil {
		return s
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, $1, 0)`, s.dbid); err != nil {
		return s
	}
	s.ok = true
	return s
}

// log reports the execution time per complaint of all statements and of
// the costliest ones, with the bench's own counting queries left out.
func (s statements) log(ctx context.Context, pool *pgxpool.Pool, complaints int, progress func(string, ...any)) {
	if !s.ok || complaints == 0 {
		return
	}
	const mine = `query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%/* pipebench */%'`
	var calls int64
	var ms float64
	if err := pool.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(total_exec_time), 0)::float8
		FROM pg_stat_statements WHERE dbid = $1 AND `+mine, s.dbid).Scan(&calls, &ms); err != nil {
		progress("pg_stat_statements: %v", err)
		return
	}
	progress("PostgreSQL: %.3f statements and %.1f µs of execution per complaint; the costliest:", float64(calls)/float64(complaints), ms*1000/float64(complaints))
	rows, err := pool.Query(ctx, `SELECT calls, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_statements WHERE dbid = $1 AND `+mine+` ORDER BY total_exec_time DESC LIMIT 12`, s.dbid)
	if err != nil {
		progress("pg_stat_statements: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var t float64
		var q string
		if err := rows.Scan(&n, &t, &q); err != nil {
			return
		}
		progress("  %6.1f µs/complaint %8d calls  %s", t*1000/float64(complaints), n, q)
	}
}
