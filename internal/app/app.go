// Package app assembles the infrastructure every process runs on: NATS
// (embedded or a URL), PostgreSQL (a URL or the private cluster),
// migrations and streams. The all-in-one command and each service's own
// command build on it, so both run the same code.
package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// System is the shared infrastructure of one process.
type System struct {
	Cfg  config.Config
	Log  *zap.Logger
	Pool *pgxpool.Pool
	NC   *nats.Conn
	JS   jetstream.JetStream
	// ReadyEvery is how often Serve runs the readiness checks for
	// nuisance_ready between requests to /readyz (default 5 s).
	ReadyEvery time.Duration

	embedded *natsx.Embedded
	cluster  *pgcluster.Cluster
}

// Options say which parts a process needs.
type Options struct {
	Name string
	// EmbedNATS starts an in-process nats-server when NATS_URL is unset
	// (the all-in-one mode); otherwise nats://127.0.0.1:4222 is the default.
	EmbedNATS bool
	// NoNATS skips NATS (CLI commands that only read the database).
	NoNATS bool
	// StopClusterOnClose stops a private PostgreSQL cluster this process
	// started when the process exits.
	StopClusterOnClose bool
	MaxConns           int32
}

// OpenDB finds the database the same way every command does: DATABASE_URL,
// or the private cluster under the data directory, started if needed.
func OpenDB(ctx context.Context, cfg config.Config, log *zap.Logger) (dsn string, cluster *pgcluster.Cluster, err error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, nil, nil
	}
	c, err := pgcluster.Ensure(ctx, filepath.Join(cfg.DataDir, "pg"), log)
	if err != nil {
		return "", nil, err
	}
	return c.DSN(pgcluster.DefaultDatabase), c, nil
}

// Open connects (or starts) NATS and PostgreSQL, runs the migrations and
// declares the streams.
func Open(ctx context.Context, cfg config.Config, log *zap.Logger, opt Options) (*System, error) {
	s := &System{Cfg: cfg, Log: log}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	dsn, cluster, err := OpenDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.cluster = cluster
	if !opt.StopClusterOnClose {
		s.cluster = nil
	}
	if s.Pool, err = pgstore.Open(ctx, dsn, opt.MaxConns); err != nil {
		return nil, err
	}
	if err := pgstore.Migrate(ctx, s.Pool); err != nil {
		return nil, err
	}
	if opt.NoNATS {
		ok = true
		return s, nil
	}
	url := cfg.NATSURL
	if url == "" {
		if opt.EmbedNATS {
			s.embedded, err = natsx.StartEmbedded(filepath.Join(cfg.DataDir, "nats"), 0)
			if err != nil {
				return nil, err
			}
			url = s.embedded.URL()
			log.Info("embedded nats-server started", zap.String("url", url), zap.String("store", filepath.Join(cfg.DataDir, "nats")))
		} else {
			url = "nats://127.0.0.1:4222"
		}
	}
	var opts []nats.Option
	if s.embedded != nil {
		opts = append(opts, nats.InProcessServer(s.embedded.Server))
	}
	if s.NC, err = natsx.Connect(url, opt.Name, log, opts...); err != nil {
		return nil, err
	}
	if s.JS, err = jetstream.New(s.NC, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(10*time.Second)); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		err = natsx.DeclareStreams(dctx, s.JS, cfg.StreamReplicas)
		if err == nil || dctx.Err() != nil {
			break
		}
		log.Warn("declare streams, retrying", logging.Error(err))
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Checks are the readiness probes: NATS, JetStream and PostgreSQL.
func (s *System) Checks() []httpx.Check {
	var checks []httpx.Check
	if s.Pool != nil {
		checks = append(checks, httpx.Check{Name: "postgres", Fn: func(ctx context.Context) error { return s.Pool.Ping(ctx) }})
	}
	if s.NC != nil {
		checks = append(checks,
			httpx.Check{Name: "nats", Fn: func(context.Context) error {
				if !s.NC.IsConnected() {
					return fmt.Errorf("not connected (%s)", s.NC.Status())
				}
				return nil
			}},
			httpx.Check{Name: "jetstream", Fn: func(ctx context.Context) error {
				_, err := s.JS.AccountInfo(ctx)
				return err
			}})
	}
	return checks
}

// Close drains NATS, closes the pool and stops what this process started.
func (s *System) Close() {
	if s.NC != nil {
		_ = s.NC.Drain()
		for i := 0; i < 50 && !s.NC.IsClosed(); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		s.NC.Close()
	}
	if s.Pool != nil {
		s.Pool.Close()
	}
	if s.embedded != nil {
		s.embedded.Shutdown()
	}
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.cluster.Stop(ctx); err != nil {
			s.Log.Warn("stop private postgres", logging.Error(err))
		}
	}
}
