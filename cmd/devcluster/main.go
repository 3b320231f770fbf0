// Command devcluster runs the distributed deployment on this machine
// without Docker, as `make cluster` does: three clustered nats-server
// processes with JetStream and a user per service, PostgreSQL
// (DATABASE_URL, or the private cluster under the data directory), and
// every service as its own process on streams replicated three times,
// behind the gateway that serves the officers' console and its APIs on
// one address. It prints where everything listens and stops it all on
// Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/deploy"
	"github.com/xiamen-eeb/nuisance/deploy/devcluster"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		os.Exit(1)
	}
}

// run builds the binaries, starts the cluster, reports its addresses and
// waits for ctx to end, then stops the processes it started.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("devcluster", flag.ContinueOnError)
	fs.SetOutput(stdout)
	repo := fs.String("repo", ".", "the module's root directory")
	bin := fs.String("bin", "bin", "where nats-server and the service binaries are built")
	intakeAddr := fs.String("intake-addr", "127.0.0.1:8080", "HTTP address of the intake (the hotline posts here)")
	consoleAddr := fs.String("console-addr", "127.0.0.1:8090", "HTTP address of the gateway: the officers' console and every API it calls")
	officersAddr := fs.String("officers-addr", "", "HTTP address of the officers' process behind the gateway (default: a free port)")
	only := fs.String("services", "", "comma-separated services to run (default: every service whose command exists)")
	noBuild := fs.Bool("no-build", false, "use the binaries already in -bin")
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
	path, created, err := cfg.EnsureSecret()
	if err != nil {
		return err
	}
	if created {
		log.Info("generated a hotline secret", zap.String("file", path))
	}

	services := devcluster.Available(*repo)
	if *only != "" {
		services = strings.Split(*only, ",")
	}
	if !*noBuild {
		log.Info("building", zap.String("bin", *bin), zap.Strings("services", services))
		if err := devcluster.Build(ctx, *repo, *bin, append(slices.Clone(services), devcluster.GatewayCommand)); err != nil {
			return err
		}
	}
	env := []string{"HOTLINE_SECRET=" + cfg.HotlineSecret, "LOG_LEVEL=" + cfg.LogLevel, "NUISANCE_SWEEP_AFTER=" + cfg.SweepAfter.String()}
	if cfg.CallbackURL != "" {
		env = append(env, "HOTLINE_CALLBACK_URL="+cfg.CallbackURL)
	}
	if cfg.DatabaseURL == "" {
		// As nuisance up holds its data directory: the operator's
		// commands never start or stop this cluster's PostgreSQL behind
		// its back, and a second make cluster on it is refused.
		dir := filepath.Join(cfg.DataDir, "cluster")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		use, err := pgcluster.HoldUse(ctx, filepath.Join(dir, pgcluster.UseLockFile))
		if err != nil {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
		defer use.Release()
	}
	c, err := devcluster.Start(ctx, devcluster.Config{
		Repo:        *repo,
		Dir:         filepath.Join(cfg.DataDir, "cluster"),
		Bin:         *bin,
		DatabaseURL: cfg.DatabaseURL,
		Services:    services,
		Addrs:       map[string]string{"intake": *intakeAddr, "officers": *officersAddr},
		Env:         env,
		Gateway:     true,
		GatewayAddr: *consoleAddr,
		Log:         log,
	})
	if err != nil {
		return err
	}
	defer func() {
		c.Stop()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.StopPostgres(sctx); err != nil {
			log.Warn("stop the private PostgreSQL", logging.Error(err))
		}
	}()
	fmt.Fprintf(stdout, "\nNATS cluster (R%d streams):\n", devcluster.Nodes)
	for _, p := range c.NATS {
		fmt.Fprintf(stdout, "  %-9s nats://%s   log %s\n", p.Name, p.Addr, p.LogFile())
	}
	fmt.Fprintf(stdout, "  %-9s URL with credentials in %s\n", deploy.OperatorUser, c.OperatorURLFile())
	fmt.Fprintln(stdout, "Services:")
	for _, p := range c.Services {
		fmt.Fprintf(stdout, "  %-9s http://%s   pid %d   log %s\n", p.Name, p.Addr, p.Pid(), p.LogFile())
	}
	if g := c.Gateway; g != nil {
		fmt.Fprintf(stdout, "Gateway:\n  %-9s http://%s   pid %d   log %s\n", g.Name, g.Addr, g.Pid(), g.LogFile())
		fmt.Fprintf(stdout, "  routes    %s\n", c.GatewayRoutes())
		fmt.Fprintf(stdout, "Officers' console: http://%s/officer/ (the gateway; the hotline posts to the intake).\n", g.Addr)
	}
	fmt.Fprintf(stdout, "Hotline secret in %s. Ctrl-C stops the cluster.\n", cfg.SecretFile())
	if cfg.DatabaseURL == "" {
		// The operator's commands reach the cluster's own PostgreSQL,
		// not make run's, through its data directory.
		fmt.Fprintf(stdout, "Operator commands on this cluster's database: NUISANCE_DATA_DIR=%s go run ./cmd/nuisance officers add --team siming-eco --name 李警官\n",
			filepath.Join(cfg.DataDir, "cluster"))
	}
	<-ctx.Done()
	log.Info("stopping the cluster")
	return nil
}
