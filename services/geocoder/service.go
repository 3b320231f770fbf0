// Package geocoder places every received complaint in a district of Xiamen
// and decides what nuisance it is about. A complaint it can place and
// classify goes on as complaint.located.<district>.<category>; any other
// is kept with the reason on the triage list and announced as
// complaint.unlocated, until a supervisor's correction (triage.corrected)
// puts it back into the pipeline. Nothing is dropped.
package geocoder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/locate"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

// Durable consumer names. They are also the consumer names under which
// processed events are recorded, which the sweeper's watches refer to.
const (
	// DurableReceived consumes complaint.received.
	DurableReceived = "geocoder"
	// DurableCorrected consumes triage.corrected; a consumer of its own so
	// a burst of new complaints never delays a supervisor's correction.
	DurableCorrected = "geocoder-triage"
)

// Config tunes the geocoder's consumers.
type Config struct {
	// Batch is how many complaints are handled in one transaction.
	Batch int
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivery may take before JetStream redelivers.
	AckWait time.Duration
	// PriorityFile is an operator's priority.json whose yearly plans are
	// added to the built-in ones (NUISANCE_PRIORITY); empty: the built-in
	// plans alone.
	PriorityFile string
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{Batch: 256, MaxDeliver: 8, AckWait: 30 * time.Second}
}

// Service is the geocoder. Its handlers are safe for concurrent use, so
// several instances may run on the same durable consumers.
type Service struct {
	cfg  Config
	pool *pgxpool.Pool
	js   jetstream.JetStream
	log  *zap.Logger

	loc       *locate.Locator
	cls       *classify.Classifier
	districts *geo.Districts
	subs      map[string][]place.Subdistrict // district slug -> its sub-districts
}

var decided = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_geocoder_complaints_total",
	Help: "Complaints the geocoder decided on, by outcome (located, unlocated, unclassified, corrected) and locating method.",
}, []string{"outcome", "method"})

// New builds the geocoder from the embedded seeds; Run starts consuming.
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
	d, err := geo.LoadDistricts()
	if err != nil {
		return nil, fmt.Errorf("geocoder: %w", err)
	}
	g, err := place.LoadGazetteer()
	if err != nil {
		return nil, fmt.Errorf("geocoder: %w", err)
	}
	cls, err := classify.NewWith(cfg.PriorityFile)
	if err != nil {
		return nil, fmt.Errorf("geocoder: %w", err)
	}
	log.Info("priority plans", zap.Ints("years", cls.Plans().Years()), zap.String("added", cfg.PriorityFile))
	s := &Service{
		cfg: cfg, pool: pool, js: js, log: log,
		loc:       locate.NewFrom(d, g),
		cls:       cls,
		districts: d,
		subs:      map[string][]place.Subdistrict{},
	}
	for _, sd := range g.Subdistricts {
		s.subs[sd.District] = append(s.subs[sd.District], sd)
	}
	return s, nil
}

// Watches are the sweeper's checks on the geocoder's input: a received
// complaint or a correction the geocoder has not processed within the
// sweeper's delay is published again.
func (s *Service) Watches() []outbox.Watch {
	return Watches()
}

// Watches is Service.Watches for wiring that has no Service at hand.
func Watches() []outbox.Watch {
	return []outbox.Watch{
		{Consumer: DurableReceived, Filter: event.SubjComplaintReceived},
		{Consumer: DurableCorrected, Filter: event.SubjTriageCorrected},
	}
}

// Run declares the geocoder's durable consumers and consumes until ctx is
// cancelled, finishing the batches in hand.
func (s *Service) Run(ctx context.Context) error {
	received, err := natsx.NewBatchConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(event.SubjComplaintReceived),
		Durable:    DurableReceived,
		Filters:    []string{event.SubjComplaintReceived},
		Schema:     "complaint.received.v1",
		Batch:      s.cfg.Batch,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleComplaintsReceived)
	if err != nil {
		return fmt.Errorf("geocoder: %w", err)
	}
	corrected, err := natsx.NewConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(event.SubjTriageCorrected),
		Durable:    DurableCorrected,
		Filters:    []string{event.SubjTriageCorrected},
		Schema:     "triage.corrected.v1",
		Batch:      64,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleTriageCorrected)
	if err != nil {
		return fmt.Errorf("geocoder: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, run := range []func(context.Context) error{received.Run, corrected.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = run(ctx); errs[i] != nil {
				cancel() // one consumer down: stop the other and report
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("geocoder: %w", err)
	}
	return nil
}
