// Command officers runs the officers' API on its own: the team inboxes,
// case actions, the triage corrections and the live case stream, against
// the NATS and PostgreSQL of the environment. Tokens are managed with
// `nuisance officers`.
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
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/services/officers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "officers:", err)
		os.Exit(1)
	}
}

// run starts the service and its outbox relay, serves the API with
// /healthz, /readyz and /metrics until ctx ends, then closes the event
// streams, finishes the requests in flight and relays what they wrote;
// tests call it directly. It does not use app.Main because app.Serve has
// no hook to end streaming responses at shutdown.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("officers", flag.ContinueOnError)
	fs.SetOutput(stdout)
	def := officers.DefaultConfig()
	heartbeat := fs.Duration("heartbeat", def.Heartbeat, "interval of the event stream's keep-alive comments")
	cacheTTL := fs.Duration("token-cache", def.TokenCacheTTL, "how long a token lookup is reused (a disabled token works at most this long)")
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
	log.Info("starting", zap.Any("config", cfg.Masked()), zap.Duration("heartbeat", *heartbeat), zap.Duration("token_cache", *cacheTTL))

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "officers"})
	if err != nil {
		return err
	}
	defer sys.Close()

	cfgO := def
	cfgO.Heartbeat, cfgO.TokenCacheTTL = *heartbeat, *cacheTTL
	svc, err := officers.New(cfgO, sys.Pool, sys.JS, log.Named("officers"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpx.Ops(mux, sys.Checks()...)
	svc.Routes(mux)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}

	svcCtx, svcCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer svcCancel()
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(svcCtx) }()
	// The case transitions and triage corrections this process writes
	// leave through its own relay, like every process's.
	relay := &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log.Named("relay")}
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(svcCtx) }()

	serveCtx, serveCancel := context.WithCancel(ctx)
	defer serveCancel()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second}
	// Shutdown waits for responses to end; event streams end only when told.
	srv.RegisterOnShutdown(svc.CloseStreams)
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpx.Serve(serveCtx, srv, ln, 10*time.Second) }()
	log.Info("officers is up", zap.String("http", ln.Addr().String()))

	var svcErr error
	select {
	case svcErr = <-svcDone:
		serveCancel()
		err = <-serveDone
	case err = <-serveDone:
		svcCancel()
		svcErr = <-svcDone
	}
	svcCancel()
	if rerr := <-relayDone; rerr != nil && svcErr == nil {
		svcErr = fmt.Errorf("outbox relay: %w", rerr)
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
