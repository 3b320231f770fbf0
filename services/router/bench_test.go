package router_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// BenchmarkHandleComplaintClustered measures one complaint handled in a
// batch transaction of 256, as the consume loop runs it: the complaints
// are about 64 places, so the first of each place opens and assigns a
// case and the rest join one. "batch" is the loop's common path, one
// idempotency statement for the batch and the batch handler called once;
// "savepoint" is its path after a handler failed, a savepoint, an
// idempotency row and a handler call per message.
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
			pool := stats.pool
			b.ResetTimer()
			for start := 0; start < len(evs); start += 256 {
				batch := evs[start:min(start+256, len(evs))]
				var err error
				if mode == "batch" {
					err = pgx.BeginFunc(e.ctx, pool, func(tx pgx.Tx) error {
						ids := make([]string, len(batch))
						for i, ev := range batch {
							ids[i] = ev.ID()
						}
						if _, err := tx.Exec(e.ctx, `INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, router.DurableClustered, ids); err != nil {
							return err
						}
						return e.svc.HandleComplaintsClustered(e.ctx, tx, batch, make([]natsx.Meta, len(batch)))
					})
				} else {
					err = pgx.BeginFunc(e.ctx, pool, func(tx pgx.Tx) error {
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

// statements measures what PostgreSQL did for the benchmark: the
// statements its pool sent, counted as they are sent (the test cluster is
// shared, and pg_stat_statements may evict entries under load), and their
// execution time from pg_stat_statements.
type statements struct {
	pool *pgxpool.Pool
	sent *atomic.Int64
	pg   *testenv.Statements
}

// counter counts every statement a connection sends, batched or not.
type counter struct{ n *atomic.Int64 }

func (c counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (c counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) { c.n.Add(1) }
func (c counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// startStatements opens the pool the benchmark is to use, and forgets
// the statements of its database so far: the set-up's inserts and
// migrations are not the router's work.
func startStatements(b *testing.B, e *env) statements {
	b.Helper()
	s := statements{sent: new(atomic.Int64)}
	cfg := e.pool.Config().Copy()
	cfg.ConnConfig.Tracer = counter{s.sent}
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s.pool = pool
	s.pg = testenv.StartStatements(b, e.pool)
	return s
}

// report adds the statements sent and PostgreSQL's execution time per
// complaint to the benchmark's figures.
func (s statements) report(b *testing.B, complaints int) {
	b.Helper()
	b.ReportMetric(float64(s.sent.Load())/float64(complaints), "stmts/complaint")
	if _, ms, ok := s.pg.Totals(b); ok {
		b.ReportMetric(ms/float64(complaints), "pg-ms/complaint")
	}
}
