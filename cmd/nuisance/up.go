package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// runner is anything that works until its context ends.
type runner interface {
	Run(ctx context.Context) error
}

type namedRunner struct {
	name string
	r    runner
}

func runUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "replay a generated week of complaints after start")
	demoCount := fs.Int("demo-count", 3000, "complaints in the demo week")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	secretPath, created, err := cfg.EnsureSecret()
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "hotline secret generated and kept in %s (set HOTLINE_SECRET to use your own)\n", secretPath)
	}
	log.Info("starting", zap.Any("config", cfg.Masked()))

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "nuisance", EmbedNATS: true, StopClusterOnClose: true, MaxConns: 40})
	if err != nil {
		return err
	}
	defer sys.Close()

	in, err := intake.New(intake.DefaultConfig(cfg.HotlineSecret), sys.Pool, log.Named("intake"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	in.Routes(mux)
	httpx.Ops(mux, sys.Checks()...)

	runners := []namedRunner{
		{"intake", in},
		{"outbox-relay", &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log.Named("relay")}},
	}
	svc, watches, err := pipeline(ctx, sys, mux)
	if err != nil {
		return err
	}
	runners = append(runners, svc...)
	runners = append(runners, namedRunner{"sweeper", &outbox.Sweeper{Pool: sys.Pool, JS: sys.JS, Log: log.Named("sweeper"), After: cfg.SweepAfter, Watches: watches}})

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "nuisance is up: intake %s/v1/hotline/complaints, health %s/readyz, metrics %s/metrics\n", base, base, base)

	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, len(runners))
	for _, nr := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nr.r.Run(svcCtx); err != nil {
				log.Error("service stopped", zap.String("service", nr.name), zap.Error(err))
				errc <- fmt.Errorf("%s: %w", nr.name, err)
			}
		}()
	}
	if *demo {
		go func() {
			if err := runDemo(ctx, base, cfg.HotlineSecret, *demoCount, stdout); err != nil && ctx.Err() == nil {
				log.Warn("demo feed", zap.Error(err))
			}
		}()
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	go func() {
		select {
		case err := <-errc:
			log.Error("shutting down after a service failed", zap.Error(err))
			serveCancel()
		case <-serveCtx.Done():
		}
	}()
	err = httpx.Serve(serveCtx, srv, ln, 30*time.Second)
	log.Info("http stopped; draining services")
	svcCancel()
	wg.Wait()
	log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
