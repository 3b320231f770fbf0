// Package callbacks answers the 12345 hotline: whenever a case is
// assigned, resolved, returned or closed (and when a complaint joins a
// case or a resolved case is reopened), every work order the case holds
// gets one signed POST to HOTLINE_CALLBACK_URL, once the database bears
// the event out (the case's audit records its transition: another
// service's NATS credential could publish one). Each delivery is a row in
// callbacks whose id is its stable webhook-id; a delivery loop retries it
// with exponential backoff for 24 hours, then dead-letters it where
// operators see it and can retry it. Several instances may run: rows are
// claimed with SKIP LOCKED and a lease. A demo work order's callback
// (DemoTicketPrefix) is never sent: once a URL is set it is discarded.
package callbacks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/refresh"
)

// Durable is the consumer of the case events the hotline is told of; the
// sweeper's watches refer to it.
const Durable = "callbacks"

// kinds are the case events that produce callbacks.
var kinds = []string{caseflow.KindAssigned, caseflow.KindMerged, caseflow.KindReopened, caseflow.KindResolved, caseflow.KindReturned, caseflow.KindClosed}

func filters() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = caseflow.Subject(k, "")
		if k == caseflow.KindAssigned {
			out[i] = caseflow.Subject(k, "*")
		}
	}
	return out
}

// Config tunes the callbacks service.
type Config struct {
	// URL is HOTLINE_CALLBACK_URL; while it is empty deliveries wait,
	// stored and visible, and none is lost.
	URL string
	// Secret is the hotline secret (whsec_<base64>); with several,
	// space-separated (a key rotation), each signs: the signature header
	// carries one signature per key.
	Secret string
	// Batch, MaxDeliver and AckWait tune the case-event consumer.
	Batch      int
	MaxDeliver int
	AckWait    time.Duration
	// Poll is how often due deliveries are looked for.
	Poll time.Duration
	// CountEvery is how often the callbacks waiting and dead are counted
	// for nuisance_callbacks (default 15 s).
	CountEvery time.Duration
	// Claim is how many deliveries one instance sends at a time, Workers
	// how many in parallel.
	Claim   int
	Workers int
	// Lease is how long a claimed delivery is left to its instance before
	// another may try it (a crash mid-delivery).
	Lease time.Duration
	// BaseBackoff doubles after every failed attempt up to MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// RetryFor is how long a delivery is retried before it is dead.
	RetryFor time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	// Now is the clock of signatures and of a pause the hotline asks for
	// (Retry-After); nil is the wall clock. Leases, backoffs and retry
	// windows are reckoned on the database's clock, which every replica
	// shares.
	Now func() time.Time
}

// DefaultConfig returns the production settings for url and secret.
func DefaultConfig(url, secret string) Config {
	return Config{
		URL: url, Secret: secret,
		Batch: 256, MaxDeliver: 8, AckWait: 30 * time.Second,
		Poll: time.Second, CountEvery: 15 * time.Second, Claim: 64, Workers: 8, Lease: time.Minute,
		BaseBackoff: 5 * time.Second, MaxBackoff: time.Hour, RetryFor: 24 * time.Hour,
		Timeout: 10 * time.Second,
	}
}

// Service is the callbacks service.
type Service struct {
	cfg  Config
	pool *pgxpool.Pool
	js   jetstream.JetStream
	log  *zap.Logger
	// hooks sign every callback, one signature per configured key, so
	// that during a key rotation a hotline verifying with either the old
	// or the new key accepts it.
	hooks []*standardwebhooks.Webhook
	http  *http.Client
	// slots bounds the POSTs in flight, from the hand-over and from
	// DeliverOnce together, to Workers: a POST waits for its slot before
	// its timeout starts, never for a connection within it (it would time
	// out unsent, or sent late, and the hotline would hear it twice).
	slots chan struct{}
	// pausedUntil (Unix nanoseconds) is when the hotline, answering 429
	// or 503 with Retry-After, may be asked again.
	pausedUntil atomic.Int64
	// handoff holds the deliveries claimed as they were stored, for the
	// workers; nil without a URL.
	handoff chan handed
	// counted counts and logs the counts of nuisance_callbacks that fail.
	counted *refresh.Tracker
}

var (
	attempts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_callbacks_attempts_total",
		Help: "Callback POSTs to the hotline by outcome (delivered, failed, dead; lease_lost: not recorded, the callback's lease had passed to another claim, which posts it again).",
	}, []string{"outcome"})
	waiting = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_callbacks",
		Help: "Callbacks not delivered, by state (pending, dead), as last counted.",
	}, []string{"state"})
)

