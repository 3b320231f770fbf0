package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/pgstats"
)

// startStatements starts counting the run's statements, with the bench's
// own counting queries (marked /* pipebench */) left out; nil when the
// server has no pg_stat_statements (the private cluster preloads it).
func startStatements(ctx context.Context, pool *pgxpool.Pool) *pgstats.Measure {
	m, err := pgstats.Start(ctx, pool, "%/* pipebench */%")
	if err != nil {
		return nil
	}
	return m
}

// logStatements reports the execution time per complaint of all the
// run's statements and of the costliest ones.
func logStatements(ctx context.Context, m *pgstats.Measure, complaints int, progress func(string, ...any)) {
	if m == nil || complaints == 0 {
		return
	}
	calls, ms, _, err := m.Totals(ctx)
	if err != nil {
		progress("%v", err)
		return
	}
	progress("PostgreSQL: %.3f statements and %.1f µs of execution per complaint; the costliest:", float64(calls)/float64(complaints), ms*1000/float64(complaints))
	top, err := m.Top(ctx, 12)
	if err != nil {
		progress("%v", err)
		return
	}
	for _, s := range top {
		progress("  %6.1f µs/complaint %8d calls  %s", s.Ms*1000/float64(complaints), s.Calls, pgstats.Short(s.Query, 100))
	}
}
