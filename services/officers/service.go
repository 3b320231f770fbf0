// Package officers is the enforcement officers' side of the pipeline: the
// API through which a team receives its cases, signs for, resolves or
// returns them, a supervisor reassigns them and corrects the complaints
// the geocoder could not place, and a live stream of case changes fed
// from the CASES stream. Every request carries a bearer token of
// internal/auth; every case change goes through internal/caseflow, so the
// state machine, the audit log and the hotline callbacks stay in one
// place. An officer sees only the cases its team holds: the team is part
// of every query, so another team's case answers 404 like a missing one.
package officers

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

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/place"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// Config tunes the service; DefaultConfig gives production values.
type Config struct {
	// Heartbeat is how often an idle event stream sends a comment, so
	// proxies and phones on mobile networks keep the connection open.
	Heartbeat time.Duration
	// PageSize is the default number of items of a list; MaxPage caps
	// what a client may ask for.
	PageSize, MaxPage int
	// TokenCacheTTL is how long a token lookup is reused; a disabled
	// token stops working within it.
	TokenCacheTTL time.Duration
	// Stream is the JetStream stream of case events.
	Stream string
	// MaxStreamsPerToken caps the event streams one token holds open; a
	// new one past it ends the token's oldest (a phone that reconnects
	// from another network replaces the stream it left behind).
	MaxStreamsPerToken int
	// MaxStreams caps the event streams of the process, each a JetStream
	// consumer (about 95 KiB and 11 goroutines with the embedded NATS):
	// past it a new stream is refused with 503 and Retry-After.
	MaxStreams int
	// StreamWriteTimeout bounds one write to an event stream: a client
	// that stops reading (a frozen phone) loses its stream instead of
	// holding a goroutine, a consumer and a shutdown for ever.
	StreamWriteTimeout time.Duration
	// RatePerToken and RateBurst limit the requests of one token, every
	// route but the event stream (which has its caps above): a token
	// past them is answered 429 with Retry-After. A person on a phone
	// makes a request every few seconds; the console makes 3 as it
	// opens and 2 (the list and the open case) for each case event
	// pushed to it, at most one every 150 ms, so a burst of 100 outlasts
	// a backlog of pushed events, and 5 a second is more than a busy
	// district's pushes ask for over time. A script holding the token
	// gets 5 a second.
	RatePerToken float64
	RateBurst    int
	// StreamOpenBurst and StreamOpenEvery limit how often one token
	// opens the event stream: StreamOpenBurst opens at once, then one
	// more every StreamOpenEvery; past them an open is answered 429 with
	// Retry-After. Each open is a JetStream consumer, and one resuming
	// from an early Last-Event-ID reads the case stream through again.
	// The console's EventSource reconnects after 3 s (its retry), and
	// after a refusal backs off from 2 s to a minute: a phone going in
	// and out of coverage stays within 10 and one every 3 s, a loop of
	// opens does not.
	StreamOpenBurst int
	StreamOpenEvery time.Duration
	// CalendarFile is the operator's calendar.json whose years are added
	// to the built-in working-day calendar (NUISANCE_CALENDAR), as the
	// router's is: an extension (延期) ends on a working day of the
	// calendar the router counts deadlines by. Empty: the built-in
	// calendar alone.
	CalendarFile string
}

// DefaultConfig returns a 15 s heartbeat, pages of 50 (at most 200), the
// token cache of internal/auth, 5 requests a second a token, in bursts
// of 100, and stream opens in bursts of 10, then one every 3 s.
func DefaultConfig() Config {
	return Config{Heartbeat: 15 * time.Second, PageSize: 50, MaxPage: 200, TokenCacheTTL: auth.DefaultCacheTTL, Stream: "CASES",
		MaxStreamsPerToken: 4, MaxStreams: 2000, StreamWriteTimeout: 10 * time.Second, RatePerToken: 5, RateBurst: 100,
		StreamOpenBurst: 10, StreamOpenEvery: 3 * time.Second}
}

// Service is the officers' API.
type Service struct {
	cfg       Config
	pool      *pgxpool.Pool
	js        jetstream.JetStream
	log       *zap.Logger
	tokens    *auth.Store
	districts *geo.Districts
	cls       *classify.Classifier
	cal       *workday.Calendar
	// rules are the routing rules, to say in Chinese the rule an
	// assignment's reason names.
	rules *routing.Router
	// subdistricts are the sub-districts' names by their statistics
	// code and by name.
	subdistricts map[string]string

	done      chan struct{}
	closeOnce sync.Once
	streams   streamSlots
	limiters  *auth.RateLimiter
	// opens holds each token to its rate of opening event streams.
	opens *auth.RateLimiter
}

