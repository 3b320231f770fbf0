// Command hotspots runs the hotspot detector on its own: it clusters the
// located complaints of its districts into repeat-complaint hotspots,
// publishes them, and serves GET /api/v1/hotspots, against the NATS and
// PostgreSQL of the environment. Run one process per district partition
// (-districts siming,huli); partitions must not overlap.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hotspots:", err)
		os.Exit(1)
	}
}

// run starts the detector, its outbox relay and the HTTP server (the API,
// /healthz, /readyz and /metrics) until ctx ends, then drains the
// consumers; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hotspots", flag.ContinueOnError)
	fs.SetOutput(stdout)
	def := hotspots.DefaultConfig()
	districts := fs.String("districts", getenv("NUISANCE_HOTSPOT_DISTRICTS"), "comma-separated district slugs of this partition (empty: every district)")
	batch := fs.Int("batch", def.Batch, "complaints handled per transaction")
	maxDeliver := fs.Int("max-deliver", def.MaxDeliver, "deliveries before a message is dead-lettered")
	relay := fs.Bool("relay", true, "run an outbox relay in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	hc := def
	hc.Batch, hc.MaxDeliver = *batch, *maxDeliver
	if *districts != "" {
		hc.Districts = strings.Split(*districts, ",")
	}
	log.Info("starting", zap.Any("config", cfg.Masked()), zap.Strings("districts", hc.Districts),
		zap.Int("batch", hc.Batch), zap.Int("max_deliver", hc.MaxDeliver), zap.Bool("relay", *relay))

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "hotspots"})
	if err != nil {
		return err
	}
	defer sys.Close()

	hc.Authorize = auth.NewStore(sys.Pool, auth.DefaultCacheTTL).Authorizer()
	svc, err := hotspots.New(hc, sys.Pool, sys.JS, log.Named("hotspots"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	httpx.Ops(mux, sys.Checks()...)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}

	// The consumers and the relay outlive the HTTP server by the time they
	// need to finish the batches in hand.
	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer svcCancel()
	var wg sync.WaitGroup
	if *relay {
		r := &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log.Named("relay")}
		wg.Go(func() {
			if err := r.Run(svcCtx); err != nil {
				log.Error("outbox relay stopped", zap.Error(err))
			}
		})
	}
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(svcCtx) }()

	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpx.Serve(serveCtx, srv, ln, 10*time.Second) }()
	log.Info("hotspots is up", zap.String("http", ln.Addr().String()), zap.String("consumer", svc.Durable()))

	var svcErr error
	select {
	case svcErr = <-svcDone:
		// The consumers stopped on their own: a failure, reported below.
		serveCancel()
		err = <-serveDone
	case err = <-serveDone:
		svcCancel()
		svcErr = <-svcDone
	}
	svcCancel()
	wg.Wait()
	log.Info("stopped")
	if svcErr != nil {
		return svcErr
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
