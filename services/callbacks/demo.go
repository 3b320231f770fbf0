package callbacks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// DemoTicketPrefix numbers the work orders of the demo week (nuisance up
// --demo): simulated, never the hotline's. The simulator numbers them as
// the hotline does (12345-YYYYMMDD-NNNNNN), and the prefix keeps them
// apart: a real work order of that week replayed later (a backfill) is
// not taken for a duplicate of a simulated one, and the hotline never
// hears of them. Their callbacks are stored and wait, listed as pending,
// while no URL is set; once one is, they are discarded (by DemoDiscardedBy
// for DemoDiscardReason), never sent.
const DemoTicketPrefix = "DEMO-"

// IsDemoTicket tells whether ticket is a work order of the demo week.
func IsDemoTicket(ticket string) bool { return strings.HasPrefix(ticket, DemoTicketPrefix) }

// DemoDiscardedBy and DemoDiscardReason mark a callback of a demo work
// order discarded rather than sent, as nuisance callbacks dead -discarded
// lists it.
const (
	DemoDiscardedBy   = "demo"
	DemoDiscardReason = "demo work order, never told to a hotline"
)

// errDemo is the result of a demo work order's callback, which is never
// posted: record discards it.
var errDemo = errors.New("not sent: a demo work order's")

var demoDiscarded = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_callbacks_demo_discarded_total",
	Help: "Callbacks of demo work orders (DEMO-…) discarded instead of sent to the hotline: counted neither pending nor dead.",
})

// DiscardDemo discards the waiting callbacks of demo work orders, as the
// service does when it starts with a URL: each is kept, dead and
// discarded by DemoDiscardedBy for DemoDiscardReason, never attempted; it
// reports how many. A database that never held the demo week has none,
// and the statement reads only the waiting callbacks.
func DiscardDemo(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE callbacks SET dead_at = now(), discarded_at = now(), discarded_by = $2, discard_reason = $3
		WHERE delivered_at IS NULL AND dead_at IS NULL AND starts_with(ticket_id, $1)`, DemoTicketPrefix, DemoDiscardedBy, DemoDiscardReason)
	if err != nil {
		return 0, fmt.Errorf("discard the callbacks of demo work orders: %w", err)
	}
	demoDiscarded.Add(float64(tag.RowsAffected()))
	return tag.RowsAffected(), nil
}

// discardDemoAtStart discards the callbacks of demo work orders left
// waiting by a run without URL (nuisance up --demo), before any is
// claimed. When it fails, the deliverers discard each as they claim it.
func (s *Service) discardDemoAtStart(ctx context.Context) {
	n, err := DiscardDemo(ctx, s.pool)
	switch {
	case err != nil:
		s.log.Warn("callbacks of demo work orders not discarded at start: each is discarded as it is claimed, never sent", logging.Error(err))
	case n > 0:
		s.log.Warn("callbacks of demo work orders discarded: the hotline never hears of the demo week (nuisance callbacks dead -discarded)",
			zap.Int64("callbacks", n), zap.String("discarded_by", DemoDiscardedBy))
	}
}

// discardClaimedDemo records claimed callbacks of demo work orders as
// discarded, not attempted, under the lease they were claimed with
// (recordResults); it reports how many it wrote.
func (s *Service) discardClaimedDemo(ctx context.Context, ids []string, tries []int32, leases []time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE callbacks c SET dead_at = now(), discarded_at = now(), discarded_by = $4, discard_reason = $5,
			attempts = c.attempts - 1, last_error = NULL
		FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS r(id, attempts, leased_until)
		WHERE c.id = r.id AND (c.attempts, c.next_at) IS NOT DISTINCT FROM (r.attempts, r.leased_until)
		  AND num_nulls(c.delivered_at, c.dead_at) = 2`, ids, tries, leases, DemoDiscardedBy, DemoDiscardReason)
	if err != nil {
		return 0, fmt.Errorf("discard %d callbacks of demo work orders: %w", len(ids), err)
	}
	demoDiscarded.Add(float64(tag.RowsAffected()))
	return tag.RowsAffected(), nil
}
