// Package router turns clustered complaints into cases: a complaint joins
// the open case of its place (the hotspot's case, or before a hotspot has
// formed a case within the category's hotspot radius or at the same named
// place), or opens a new one that is routed to the responsible team with
// working-day deadlines. It routes returned cases (退单) again, never to a
// team that returned them, reopens a resolved case when the nuisance comes
// back, and escalates (督办) every deadline that passes, once. All state
// changes go through internal/caseflow.
package router

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// Durable consumer names; processed events are recorded under them, and
// the sweeper's watches refer to them.
const (
	// DurableClustered consumes complaint.clustered.>.
	DurableClustered = "router"
	// DurableReturned consumes case.returned; a consumer of its own so a
	// burst of complaints never delays re-routing a returned case.
	DurableReturned = "router-returned"
)

// actor is who the router's transitions are recorded as.
var actor = caseflow.Service("router")

// Config tunes the router.
type Config struct {
	// Batch is how many messages are handled in one transaction.
	Batch int
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivery may take before JetStream redelivers.
	AckWait time.Duration
	// TimerEvery is how often due deadlines are looked for.
	TimerEvery time.Duration
	// ReopenWithin is how long after its resolution a new complaint at a
	// case's place reopens the case instead of opening a new one.
	ReopenWithin time.Duration
	// Now is the clock of deadlines and escalations; nil is the wall clock.
	Now func() time.Time
	// CalendarFile is an operator's calendar.json whose years are added to
	// the built-in working-day calendar (NUISANCE_CALENDAR); empty: the
	// built-in calendar alone.
	CalendarFile string
}

// CalendarWarnAhead is how long before the calendar's last year ends the
// router warns that next year's holidays are missing: the State Council
// announces them in November.
const CalendarWarnAhead = 45 * 24 * time.Hour

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{Batch: 256, MaxDeliver: 8, AckWait: 30 * time.Second, TimerEvery: 5 * time.Second, ReopenWithin: 30 * 24 * time.Hour}
}

// Service is the router. Its handlers are safe for concurrent use and
// serialise per district and category in PostgreSQL, so several
// instances may run on the same durable consumers.
type Service struct {
	cfg    Config
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	log    *zap.Logger
	routes *routing.Router
	radius map[[2]string]float64 // category, subcategory ("" for the category) -> metres
}

var (
	routed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_router_complaints_total",
		Help: "Clustered complaints the router handled, by outcome (opened, merged, reopened, unrouted, parked, duplicate, kept: a correction of a complaint whose case a team holds, history).",
	}, []string{"outcome"})
	escalations = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_router_escalations_total",
		Help: "Deadline timers fired, by kind (sign, resolve) and whether the case was escalated.",
	}, []string{"kind", "escalated"})
	calendarLastYear = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "nuisance_calendar_last_year",
		Help: "The last year whose public holidays the router's working-day calendar knows; after it, deadlines count weekends and the holidays fixed by date only.",
	})
	outsideCalendar = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_router_deadlines_outside_calendar_total",
		Help: "Deadlines computed for a time outside the working-day calendar's years, counting weekends and the holidays fixed by date (元旦, 劳动节, 国庆节) only.",
	})
	closures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_router_cases_closed_total",
		Help: "Resolved cases closed out (办结销号) when their reopen window passed without a complaint.",
	})
)

// route applies the routing rules to req, and counts a deadline set where
// the working-day calendar knows no holidays.
func (s *Service) route(req routing.Request) (routing.Decision, error) {
	dec, err := s.routes.Route(req)
	if err == nil && !dec.CalendarCovered {
		outsideCalendar.Inc()
	}
	return dec, err
}

