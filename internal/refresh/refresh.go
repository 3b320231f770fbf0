// Package refresh makes a gauge's failed refresh visible. The gauges a
// process reads from PostgreSQL or JetStream on a timer (callbacks
// waiting, a consumer's backlog, the triage list, the outbox) keep their
// last value when the read behind them fails, and the alerts on them go
// on seeing that value: each failure is counted in
// nuisance_gauge_refresh_failures_total{gauge}, which NuisanceGaugeStale
// watches, and logged once per streak of failures.
package refresh

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
)

var failures = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_gauge_refresh_failures_total",
	Help: "Failed refreshes of a gauge read from PostgreSQL or JetStream on a timer, by gauge; while they fail the gauge keeps its last value.",
}, []string{"gauge"})

// Tracker follows the refreshes of one gauge (of one of its readers: a
// consumer's backlog has one per consumer).
type Tracker struct {
	gauge string
	log   *zap.Logger

	mu     sync.Mutex
	since  time.Time // the first failure of the streak; zero when none
	failed int
}

// New returns the tracker of gauge (its metric name), logging to log
// (nil: nowhere). The gauge's failure count is exported from now, at 0,
// so that the first failure is an increase Prometheus sees.
func New(gauge string, log *zap.Logger) *Tracker {
	if log == nil {
		log = zap.NewNop()
	}
	failures.WithLabelValues(gauge)
	return &Tracker{gauge: gauge, log: log}
}

// Done records one refresh: err is nil when the gauge was set. A failure
// is counted every time; the first of a streak is logged as a warning
// and the streak's end as info, not every tick in between. An error
// once ctx has ended (the process stopping) is neither.
func (t *Tracker) Done(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		if !t.since.IsZero() {
			t.log.Info("gauge refreshed again", zap.String("gauge", t.gauge), zap.Int("failed_refreshes", t.failed),
				zap.Duration("stale_for", time.Since(t.since).Round(time.Second)))
			t.since, t.failed = time.Time{}, 0
		}
		return
	}
	failures.WithLabelValues(t.gauge).Inc()
	t.failed++
	if t.since.IsZero() {
		t.since = time.Now()
		t.log.Warn("gauge not refreshed: it keeps its last value until a refresh succeeds (nuisance_gauge_refresh_failures_total)",
			zap.String("gauge", t.gauge), zap.Error(err))
	}
}
