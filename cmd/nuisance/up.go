package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// upMemoryLimit is the all-in-one's soft memory limit unless GOMEMLIMIT
// sets another.
const upMemoryLimit = 320 << 20

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
	if getenv("GOMEMLIMIT") == "" {
		// One process holds the NATS server, every service and their
		// batches: the collector keeps the whole of it near this size
		// rather than at twice its live heap.
		debug.SetMemoryLimit(upMemoryLimit)
		log.Info("memory limit", zap.Int("soft_limit_mib", upMemoryLimit>>20), zap.String("override", "GOMEMLIMIT"))
	}

	// Held until nuisance up has stopped everything, its private
	// PostgreSQL included: operator commands see it and never start or
	// stop that cluster behind its back (openDB).
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	use, err := pgcluster.HoldUse(ctx, filepath.Join(cfg.DataDir, upLockName))
	if errors.Is(err, pgcluster.ErrInUse) {
		return fmt.Errorf("another nuisance up runs on the data directory %s: stop it first, or give this one another NUISANCE_DATA_DIR", cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer use.Release()

	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "nuisance", EmbedNATS: true, StopClusterOnClose: true, MaxConns: 40})
	if err != nil {
		return err
	}
	defer sys.Close()

	in, err := intake.New(intake.DefaultConfig(cfg.HotlineSecret), sys.Pool, log.Named("intake"))
	if err != nil {
		return err
	}
	parts := []app.Part{{Name: "intake", Runner: in, Routes: in.Routes, Wrap: in.RawLookups}}
	more, err := pipeline(ctx, sys)
	if err != nil {
		return err
	}
	parts = append(parts, more...)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "nuisance is up: intake %s/v1/hotline/complaints, officers' console %s/officer/, reports (with an officer's token) %s/reports/weekly/, health %s/readyz, metrics %s/metrics\n",
		base, base, base, base, base)
	if *demo {
		// The demo's simulated week belongs in a trial database only: not
		// beside the hotline's real work orders, and not where a callback
		// URL would send its cases to the hotline.
		if why, err := demoRefused(ctx, sys.Pool, cfg.CallbackURL); err != nil {
			return err
		} else if why != "" {
			log.Warn("no demo week: "+why, zap.String("hint", "run --demo with a data directory or database of its own"))
			*demo = false
		}
	}
	if *demo {
		go func() {
			if err := runDemo(ctx, base, cfg.HotlineSecret, *demoCount, stdout); err != nil && ctx.Err() == nil {
				log.Warn("demo feed", logging.Error(err))
			}
		}()
	}
	return app.Serve(ctx, sys, ln, parts)
}
