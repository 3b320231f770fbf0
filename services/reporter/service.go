// Package reporter writes the weekly hotspot report the bureau's
// leadership reads on Monday morning. It generates each ISO week's report
// once, shortly after the week ends in Asia/Shanghai, stores it in
// weekly_reports in every format, announces it as report.weekly.generated
// through the outbox, and serves the stored reports to supervisors and
// admins. Generate and Render are the same code for the command line.
package reporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/report"
)

// Authorizer tells who sent a request: the role ("officer", "supervisor"
// or "admin") of the bearer token's holder. It returns an error of kind
// fault.Unauthorized for a missing, unknown or disabled token; any other
// error is answered by its fault kind. The officers' token store provides
// it, so this service never sees token hashes.
type Authorizer func(r *http.Request) (role string, err error)

// Config tunes the reporter; DefaultConfig gives production values.
type Config struct {
	// Authorize checks the bearer token of every report request.
	Authorize Authorizer
	// Backfill is how many finished weeks, the last one included, a start
	// looks back for reports missed while the system was down.
	Backfill int
	// After is how long after Monday 00:00 Asia/Shanghai last week's
	// report is generated, so complaints still in the pipeline at
	// midnight are counted.
	After time.Duration
	// Retry is the wait before trying again after a failed generation.
	Retry time.Duration
	// Now is the clock; tests set it.
	Now func() time.Time
	// PriorityFile is an operator's priority.json whose yearly plans are
	// added to the built-in ones (NUISANCE_PRIORITY); empty: the built-in
	// plans alone.
	PriorityFile string
	// RatePerToken and RateBurst limit the report requests of one token:
	// past them it is answered 429 with Retry-After. A supervisor reads a
	// few weeks in a few formats on a Monday; a script reading week
	// after week (each not stored generated on the fly) is slowed to
	// RatePerToken a second.
	RatePerToken float64
	RateBurst    int
}

// DefaultConfig returns the production schedule: Monday 00:05, eight
// weeks of catch-up, a retry every minute; and a token's report requests
// limited to one a second in bursts of 30.
func DefaultConfig(authorize Authorizer) Config {
	return Config{Authorize: authorize, Backfill: 8, After: 5 * time.Minute, Retry: time.Minute, Now: time.Now,
		RatePerToken: 1, RateBurst: 30}
}

// Service is the reporter.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *zap.Logger
	older   olderWeeks
	limiter *auth.RateLimiter
	// weeks generates at most one report of a week not stored at once,
	// whoever asks for it; build generates one (GenerateWith).
	weeks singleflight.Group
	build func(ctx context.Context, week string, now time.Time) (*report.Report, error)
}

var rateLimited = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_reporter_rate_limited_total",
	Help: "Report requests refused (429) because their token was over its rate limit.",
})

var generated = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_reporter_reports_total",
	Help: "Weekly reports stored (outcome stored), and the reporter's passes that failed to generate or store the reports due (outcome failed).",
}, []string{"outcome"})

// New builds the reporter; Run generates the reports and Routes serves them.
func New(cfg Config, pool *pgxpool.Pool, log *zap.Logger) (*Service, error) {
	if cfg.Authorize == nil {
		return nil, errors.New("reporter: no authorizer for report requests")
	}
	if pool == nil {
		return nil, errors.New("reporter: no database pool")
	}
	def := DefaultConfig(cfg.Authorize)
	if cfg.Backfill <= 0 {
		cfg.Backfill = def.Backfill
	}
	if cfg.After < 0 || cfg.After >= 24*time.Hour {
		return nil, fmt.Errorf("reporter: delay after week end %s, want 0 to 24h", cfg.After)
	}
	if cfg.Retry <= 0 {
		cfg.Retry = def.Retry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RatePerToken <= 0 {
		cfg.RatePerToken = def.RatePerToken
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = def.RateBurst
	}
	if _, err := loadRef(cfg.PriorityFile); err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	s := &Service{cfg: cfg, pool: pool, log: log, limiter: auth.NewRateLimiter(cfg.RatePerToken, cfg.RateBurst, rateLimited)}
	s.build = func(ctx context.Context, week string, now time.Time) (*report.Report, error) {
		return GenerateWith(ctx, pool, week, now, cfg.PriorityFile)
	}
	return s, nil
}

// Watches is empty: the reporter consumes no events, its schedule and its
// start-up catch-up make sure no week is left without a report.
func (s *Service) Watches() []outbox.Watch { return nil }

// Run generates every missing report on start, then last week's report
// each Monday at 00:00 plus Config.After Asia/Shanghai, until ctx ends;
// in between it generates again a report its week has changed since
// (CatchUp). It never stores a week twice at once, however many
// instances run.
func (s *Service) Run(ctx context.Context) error {
	for {
		wait := s.cfg.Retry
		if weeks, err := s.CatchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Failed before a report was stored or while storing one,
			// the reports due wait: either is a failure to alert on.
			generated.WithLabelValues("failed").Inc()
			s.log.Warn("weekly reports: catch-up failed, retrying", logging.Error(err), zap.Duration("retry_in", wait))
		} else {
			if len(weeks) > 0 {
				s.log.Info("weekly reports stored", zap.Strings("weeks", weeks))
			}
			now := s.cfg.Now()
			next := NextRun(now, s.cfg.After)
			// Look again every Retry: a week's complaints may arrive
			// after it ended (the demo's replay, a backfill, a backlog),
			// and its report is stored, or generated again, soon after.
			wait = min(next.Sub(now), s.cfg.Retry)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// NextRun is the first Monday 00:00 plus after, Asia/Shanghai, strictly
// later than now: when the next report falls due.
func NextRun(now time.Time, after time.Duration) time.Time {
	start, _, err := gistar.WeekBounds(gistar.WeekOf(now.Add(-after)))
	if err != nil { // WeekOf always names a valid week
		panic(err)
	}
	return start.AddDate(0, 0, 7).Add(after)
}

// LastDue names the latest week whose report is due at now: the week
// that ended at least after ago.
func LastDue(now time.Time, after time.Duration) string {
	start, _, err := gistar.WeekBounds(gistar.WeekOf(now.Add(-after)))
	if err != nil {
		panic(err)
	}
	return gistar.WeekOf(start.AddDate(0, 0, -1))
}
