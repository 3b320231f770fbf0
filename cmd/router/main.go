// Command router runs the router service on its own: it turns clustered
// complaints into cases assigned to the responsible teams, routes returned
// cases again and escalates overdue ones, against the NATS and PostgreSQL
// of the environment.
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
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/services/router"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "router:", err)
		os.Exit(1)
	}
}

// run starts the service and serves /healthz, /readyz and /metrics until
// ctx ends, then drains the consumers; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stdout)
	def := router.DefaultConfig()
	batch := fs.Int("batch", def.Batch, "complaints handled per transaction")
	maxDeliver := fs.Int("max-deliver", def.MaxDeliver, "deliveries before a message is dead-lettered")
	timerEvery := fs.Duration("timer-every", def.TimerEvery, "how often overdue cases are looked for")
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
	log.Info("starting", zap.Any("config", cfg.Masked()), zap.Int("batch", *batch), zap.Int("max_deliver", *maxDeliver), zap.Duration("timer_every", *timerEvery))

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "router"})
	if err != nil {
		return err
	}
	defer sys.Close()

	cfgR := def
	cfgR.Batch, cfgR.MaxDeliver, cfgR.TimerEvery = *batch, *maxDeliver, *timerEvery
	svc, err := router.New(cfgR, sys.Pool, sys.JS, log.Named("router"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpx.Ops(mux, sys.Checks()...)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}

	// The consumers outlive the HTTP server by the time they need to finish
	// the batches in hand.
	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer svcCancel()
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(svcCtx) }()

	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpx.Serve(serveCtx, srv, ln, 10*time.Second) }()
	log.Info("router is up", zap.String("http", ln.Addr().String()))

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
	log.Info("stopped")
	if svcErr != nil {
		return svcErr
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
