package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/pgstats"
)

// Statements measures what PostgreSQL did in one database through
// pg_stat_statements, when the server preloads it (the private cluster
// does). Statements whose text matches one of the LIKE patterns given to
// StartStatements are left out, and so are its own queries.
type Statements struct {
	m *pgstats.Measure // nil without pg_stat_statements
}

// StartStatements forgets what pool's database did so far (the set-up's
// inserts and migrations are not the measured work). Without
// pg_stat_statements it logs why, and Report reports nothing.
func StartStatements(tb testing.TB, pool *pgxpool.Pool, exclude ...string) *Statements {
	tb.Helper()
	m, err := pgstats.Start(context.Background(), pool, exclude...)
	if err != nil {
		tb.Logf("no statement counts: %v", err)
		return &Statements{}
	}
	return &Statements{m: m}
}

// Totals returns the statements executed since the start and their
// execution time in milliseconds; ok is false without pg_stat_statements.
func (s *Statements) Totals(tb testing.TB) (calls int64, ms float64, ok bool) {
	tb.Helper()
	if s.m == nil {
		return 0, 0, false
	}
	calls, ms, evicted, err := s.m.Totals(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if evicted {
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
	top, err := s.m.Top(context.Background(), 8)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range top {
		b.Logf("%7d calls %8d rows %9.1f ms  %s", st.Calls, st.Rows, st.Ms, pgstats.Short(st.Query, 90))
	}
}
