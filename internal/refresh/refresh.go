// Package refresh makes a gauge's failed refresh visible. The gauges a
// process reads from PostgreSQL or JetStream on a timer (callbacks
// waiting, a consumer's backlog, the triage list, the outbox) keep their
// last value when the read behind them fails, and the alerts on them go
// on seeing that value: each failure is counted in
// nuisance_gauge_refresh_failures_total{gauge}, which NuisanceGaugeStale
// watches, and logged as any failure that repeats (logging.Throttle): at
// the first of a streak, then at most once every 30 s with the counts,
// and at its end.
package refresh

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

var failures = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_gauge_refresh_failures_total",
	Help: "Failed refreshes of a gauge read from PostgreSQL or JetStream on a timer, by gauge; while they fail the gauge keeps its last value.",
}, []string{"gauge"})

// Failed is the message of a failed refresh's line; its streak's end is
// logged as Failed + ": recovered".
const Failed = "gauge not refreshed"

// Tracker follows the refreshes of one gauge (of one of its readers: a
// consumer's backlog has one per consumer).
type Tracker struct {
	gauge string
	warn  *logging.Throttle
}

// Option sets up a Tracker.
type Option func(*Tracker)

// Clock makes the Tracker read the time from now (a test's clock, moved
// by hand) instead of time.Now.
func Clock(now func() time.Time) Option {
	return func(t *Tracker) { t.warn.SetClock(now) }
}

// New returns the tracker of gauge (its metric name), logging to log
// (nil: nowhere), each line with the gauge's name. The gauge's failure
// count is exported from now, at 0, so that the first failure is an
// increase Prometheus sees.
func New(gauge string, log *zap.Logger, opts ...Option) *Tracker {
	if log == nil {
		log = zap.NewNop()
	}
	failures.WithLabelValues(gauge)
	t := &Tracker{gauge: gauge, warn: logging.NewThrottle(log.With(zap.String("gauge", gauge)), logging.ThrottleEvery)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Stop is called when the gauge's reader ends: the failures not logged
// yet are written (logging.Throttle's Stop).
func (t *Tracker) Stop() { t.warn.Stop() }

// Done records one refresh: err is nil when the gauge was set. A failure
// is counted every time and logged as a warning, keyed by the gauge, by
// the rule of logging.Throttle: the first of a streak, then at most one
// line every 30 s with the failures not logged (suppressed), the
// streak's (failures) and its start (failing_since); its end is one info
// line, "gauge not refreshed: recovered". An error once ctx has ended
// (the process stopping) is neither counted nor logged.
func (t *Tracker) Done(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	if err == nil {
		t.warn.OK(t.gauge)
		return
	}
	failures.WithLabelValues(t.gauge).Inc()
	t.warn.Fail(zap.WarnLevel, t.gauge, Failed, logging.Error(err))
}
