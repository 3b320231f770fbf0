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
