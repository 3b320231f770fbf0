// Package intake is the hotline's entry point: it verifies the signed work
// order, validates it, stores it durably exactly once together with its
// complaint.received event, and answers status look-ups.
package intake

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/services/intake/workorder"
)

// Config tunes the intake.
type Config struct {
	// Secrets verify signatures; several allow key rotation.
	Secrets []string
	// RatePerClient and Burst limit requests per client address.
	RatePerClient float64
	Burst         int
	// MaxBatch and MaxWait bound group commits.
	MaxBatch int
	MaxWait  time.Duration
	// Committers is the number of concurrent group-commit loops. Two
	// keep one batch gathering while the other commits; more split the
	// same arrivals into smaller batches, and PostgreSQL spends about as
	// much on a statement and its commit whatever their size.
	Committers int
}

// DefaultConfig returns production defaults for secret.
func DefaultConfig(secret string) Config {
	return Config{
		Secrets:       strings.Fields(secret),
		RatePerClient: 20000,
		Burst:         40000,
		MaxBatch:      256,
		MaxWait:       2 * time.Millisecond,
		Committers:    2,
	}
}

// Service is the intake.
type Service struct {
	cfg      Config
	pool     *pgxpool.Pool
	log      *zap.Logger
	storeLog *logging.Throttle // the commits' failures, at a bounded rate
	// endpointLog warns of work orders sent to the endpoint their ticket
	// was not stored by (deliveredElsewhere), at a bounded rate.
	endpointLog *logging.Throttle
	hooks       []*standardwebhooks.Webhook
	parser      *workorder.Parser
	subs        chan *submission
	limiters    *lru.Cache[string, *rate.Limiter] // client address -> its limiter, the most recent maxClients
	now         func() time.Time
}

var requests = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_intake_requests_total",
	Help: "Hotline intake requests by answer status.",
}, []string{"status"})

// otherEndpoint counts the work orders sent to the endpoint their ticket
// was not stored by, by reason: delivery_first_history (a delivery first
// made as history, sent again as the hotline's: answered 409, never
// accepted), delivery_first_live (the reverse), ticket_stored_as_history
// (the hotline's POST of a ticket stored as history, under a webhook-id
// of its own: a duplicate, not handled) and ticket_stored_live (history
// of a ticket the hotline delivered).
var otherEndpoint = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_intake_other_endpoint_total",
	Help: "Work orders sent to the intake endpoint (hotline's or history) their ticket was not stored by, by reason.",
}, []string{"reason"})

// New builds the intake; Run must be running for posts to be stored.
func New(cfg Config, pool *pgxpool.Pool, log *zap.Logger) (*Service, error) {
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("intake: no hotline secret")
	}
	s := &Service{cfg: cfg, pool: pool, log: log, storeLog: logging.NewThrottle(log, logging.ThrottleEvery),
		endpointLog: logging.NewThrottle(log, logging.ThrottleEvery), subs: make(chan *submission, cfg.MaxBatch*cfg.Committers*2), now: time.Now}
	var err error
	if s.limiters, err = lru.New[string, *rate.Limiter](maxClients); err != nil {
		return nil, err
	}
	for i, sec := range cfg.Secrets {
		wh, err := hotline.NewWebhook(sec)
		if err != nil {
			return nil, fmt.Errorf("intake: hotline secret %d: %w", i+1, err)
		}
		s.hooks = append(s.hooks, wh)
	}
	if s.parser, err = workorder.NewParser(); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs the group-commit loops until ctx is cancelled and the queue is
// drained.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.cfg.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.commitLoop(ctx)
		}()
	}
	wg.Wait()
	s.storeLog.Stop()
	s.endpointLog.Stop()
	return nil
}

// Routes mounts the hotline endpoints, and the operator's backfill of
// history (nuisance replay -history), which takes the hotline's work
// orders, signed with its secret, at a path of its own: the hotline's
// contract stays as it is.
func (s *Service) Routes(mux httpx.Mux) {
	mux.HandleFunc("POST "+hotline.ComplaintsPath, s.handlePost)
	mux.HandleFunc("POST "+hotline.HistoryPath, s.handleHistory)
	// A ticket_id may hold slashes (the schema allows them): the look-up
	// takes the rest of the path, so that one sent unescaped finds its
	// work order as one with each slash escaped (%2F) does. One holding
	// //, /./ or /../ is found only behind RawLookups.
	mux.HandleFunc("GET "+hotline.ComplaintsPath+"/{ticket_id...}", s.handleLookup)
	// The collection itself takes POST alone. Any other method there is
	// 405 naming it (and the look-up's path), not the mux's redirect of a
	// GET to the look-up of no ticket, nor an Allow listing that GET.
	mux.HandleFunc(hotline.ComplaintsPath, handleComplaintsOther)
}

// RawLookups serves, before next, the look-ups whose path a ServeMux
// would clean: a ticket_id holding //, /./ or /../ (which the schema's
// pattern allows, XM/../0004), sent with its slashes as they are. The mux
// answers such a path with a redirect to its cleaned form, the look-up of
// another ticket (/v1/hotline/complaints/0004); here it is looked up as
// sent. Everything else goes to next, the mux the intake's Routes are
// mounted on: a process serving the intake puts RawLookups in front of it.
func (s *Service) RawLookups(next http.Handler) http.Handler {
	prefix := hotline.ComplaintsPath + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if p := r.URL.EscapedPath(); strings.HasPrefix(p, prefix) && len(p) > len(prefix) && !cleanPath(p) {
				s.handleLookup(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath tells whether a ServeMux leaves p as it is: no empty, . or
// .. segment (a trailing slash is no empty segment to it).
func cleanPath(p string) bool {
	return path.Clean(p) == p || path.Clean(p)+"/" == p
}

// maxClients is how many client addresses the intake keeps a rate
// limiter for. Limiters are made before a post's signature is checked, so
// any address can add one; the least recently seen go first, and a client
// seen again after that starts with a full burst.
const maxClients = 4096

func (s *Service) limiter(client string) *rate.Limiter {
	if l, ok := s.limiters.Get(client); ok {
		return l
	}
	l := rate.NewLimiter(rate.Limit(s.cfg.RatePerClient), s.cfg.Burst)
	if prev, ok, _ := s.limiters.PeekOrAdd(client, l); ok {
		return prev
	}
	return l
}
