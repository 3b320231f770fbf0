package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// BenchmarkHandleComplaintClustered measures one complaint handled in a
// batch transaction of 256, as the consume loop runs it: about one in
// eight opens and assigns a case, the rest join one.
func BenchmarkHandleComplaintClustered(b *testing.B) {
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
		err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			for _, ev := range batch {
				sp, err := tx.Begin(e.ctx)
				if err != nil {
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
		if err != nil {
			b.Fatal(err)
		}
	}
}