// New builds the router from the embedded seeds; Run starts consuming.
func New(cfg Config, pool *pgxpool.Pool, js jetstream.JetStream, log *zap.Logger) (*Service, error) {
	def := DefaultConfig()
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = def.MaxDeliver
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = def.AckWait
	}
	if cfg.TimerEvery <= 0 {
		cfg.TimerEvery = def.TimerEvery
	}
	if cfg.ReopenWithin <= 0 {
		cfg.ReopenWithin = def.ReopenWithin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cal, err := workday.LoadWith(cfg.CalendarFile)
	if err != nil {
		return nil, fmt.Errorf("router: NUISANCE_CALENDAR: %w", err)
	}
	routes, err := routing.LoadCalendar(cal)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	first, last := cal.Years()
	calendarLastYear.Set(float64(last))
	source := cfg.CalendarFile
	if source == "" {
		source = "built-in"
	}
	fields := []zap.Field{zap.Int("first_year", first), zap.Int("last_year", last), zap.String("calendar", source)}
	if cfg.Now().Add(CalendarWarnAhead).In(cal.Location()).Year() > last {
		log.Warn("the working-day calendar ends before the coming year: add its holidays with NUISANCE_CALENDAR, or deadlines after it count weekends and the holidays fixed by date only", fields...)
	} else {
		log.Info("working-day calendar", fields...)
	}
	hot, err := cluster.LoadConfig()
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	s := &Service{cfg: cfg, pool: pool, js: js, log: log, routes: routes, radius: map[[2]string]float64{}}
	for cat, cc := range hot.Categories {
		s.radius[[2]string{cat, ""}] = cc.RadiusM
		for sub := range cc.Subcategories {
			s.radius[[2]string{cat, sub}] = cc.Sub(sub).RadiusM
		}
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// radiusOf is the hotspot radius of a category or subcategory: within it,
// two complaints are about the same place.
func (s *Service) radiusOf(category, subcategory string) float64 {
	if r, ok := s.radius[[2]string{category, subcategory}]; ok {
		return r
	}
	return s.radius[[2]string{category, ""}]
}

// Watches are the sweeper's checks on the router's input.
func (s *Service) Watches() []outbox.Watch { return Watches() }

// Watches is Service.Watches for wiring that has no Service at hand.
func Watches() []outbox.Watch {
	return []outbox.Watch{
		{Consumer: DurableClustered, Filter: event.SubjComplaintClustered + ".>"},
		{Consumer: DurableReturned, Filter: caseflow.Subject(caseflow.KindReturned, "")},
	}
}

// Run declares the router's consumers and runs them and the deadline
// timers until ctx is cancelled, finishing the batches in hand.
func (s *Service) Run(ctx context.Context) error {
	clustered, err := natsx.NewBatchConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(event.SubjComplaintClustered),
		Durable:    DurableClustered,
		Filters:    []string{event.SubjComplaintClustered + ".>"},
		Batch:      s.cfg.Batch,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleComplaintsClustered)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	returned, err := natsx.NewConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(caseflow.Subject(caseflow.KindReturned, "")),
		Durable:    DurableReturned,
		Filters:    []string{caseflow.Subject(caseflow.KindReturned, "")},
		Schema:     "case.changed.v1",
		Batch:      64,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleCaseReturned)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	// One loop down stops the others; the first error is reported.
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range []func(context.Context) error{clustered.Run, returned.Run, s.runTimers} {
		g.Go(func() error { return run(ctx) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	return nil
}

// runTimers fires due deadlines every TimerEvery until ctx ends.
func (s *Service) runTimers(ctx context.Context) error {
	warn := logging.NewThrottle(s.log, logging.ThrottleEvery)
	defer warn.Stop()
	for {
		if _, err := s.FireTimers(ctx); err != nil && ctx.Err() == nil {
			warn.Warn("fire deadline timers", logging.Error(err))
		} else if err == nil {
			warn.OK("fire deadline timers")
		}
		if _, err := s.CloseResolved(ctx); err != nil && ctx.Err() == nil {
			warn.Warn("close out resolved cases", logging.Error(err))
		} else if err == nil {
			warn.OK("close out resolved cases")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.TimerEvery):
		}
	}
}

// timerBatch is how many deadlines or close-outs one transaction of the
// timer loop handles.
const timerBatch = 256

// inBatches runs step, each time in a transaction of its own with the
// router's clock, and hands what each committed step handled to done,
// until a step handles fewer than timerBatch items.
func inBatches[T any](ctx context.Context, s *Service, step func(ctx context.Context, tx pgx.Tx, now time.Time) ([]T, error), done func([]T)) error {
	for {
		var got []T
		now := s.now()
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			got, err = step(caseflow.WithClock(ctx, s.cfg.Now), tx, now)
			return err
		})
		if err != nil {
			return err
		}
		done(got)
		if len(got) < timerBatch {
			return nil
		}
	}
}

// CloseResolved closes out (办结销号) every resolved case whose reopen
// window (ReopenWithin) has passed by the router's clock without a
// complaint at its place, and reports how many it closed. The hotline is
// told of each work order (case.closed); a later complaint there opens a
// new case.
func (s *Service) CloseResolved(ctx context.Context) (int, error) {
	note := fmt.Sprintf("no complaint within %d days of the resolution", int(s.cfg.ReopenWithin.Hours()/24))
	total := 0
	err := inBatches(ctx, s, func(ctx context.Context, tx pgx.Tx, now time.Time) ([]caseflow.Case, error) {
		return caseflow.CloseResolved(ctx, tx, actor, now.Add(-s.cfg.ReopenWithin), timerBatch, note)
	}, func(closed []caseflow.Case) {
		closures.Add(float64(len(closed)))
		total += len(closed)
	})
	if err != nil {
		return total, fmt.Errorf("close out resolved cases: %w", err)
	}
	return total, nil
}

// FireTimers escalates every case whose deadline passed by the router's
// clock and reports how many cases it escalated. Each timer fires once,
// whatever the number of routers and restarts: its claim commits with the
// escalation.
func (s *Service) FireTimers(ctx context.Context) (int, error) {
	total := 0
	err := inBatches(ctx, s, func(ctx context.Context, tx pgx.Tx, now time.Time) ([]caseflow.Escalation, error) {
		return caseflow.EscalateDue(ctx, tx, actor, now, timerBatch)
	}, func(fired []caseflow.Escalation) {
		for _, e := range fired {
			escalations.WithLabelValues(e.Kind, fmt.Sprint(e.Escalated)).Inc()
			if e.Escalated {
				total++
			}
		}
	})
	if err != nil {
		return total, fmt.Errorf("escalate due cases: %w", err)
	}
	return total, nil
}
