package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/retention"
)

// Runner is anything that works until its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Part is one service as a process runs it: its loops, its routes and the
// consumers the sweeper watches for it.
type Part struct {
	Name   string
	Runner Runner
	Routes func(httpx.Mux)
	// Watches are the part's consumers, which the process's sweeper
	// checks: an input event not processed in time is published again
	// (each service's NATS user may re-publish its inputs).
	Watches []outbox.Watch
	// Publishes are the NATS subject filters the part's events go to; the
	// process's outbox relay keeps to their union. A part with a Runner
	// and nil Publishes lets the process relay everything (the all-in-one
	// process); an empty, non-nil list says the part writes no events.
	Publishes []string
	// Wrap, when set, takes the requests before the routes' mux does: a
	// part whose paths the mux would clean and redirect (the intake's
	// tickets holding //, /./ or /../) answers them as sent.
	Wrap func(http.Handler) http.Handler
	// OnShutdown runs when the HTTP server begins shutting down: long-lived
	// responses (event streams) end there instead of holding the shutdown.
	OnShutdown func()
}

// Serve runs parts together with the outbox relay and the sweeper (every
// process relays the events its services write), serves their routes and
// /healthz, /readyz, /metrics on ln, keeps nuisance_ready current with the
// checks of /readyz every sys.ReadyEvery, and on ctx's end stops accepting,
// finishes requests in flight, then drains the parts. A part failing stops
// the process.
func Serve(ctx context.Context, sys *System, ln net.Listener, parts []Part) error {
	log := sys.Log
	mux := http.NewServeMux()
	httpx.Ops(mux, sys.Checks()...)
	publishes, everything := []string(nil), false
	for _, p := range parts {
		if p.Routes != nil {
			p.Routes(mux)
		}
		if p.Runner != nil && p.Publishes == nil {
			everything = true
		}
		publishes = append(publishes, p.Publishes...)
	}
	if everything {
		publishes = nil
	}
	var watches []outbox.Watch
	for _, p := range parts {
		watches = append(watches, p.Watches...)
	}
	all := append([]Part(nil), parts...)
	every := sys.ReadyEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	all = append(all, Part{Name: "readiness", Runner: &readiness{checks: sys.Checks(), every: every, log: log.Named("ready")}})
	if everything || len(publishes) > 0 {
		all = append(all, Part{Name: "outbox-relay", Runner: &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log.Named("relay"), Subjects: publishes}})
	}
	if sys.JS != nil {
		// Streams lost with NATS's data come back without a restart of
		// every process.
		all = append(all, Part{Name: "streams", Runner: &natsx.StreamKeeper{JS: sys.JS, Replicas: sys.Cfg.StreamReplicas, Log: log.Named("streams")}})
	}
	if sys.Pool != nil {
		// Every process prunes; the replicas take turns (an advisory
		// lock), so any one still running does it.
		rcfg := retention.DefaultConfig()
		rcfg.Callbacks, rcfg.PII, rcfg.DeadLetters = sys.Cfg.CallbackRetention, sys.Cfg.PIIRetention, sys.Cfg.DeadLetterRetention
		if sys.JS != nil {
			rcfg.DLQ = sys.JS
		}
		job, err := retention.New(rcfg, sys.Pool, log.Named("retention"))
		if err != nil {
			return err
		}
		all = append(all, Part{Name: "retention", Runner: job})
	}
	if len(watches) > 0 {
		all = append(all, Part{Name: "sweeper", Runner: &outbox.Sweeper{Pool: sys.Pool, JS: sys.JS, Log: log.Named("sweeper"), After: sys.Cfg.SweepAfter, Watches: watches}})
	}

	// The parts outlive the HTTP server by the time they need to finish
	// the work in hand.
	partCtx, partCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer partCancel()
	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failed error
	for _, p := range all {
		if p.Runner == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Runner.Run(partCtx); err != nil {
				if partCtx.Err() != nil && errors.Is(err, context.Canceled) {
					// Stopped while it was still starting (declaring its
					// consumers): the end of its context, not a failure.
					log.Info("service stopped while starting", zap.String("service", p.Name))
					return
				}
				log.Error("service stopped", zap.String("service", p.Name), logging.Error(err))
				failMu.Lock()
				if failed == nil {
					failed = fmt.Errorf("%s: %w", p.Name, err)
				}
				failMu.Unlock()
				serveCancel()
			}
		}()
	}
	// Behind the proxies of NUISANCE_TRUSTED_PROXIES, a request's client
	// (which rate limits count against) is read from X-Forwarded-For.
	h := httpx.WithProblems(mux)
	for _, p := range parts {
		if p.Wrap != nil {
			h = p.Wrap(h)
		}
	}
	srv := &http.Server{Handler: httpx.TrustProxies(sys.Cfg.TrustedProxies, h), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	for _, p := range parts {
		if p.OnShutdown != nil {
			srv.RegisterOnShutdown(p.OnShutdown)
		}
	}
	if addr := sys.Cfg.DebugAddr; addr != "" {
		stop, err := serveDebug(serveCtx, addr)
		if err != nil {
			return err
		}
		defer stop()
		log.Info("profiler listening", zap.String("addr", addr))
	}
	err := httpx.Serve(serveCtx, srv, ln, 30*time.Second)
	log.Info("http stopped; draining services")
	partCancel()
	wg.Wait()
	log.Info("stopped")
	if failed != nil {
		return failed
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Main is the whole life of a one-service process (cmd/<service>): the
// configuration from getenv, JSON logs to stdout, NATS and PostgreSQL,
// the parts build returns, HTTP on NUISANCE_HTTP_ADDR, graceful shutdown.
func Main(ctx context.Context, name string, getenv func(string) string, stdout io.Writer, build func(*System) ([]Part, error)) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("process", name))
	log.Info("starting", zap.Any("config", cfg.Masked()))
	sys, err := Open(ctx, cfg, log, Options{Name: name})
	if err != nil {
		return err
	}
	defer sys.Close()
	parts, err := build(sys)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	log.Info(name+" is up", zap.String("http", ln.Addr().String()))
	return Serve(ctx, sys, ln, parts)
}

// Command is a process's main: SIGINT and SIGTERM end ctx for a graceful
// shutdown, and an error is printed and exits 1.
func Command(name string, run func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// serveDebug serves Go's profiler on addr until stop is called.
func serveDebug(ctx context.Context, addr string) (stop func(), err error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("NUISANCE_DEBUG_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
