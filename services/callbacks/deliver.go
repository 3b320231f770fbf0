package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// Body is what the hotline receives for one work order
// (schemas/hotline.callback.v1.json).
type Body struct {
	TicketID string    `json:"ticket_id"`
	CaseID   string    `json:"case_id"`
	Status   string    `json:"status"`
	Team     *string   `json:"team"`
	Note     *string   `json:"note"`
	At       time.Time `json:"at"`
}

// Delivery is one callback as stored, for operators.
type Delivery struct {
	ID          string     `json:"id"`
	Body        Body       `json:"body"`
	Attempts    int        `json:"attempts"`
	NextAt      time.Time  `json:"next_at"`
	RetrySince  time.Time  `json:"retry_since"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	DeadAt      *time.Time `json:"dead_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// DeliverOnce claims the due deliveries (at most Claim), POSTs them and
// records each result; it reports how many it claimed. A work order's
// callbacks go out in order: one waits while an earlier one for the same
// ticket is still undelivered (and not dead). With no URL it does nothing.
func (s *Service) DeliverOnce(ctx context.Context) (int, error) {
	if s.cfg.URL == "" {
		return 0, nil
	}
	now := s.cfg.Now().UTC()
	rows, err := s.pool.Query(ctx, `UPDATE callbacks c SET next_at = $2, attempts = c.attempts + 1
		WHERE c.id IN (
			SELECT x.id FROM callbacks x
			WHERE x.delivered_at IS NULL AND x.dead_at IS NULL AND x.next_at <= $1
			  AND NOT EXISTS (SELECT 1 FROM callbacks o WHERE o.ticket_id = x.ticket_id
			      AND o.delivered_at IS NULL AND o.dead_at IS NULL AND (o.at, o.id) < (x.at, x.id))
			ORDER BY x.next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING c.id, c.ticket_id, c.case_id, c.status, c.team, c.note, c.at, c.attempts, c.retry_since`,
		now, now.Add(s.cfg.Lease), s.cfg.Claim)
	if err != nil {
		return 0, fmt.Errorf("claim callbacks: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.Body.TicketID, &d.Body.CaseID, &d.Body.Status, &d.Body.Team, &d.Body.Note, &d.Body.At, &d.Attempts, &d.RetrySince)
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("claim callbacks: %w", err)
	}
	work := make(chan Delivery)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, len(claimed)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				s.deliver(ctx, d)
			}
		}()
	}
	for _, d := range claimed {
		work <- d
	}
	close(work)
	wg.Wait()
	return len(claimed), nil
}

// deliver POSTs one callback and records the outcome. The outcome is
// recorded even when ctx ends, so that a shutdown never leaves a sent
// callback looking unsent for longer than its lease.
func (s *Service) deliver(ctx context.Context, d Delivery) {
	d.Body.At = d.Body.At.UTC()
	sendErr := s.post(ctx, d)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := s.cfg.Now().UTC()
	if sendErr == nil {
		attempts.WithLabelValues("delivered").Inc()
		if _, err := s.pool.Exec(rctx, `UPDATE callbacks SET delivered_at = $2, last_error = NULL WHERE id = $1`, d.ID, now); err != nil {
			s.log.Warn("record delivered callback", zap.String("callback_id", d.ID), zap.Error(err))
		}
		return
	}
	msg := truncate(sendErr.Error(), 300)
	if now.Sub(d.RetrySince) >= s.cfg.RetryFor {
		attempts.WithLabelValues("dead").Inc()
		s.log.Warn("callback dead after retrying", zap.String("callback_id", d.ID), zap.Int("attempts", d.Attempts), zap.String("error", msg))
		if _, err := s.pool.Exec(rctx, `UPDATE callbacks SET dead_at = $2, last_error = $3 WHERE id = $1`, d.ID, now, msg); err != nil {
			s.log.Warn("record dead callback", zap.String("callback_id", d.ID), zap.Error(err))
		}
		return
	}
	attempts.WithLabelValues("failed").Inc()
	next := now.Add(s.backoff(d.Attempts))
	if _, err := s.pool.Exec(rctx, `UPDATE callbacks SET next_at = $2, last_error = $3 WHERE id = $1`, d.ID, next, msg); err != nil {
		s.log.Warn("record failed callback", zap.String("callback_id", d.ID), zap.Error(err))
	}
}

// backoff is the delay after the n-th failed attempt: BaseBackoff doubled
// n-1 times, capped at MaxBackoff, with up to a fifth of jitter so that
// deliveries that failed together do not retry together.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.BaseBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

func (s *Service) post(ctx context.Context, d Delivery) error {
	body, err := json.Marshal(d.Body)
	if err != nil {
		return fmt.Errorf("encode callback: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("callback request: %w", err)
	}
	ts := s.cfg.Now()
	sig, err := s.hook.Sign(d.ID, ts, body)
	if err != nil {
		return fmt.Errorf("sign callback: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("post callback: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("hotline answered %s", resp.Status)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RetryDead gives dead deliveries (those of ids, or all when ids is empty)
// a new 24-hour retry window starting now; it reports how many it revived.
// The operator's CLI calls it once the hotline is reachable again.
func RetryDead(ctx context.Context, pool *pgxpool.Pool, ids []string) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE callbacks SET dead_at = NULL, attempts = 0, next_at = now(), retry_since = now()
		WHERE dead_at IS NOT NULL AND delivered_at IS NULL AND (COALESCE(cardinality($1::text[]), 0) = 0 OR id = ANY($1))`, ids)
	if err != nil {
		return 0, fmt.Errorf("retry dead callbacks: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Dead lists dead deliveries, newest first, at most limit, for operators.
func Dead(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Delivery, error) {
	return list(ctx, pool, `dead_at IS NOT NULL AND delivered_at IS NULL ORDER BY dead_at DESC`, limit)
}

// Pending lists deliveries not yet delivered nor dead, oldest first, at
// most limit: what waits for the hotline, e.g. while no URL is set.
func Pending(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Delivery, error) {
	return list(ctx, pool, `dead_at IS NULL AND delivered_at IS NULL ORDER BY at, id`, limit)
}

func list(ctx context.Context, pool *pgxpool.Pool, where string, limit int) ([]Delivery, error) {
	rows, err := pool.Query(ctx, `SELECT id, ticket_id, case_id, status, team, note, at, attempts, next_at, retry_since,
			delivered_at, dead_at, COALESCE(last_error, '')
		FROM callbacks WHERE `+where+` LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.Body.TicketID, &d.Body.CaseID, &d.Body.Status, &d.Body.Team, &d.Body.Note, &d.Body.At,
			&d.Attempts, &d.NextAt, &d.RetrySince, &d.DeliveredAt, &d.DeadAt, &d.LastError)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	return out, nil
}
