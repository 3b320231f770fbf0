// Package hotspots finds repeat-complaint hotspots as complaints arrive:
// every located complaint goes through the clustering engine
// (internal/cluster) and comes out as
// complaint.clustered.<district>.<category> with its hotspot, and every
// change of a hotspot's life (opened, updated, merged, escalated, cooled,
// closed) is published as hotspot.<kind>. It also serves the hotspots to
// officers as GeoJSON at GET /api/v1/hotspots.
//
// PostgreSQL is the truth: the engine's memory is rebuilt from
// hotspot_members and hotspots at start, and again whenever a transaction
// that carried the engine's decisions did not commit, so memory never runs
// ahead of the database. A complaint whose own rows the database refuses
// (a constraint, a bad row) is pinned before the engine takes it again
// (see Service.probe), so that it does not cost a rebuild at every
// delivery. The work is partitioned by district: each
// instance consumes the complaint.located subjects of its districts on a
// durable consumer of its own, and exactly one instance runs per partition.
package hotspots

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// DurablePrefix names the located-complaint consumer of the instance that
// covers every district; a partitioned instance appends its districts.
const DurablePrefix = "hotspots"

// Districts are the district slugs of Xiamen, the partitions an instance
// may be given.
var Districts = []string{"siming", "haicang", "huli", "jimei", "tongan", "xiangan"}

// Config tunes the hotspots service.
type Config struct {
	// Districts is the partition this instance clusters; empty means every
	// district. Instances on disjoint partitions share the work.
	Districts []string
	// Batch is how many complaints are handled in one transaction.
	Batch int
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivery may take before JetStream redelivers.
	AckWait time.Duration
	// TickEvery is how often hotspots are checked for cooling and closing.
	TickEvery time.Duration
	// Now is the clock of the time-driven transitions, and by which a
	// complaint is long past (no news, see cluster.WithClock); tests move
	// it.
	Now func() time.Time
	// Cluster is the engine's configuration; nil loads seeds/hotspots.json.
	Cluster *cluster.Config
	// Authorize tells who sends an API request; required by Routes.
	Authorize auth.Authorizer
	// RatePerToken and RateBurst limit the API requests of one token, as
	// the officers' API does (whose console also shows the hotspots): a
	// token past them is answered 429 with Retry-After.
	RatePerToken float64
	RateBurst    int
}

// DefaultConfig returns the production settings for every district.
func DefaultConfig() Config {
	return Config{Batch: 256, MaxDeliver: 8, AckWait: 30 * time.Second, TickEvery: time.Minute, Now: time.Now,
		RatePerToken: 5, RateBurst: 100}
}

// Service is the hotspot detector of one partition.
type Service struct {
	cfg     Config
	cluster cluster.Config
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	log     *zap.Logger
	durable string
	limiter *auth.RateLimiter

	// mu serialises every use of the engine and the bookkeeping that
	// keeps it in step with the database. It is never held while waiting
	// for a row lock another transaction may hold while it waits for mu.
	mu     sync.Mutex
	engine *cluster.Engine
	store  *memberStore
	// staleWhy, when set, says why the engine may hold decisions the
	// database does not: it is rebuilt before its next use, and the
	// reason logged (see stale).
	staleWhy string
	// lastXact is the transaction of the last batch of located complaints;
	// when it turns out not to have committed, the engine is rebuilt.
	lastXact string
	// afterRebuild, when set, runs after every rebuild with its reason;
	// tests use it to count rebuilds and to make one outlast a batch's
	// deadline.
	afterRebuild func(why string)
	// suspects are the complaints of the batches that failed since the
	// engine last took them, with when they failed: each is tried (probe)
	// before the engine takes it again.
	suspects map[string]time.Time
	// refused holds the records, as the engine judged them, of the
	// hotspots whose transitions the database refused at the last tick.
	refused map[string]cluster.Hotspot
	// refusedPending is the batch in flight at that tick, "" for none.
	refusedPending string
	// beforeTickWrite, when set, runs between a tick's decisions and
	// their writing; tests use it to let a complaint in between.
	beforeTickWrite func()
}

var (
	clustered = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_hotspots_complaints_total",
		Help: "Located complaints the hotspot detector handled, by outcome (hotspot, none, known, superseded: behind a later correction of the complaint).",
	}, []string{"outcome"})
	changes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_hotspots_changes_total",
		Help: "Hotspot lifecycle events published, by kind.",
	}, []string{"kind"})
	rebuilds = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_hotspots_rebuilds_total",
		Help: "Times the engine's memory was rebuilt from PostgreSQL, by reason (start, or what failed).",
	}, []string{"reason"})
	inMemory = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_hotspots_points_in_memory",
		Help: "Complaints the engine holds in memory, by consumer.",
	}, []string{"consumer"})
)

