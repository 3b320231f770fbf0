package intake

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
)

var commitSize = promauto.NewHistogram(prometheus.HistogramOpts{
	Name:    "nuisance_intake_commit_size",
	Help:    "Work orders per intake group commit.",
	Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
})

// commitLoop gathers concurrent submissions into shared transactions. On
// shutdown it drains what is queued before returning.
func (s *Service) commitLoop(ctx context.Context) {
	batch := make([]*submission, 0, s.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case sub := <-s.subs:
			batch = append(batch, sub)
		case <-ctx.Done():
			for {
				select {
				case sub := <-s.subs:
					s.commit(context.Background(), []*submission{sub})
				default:
					return
				}
			}
		}
		timer := time.NewTimer(s.cfg.MaxWait)
	gather:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case sub := <-s.subs:
				batch = append(batch, sub)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.commit(context.WithoutCancel(ctx), batch)
	}
}

const insertSQL = `WITH ins AS (
	INSERT INTO complaints (id, ticket_id, webhook_id, received_at, description, category, subcategory,
		hotline_category, address, loc_lon, loc_lat, loc_crs, caller_name, caller_phone, channel)
	VALUES ($1, $2, NULLIF($3, ''), $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''),
		$10, $11, $12, NULLIF($13, ''), NULLIF($14, ''), NULLIF($15, ''))
	ON CONFLICT DO NOTHING
	RETURNING id
), ob AS (
	INSERT INTO outbox (event_id, subject, payload)
	SELECT id || '.received', 'complaint.received', $16::jsonb FROM ins
)
SELECT count(*) FROM ins`

// commit stores a batch in one transaction and answers every submission.
func (s *Service) commit(ctx context.Context, batch []*submission) {
	commitSize.Observe(float64(len(batch)))
	results := make([]result, len(batch))
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, sub := range batch {
			c := sub.c
			var lon, lat *float64
			var crs *string
			if c.Location != nil {
				lon, lat = &c.Location.Lon, &c.Location.Lat
				v := c.Location.CRS
				if v == "" {
					v = "gcj02"
				}
				crs = &v
			}
			var name, phone string
			if c.Caller != nil {
				name, phone = c.Caller.Name, c.Caller.Phone
			}
			b.Queue(insertSQL, sub.id, c.TicketID, sub.webhookID, c.ReceivedAt, c.Description, c.Category, c.Subcategory,
				c.HotlineCategory, c.Address, lon, lat, crs, name, phone, c.Channel, sub.payload)
		}
		br := tx.SendBatch(ctx, b)
		var conflicts []int
		for i := range batch {
			var n int
			if err := br.QueryRow().Scan(&n); err != nil {
				br.Close()
				return err
			}
			if n == 1 {
				results[i] = result{ans: Answer{ComplaintID: batch[i].id, TicketID: batch[i].c.TicketID, Status: "accepted"}, status: http.StatusAccepted}
			} else {
				conflicts = append(conflicts, i)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		// A conflict is a ticket seen before (answer: duplicate) or a
		// webhook-id seen before (answer: the original answer).
		for _, i := range conflicts {
			sub := batch[i]
			var id, ticket string
			var wid *string
			err := tx.QueryRow(ctx, `SELECT id, ticket_id, webhook_id FROM complaints
				WHERE ticket_id = $1 OR ($2 <> '' AND webhook_id = $2)
				ORDER BY (webhook_id IS NOT DISTINCT FROM NULLIF($2, '')) DESC LIMIT 1`, sub.c.TicketID, sub.webhookID).Scan(&id, &ticket, &wid)
			if err != nil {
				return err
			}
			if sub.webhookID != "" && wid != nil && *wid == sub.webhookID {
				results[i] = result{ans: Answer{ComplaintID: id, TicketID: ticket, Status: "accepted"}, status: http.StatusAccepted}
			} else {
				results[i] = result{ans: Answer{ComplaintID: id, TicketID: ticket, Status: "duplicate"}, status: http.StatusOK}
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("store complaints", zap.Int("batch", len(batch)), zap.Error(err))
		if len(batch) > 1 && !errors.Is(err, context.DeadlineExceeded) {
			// One bad row must not fail its neighbours: retry one by one.
			for _, sub := range batch {
				s.commit(ctx, []*submission{sub})
			}
			return
		}
		for _, sub := range batch {
			sub.done <- result{err: err}
		}
		return
	}
	for i, sub := range batch {
		sub.done <- results[i]
	}
}