var (
	streamsOpen = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "nuisance_officers_streams_open",
		Help: "Officers' event streams (/api/v1/stream) open now.",
	})
	streamEvents = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_officers_stream_events_total",
		Help: "Case events pushed to officers' event streams.",
	})
	actions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_officers_actions_total",
		Help: "Case actions and triage corrections by officers, by action and outcome (ok, rejected, abandoned: the client went away).",
	}, []string{"action", "outcome"})
)

// New builds the service. js may be nil when the process serves no event
// stream (the stream then answers 503).
func New(cfg Config, pool *pgxpool.Pool, js jetstream.JetStream, log *zap.Logger) (*Service, error) {
	if pool == nil {
		return nil, errors.New("officers: no database pool")
	}
	if log == nil {
		log = zap.NewNop()
	}
	def := DefaultConfig()
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = def.Heartbeat
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = def.PageSize
	}
	if cfg.MaxPage < cfg.PageSize {
		cfg.MaxPage = max(def.MaxPage, cfg.PageSize)
	}
	if cfg.TokenCacheTTL < 0 {
		return nil, fmt.Errorf("officers: negative token cache TTL %s", cfg.TokenCacheTTL)
	}
	if cfg.Stream == "" {
		cfg.Stream = def.Stream
	}
	if cfg.MaxStreamsPerToken <= 0 {
		cfg.MaxStreamsPerToken = def.MaxStreamsPerToken
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = def.MaxStreams
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = def.StreamWriteTimeout
	}
	if cfg.RatePerToken <= 0 {
		cfg.RatePerToken = def.RatePerToken
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = def.RateBurst
	}
	if cfg.StreamOpenBurst <= 0 {
		cfg.StreamOpenBurst = def.StreamOpenBurst
	}
	if cfg.StreamOpenEvery <= 0 {
		cfg.StreamOpenEvery = def.StreamOpenEvery
	}
	districts, err := geo.LoadDistricts()
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	cls, err := classify.New()
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	cal, err := workday.LoadWith(cfg.CalendarFile)
	if err != nil {
		return nil, fmt.Errorf("officers: NUISANCE_CALENDAR: %w", err)
	}
	rules, err := routing.LoadCalendar(cal)
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	gaz, err := place.LoadGazetteer()
	if err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	subdistricts := make(map[string]string, 2*len(gaz.Subdistricts))
	for _, sd := range gaz.Subdistricts {
		subdistricts[sd.Code], subdistricts[sd.Name] = sd.Name, sd.Name
	}
	s := &Service{cfg: cfg, pool: pool, js: js, log: log, tokens: auth.NewStore(pool, cfg.TokenCacheTTL),
		districts: districts, cls: cls, cal: cal, rules: rules, subdistricts: subdistricts, done: make(chan struct{}), streams: streamSlots{byID: map[string][]*streamSlot{}},
		limiters: auth.NewRateLimiter(cfg.RatePerToken, cfg.RateBurst, nil),
		opens:    auth.NewRateLimiter(1/cfg.StreamOpenEvery.Seconds(), cfg.StreamOpenBurst, nil)}
	// Load the teams now: a broken seed stops the start, not a request.
	if _, _, err := s.tokens.Team(""); err != nil {
		return nil, fmt.Errorf("officers: %w", err)
	}
	return s, nil
}

// Authorizer is the service's token check, for the other APIs of the same
// process (hotspots, reports) so that they share its cache.
func (s *Service) Authorizer() auth.Authorizer { return s.tokens.Authorizer() }

// Watches is empty: the service consumes no events through durable
// consumers. Its triage corrections are watched by the geocoder, and the
// event stream reads the CASES stream with ordered consumers that need
// no sweeping.
func (s *Service) Watches() []outbox.Watch { return nil }

// Run holds the service until ctx ends, measuring the triage list every
// minute (MeasureTriage), then closes the open event streams so that a
// graceful shutdown does not wait for them.
func (s *Service) Run(ctx context.Context) error {
	mctx, stop := context.WithCancel(ctx)
	measured := make(chan struct{})
	go func() { defer close(measured); s.measureTriage(mctx, time.Minute) }()
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	stop()
	<-measured
	s.CloseStreams()
	return nil
}

// CloseStreams ends every open event stream; clients reconnect with
// Last-Event-ID to another instance or after the restart. Register it with
// http.Server.RegisterOnShutdown: Shutdown does not end streaming
// responses by itself.
func (s *Service) CloseStreams() {
	s.closeOnce.Do(func() { close(s.done) })
}