// New builds the service. A URL without a secret is refused: the hotline
// must be able to tell our callbacks from forgeries.
func New(cfg Config, pool *pgxpool.Pool, js jetstream.JetStream, log *zap.Logger) (*Service, error) {
	def := DefaultConfig(cfg.URL, cfg.Secret)
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.AckWait, def.AckWait}, {&cfg.Poll, def.Poll}, {&cfg.CountEvery, def.CountEvery}, {&cfg.Lease, def.Lease}, {&cfg.BaseBackoff, def.BaseBackoff},
		{&cfg.MaxBackoff, def.MaxBackoff}, {&cfg.RetryFor, def.RetryFor}, {&cfg.Timeout, def.Timeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	for _, d := range []struct {
		v   *int
		def int
	}{{&cfg.Batch, def.Batch}, {&cfg.MaxDeliver, def.MaxDeliver}, {&cfg.Claim, def.Claim}, {&cfg.Workers, def.Workers}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Each worker keeps its connection to the hotline between callbacks:
	// the default transport keeps two idle connections a host, so the
	// other workers would dial (and the hotline accept) one per callback.
	// At most one connection a worker: a worker whose last connection is
	// not back in the pool yet waits for it rather than dial another.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Workers
	tr.MaxConnsPerHost = cfg.Workers
	tr.MaxIdleConns = max(tr.MaxIdleConns, cfg.Workers)
	// A redirect is not followed: the client would send it on as a GET
	// without the body, and the hotline's answer to that GET would be
	// taken for the delivery's. A 3xx is a failed attempt, retried.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Service{cfg: cfg, pool: pool, js: js, log: log, http: &http.Client{Timeout: cfg.Timeout, Transport: tr, CheckRedirect: noRedirect},
		slots: make(chan struct{}, cfg.Workers), counted: refresh.New("nuisance_callbacks", log)}
	if cfg.URL != "" {
		s.handoff = make(chan handed, cfg.Claim*4)
	}
	keys := strings.Fields(cfg.Secret)
	for i, k := range keys {
		wh, err := hotline.NewWebhook(k)
		if err != nil {
			return nil, fmt.Errorf("callbacks: hotline secret %d of %d: %w", i+1, len(keys), err)
		}
		s.hooks = append(s.hooks, wh)
	}
	if len(keys) == 0 && cfg.URL != "" {
		return nil, errors.New("callbacks: HOTLINE_CALLBACK_URL is set but no hotline secret to sign with")
	}
	return s, nil
}

// Watches are the sweeper's checks on the service's input: a case event
// the hotline must hear of that was not processed in time is published
// again.
func (s *Service) Watches() []outbox.Watch { return Watches() }

// Watches is Service.Watches for wiring that has no Service at hand.
func Watches() []outbox.Watch {
	var w []outbox.Watch
	for _, f := range filters() {
		w = append(w, outbox.Watch{Consumer: Durable, Filter: strings.Replace(f, "*", ">", 1)})
	}
	return w
}

// Run consumes case events and delivers callbacks until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	cons, err := natsx.NewBatchConsumer(ctx, s.js, s.pool, s.log, natsx.ConsumerSpec{
		Stream:     natsx.StreamFor(caseflow.Subject(caseflow.KindResolved, "")),
		Durable:    Durable,
		Filters:    filters(),
		Schema:     "case.changed.v1",
		Batch:      s.cfg.Batch,
		MaxDeliver: s.cfg.MaxDeliver,
		AckWait:    s.cfg.AckWait,
	}, s.HandleCaseChanges)
	if err != nil {
		return fmt.Errorf("callbacks: %w", err)
	}
	if s.cfg.URL == "" {
		s.log.Warn("HOTLINE_CALLBACK_URL is unset: callbacks are stored and wait until it is set (nuisance callbacks pending)")
	} else {
		// The demo week's callbacks waited for a URL that is a real
		// hotline's: they are given up before any is claimed.
		s.discardDemoAtStart(ctx)
	}
	// One loop down stops the others; the first error is reported.
	g, ctx := errgroup.WithContext(ctx)
	runs := []func(context.Context) error{cons.Run, s.deliverLoop}
	if s.handoff != nil {
		runs = append(runs, s.handoffLoop)
	}
	for _, run := range runs {
		g.Go(func() error { return run(ctx) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("callbacks: %w", err)
	}
	return nil
}

// deliverLoop delivers what is due whenever new callbacks are committed
// (their notification), every Poll for retries, and at once again while
// a round finds a full claim.
func (s *Service) deliverLoop(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go pgstore.Listen(ctx, s.pool, "callbacks", pgstore.Wake(wake))
	lastCount := time.Time{}
	warn := logging.NewThrottle(s.log, logging.ThrottleEvery)
	defer warn.Stop()
	defer s.counted.Stop()
	for {
		n, err := s.DeliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			warn.Warn("deliver callbacks", logging.Error(err))
		} else if err == nil {
			warn.OK("deliver callbacks")
		}
		if time.Since(lastCount) >= s.cfg.CountEvery {
			lastCount = time.Now()
			s.counted.Done(ctx, s.count(ctx))
		}
		if n >= s.cfg.Claim {
			continue // more are due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(s.cfg.Poll):
		}
	}
}

// count sets nuisance_callbacks; when the count fails the gauge keeps
// its last value, and s.counted tells of it.
func (s *Service) count(ctx context.Context) error {
	pending, dead, err := Counts(ctx, s.pool)
	if err != nil {
		return err
	}
	waiting.WithLabelValues("pending").Set(float64(pending))
	waiting.WithLabelValues("dead").Set(float64(dead))
	return nil
}

// Counts is how many callbacks wait (pending) and how many were given up
// (dead, not discarded by an operator), as the nuisance_callbacks gauge
// and the operator's listings count them.
func Counts(ctx context.Context, pool *pgxpool.Pool) (pending, dead int, err error) {
	// Each count reads its own partial index, not the delivered rows.
	err = pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM callbacks WHERE delivered_at IS NULL AND dead_at IS NULL),
		(SELECT count(*) FROM callbacks WHERE dead_at IS NOT NULL AND delivered_at IS NULL AND superseded_by IS NULL AND discarded_at IS NULL)`).Scan(&pending, &dead)
	if err != nil {
		return 0, 0, fmt.Errorf("count callbacks: %w", err)
	}
	return pending, dead, nil
}
