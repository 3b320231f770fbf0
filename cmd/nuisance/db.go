package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// openDB connects an operator command to the same database `nuisance up`
// uses: DATABASE_URL, or the private cluster `nuisance up` created in the
// data directory. It never creates one: a command run with another
// NUISANCE_DATA_DIR than `nuisance up` would otherwise work on a new,
// empty database. A cluster it had to start (nuisance up is not running)
// is stopped again by the returned close. Migrations are applied.
func openDB(ctx context.Context, getenv func(string) string, stderr io.Writer) (*pgxpool.Pool, func(), error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "pg", "data", "PG_VERSION")); err != nil {
			return nil, nil, fmt.Errorf("no database in %s: run `nuisance up` (make run) once with the same NUISANCE_DATA_DIR, or set DATABASE_URL", cfg.DataDir)
		}
	}
	log, err := logging.New("warn", stderr)
	if err != nil {
		return nil, nil, err
	}
	dsn, cluster, err := app.OpenDB(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if cluster != nil && cluster.Started {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				fmt.Fprintf(stderr, "stop the private PostgreSQL this command started: %v\n", err)
			}
		}
	}
	pool, err := pgstore.Open(ctx, dsn, 4)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		stop()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); stop() }, nil
}