// New checks the configuration and builds the service; Run restores the
// engine and starts consuming.
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
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = def.TickEvery
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	if cfg.RatePerToken <= 0 {
		cfg.RatePerToken = def.RatePerToken
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = def.RateBurst
	}
	ds, err := partition(cfg.Districts)
	if err != nil {
		return nil, fmt.Errorf("hotspots: %w", err)
	}
	cfg.Districts = ds
	var cc cluster.Config
	if cfg.Cluster != nil {
		cc = *cfg.Cluster
		if err := cc.Validate(); err != nil {
			return nil, fmt.Errorf("hotspots: %w", err)
		}
	} else if cc, err = cluster.LoadConfig(); err != nil {
		return nil, fmt.Errorf("hotspots: %w", err)
	}
	s := &Service{
		cfg: cfg, cluster: cc, pool: pool, js: js, log: log,
		durable:  Durable(ds),
		store:    &memberStore{},
		staleWhy: "start",
		limiter:  auth.NewRateLimiter(cfg.RatePerToken, cfg.RateBurst, rateLimited),
	}
	return s, nil
}

// partition validates and sorts a district list, dropping repeats.
func partition(ds []string) ([]string, error) {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		d = strings.TrimSpace(d)
		if !slices.Contains(Districts, d) {
			return nil, fmt.Errorf("unknown district %q: want one of %s", d, strings.Join(Districts, ", "))
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Durable is the name of the located-complaint consumer of a partition
// ("hotspots", or "hotspots-huli-siming"): instances of one partition
// share it, different partitions never do.
func Durable(districts []string) string {
	if len(districts) == 0 {
		return DurablePrefix
	}
	ds := slices.Clone(districts)
	slices.Sort(ds)
	return DurablePrefix + "-" + strings.Join(slices.Compact(ds), "-")
}

// Durable is the name of this instance's located-complaint consumer.
func (s *Service) Durable() string { return s.durable }

// durableResolved consumes case.resolved for the partition.
func (s *Service) durableResolved() string { return s.durable + "-resolved" }

// locatedFilters are the complaint.located subjects of the partition.
func locatedFilters(districts []string) []string {
	if len(districts) == 0 {
		return []string{event.SubjComplaintLocated + ".>"}
	}
	out := make([]string, len(districts))
	for i, d := range districts {
		out[i] = event.SubjComplaintLocated + "." + d + ".>"
	}
	return out
}

// Watches are the sweeper's checks on this instance's input: a located
// complaint or a resolved case it has not processed within the sweeper's
// delay is published again.
func (s *Service) Watches() []outbox.Watch { return Watches(s.cfg.Districts) }

// Watches is Service.Watches for wiring that has no Service at hand.
func Watches(districts []string) []outbox.Watch {
	d := Durable(districts)
	var out []outbox.Watch
	for _, f := range locatedFilters(districts) {
		out = append(out, outbox.Watch{Consumer: d, Filter: f})
	}
	return append(out, outbox.Watch{Consumer: d + "-resolved", Filter: caseflow.Subject(caseflow.KindResolved, "")})
}

// inPartition reports whether a district belongs to this instance.
func (s *Service) inPartition(district string) bool {
	return len(s.cfg.Districts) == 0 || slices.Contains(s.cfg.Districts, district)
}

// Run restores the engine from PostgreSQL, then consumes located
// complaints and resolved cases and ticks the lifecycle until ctx is
// cancelled, finishing the batches in hand.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Restore(ctx); err != nil {
		return fmt.Errorf("hotspots: %w", err)
	}
	located, err := natsx.NewBatchConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(event.SubjComplaintLocated),
		Durable:    s.durable,
		Filters:    locatedFilters(s.cfg.Districts),
		Schema:     "complaint.located.v1",
		Batch:      s.cfg.Batch,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleComplaintsLocated)
	if err != nil {
		return fmt.Errorf("hotspots: %w", err)
	}
	// One case per transaction: the handler takes the engine's lock before
	// it writes, so it must not hold row locks of earlier messages then.
	resolved, err := natsx.NewConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(event.SubjCase + "."),
		Durable:    s.durableResolved(),
		Filters:    []string{caseflow.Subject(caseflow.KindResolved, "")},
		Schema:     "case.changed.v1",
		Batch:      1,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleCaseResolved)
	if err != nil {
		return fmt.Errorf("hotspots: %w", err)
	}
	// One loop down stops the others; the first error is reported.
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range []func(context.Context) error{located.Run, resolved.Run, s.runTicks} {
		g.Go(func() error { return run(ctx) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("hotspots: %w", err)
	}
	return nil
}
