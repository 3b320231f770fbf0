// Command reporter runs the weekly hotspot report service on its own:
// it generates each week's report on Monday morning, catches up weeks
// missed while it was down, and serves the reports with /healthz, /readyz
// and /metrics on NUISANCE_HTTP_ADDR.
//
// It runs an outbox relay too, so its report.weekly.generated events
// reach NATS whether or not another process relays. The report routes
// accept the officers' bearer tokens of supervisors and admins, checked
// against the officers table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
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
	"github.com/xiamen-eeb/nuisance/services/reporter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reporter:", err)
		os.Exit(1)
	}
}

// run starts the service and blocks until ctx ends; tests call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %v: the reporter is configured by the environment", args)
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
	log.Info("starting", zap.Any("config", cfg.Masked()))

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "reporter"})
	if err != nil {
		return err
	}
	defer sys.Close()

	tokens := auth.NewStore(sys.Pool, auth.DefaultCacheTTL)
	svc, err := reporter.New(reporter.DefaultConfig(tokens.Authorizer().Role()), sys.Pool, log.Named("reporter"))
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
	log.Info("serving", zap.String("addr", ln.Addr().String()))

	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer svcCancel()
	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	var wg sync.WaitGroup
	var runErr error
	relay := &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log.Named("relay")}
	wg.Go(func() {
		if err := relay.Run(svcCtx); err != nil {
			log.Error("outbox relay stopped", zap.Error(err))
		}
	})
	wg.Go(func() {
		if runErr = svc.Run(svcCtx); runErr != nil {
			log.Error("reporter stopped", zap.Error(runErr))
			serveCancel()
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	err = httpx.Serve(serveCtx, srv, ln, 30*time.Second)
	svcCancel()
	wg.Wait()
	log.Info("stopped")
	return errors.Join(err, runErr)
}
