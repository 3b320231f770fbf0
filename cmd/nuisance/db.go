package main

import (
	"context"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// openDB connects an operator command to the same database `nuisance up`
// uses: DATABASE_URL, or the private cluster in the data directory,
// started when it is not running. Migrations are applied.
func openDB(ctx context.Context, getenv func(string) string, stderr io.Writer) (*pgxpool.Pool, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	log, err := logging.New("warn", stderr)
	if err != nil {
		return nil, err
	}
	dsn, _, err := app.OpenDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	pool, err := pgstore.Open(ctx, dsn, 4)
	if err != nil {
		return nil, err
	}
	if err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
