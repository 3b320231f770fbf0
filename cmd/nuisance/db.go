package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// openDB connects an operator command to the same database `nuisance up`
// uses: DATABASE_URL, or the private cluster `nuisance up` created in the
// data directory. It never creates one: a command run with another
// NUISANCE_DATA_DIR than `nuisance up` would otherwise work on a new,
// empty database. A cluster it had to start (nuisance up is not running)
// is stopped again by the returned close. While nuisance up holds the
// data directory (upLockName) it starts nothing: a cluster down then is
// nuisance up's outage, or a maintenance, and the command refuses rather
// than hide it and cut nuisance up's sessions at its stop. The schema
// must be the one this binary was built for: it is checked, not migrated.
func openDB(ctx context.Context, getenv func(string) string, stderr io.Writer) (*pgxpool.Pool, func(), error) {
	return openDBFor(ctx, getenv, stderr, false)
}

func openDBFor(ctx context.Context, getenv func(string) string, stderr io.Writer, migrate bool) (*pgxpool.Pool, func(), error) {
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
	dsn, cluster, err := openCluster(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if cluster != nil && cluster.Started {
			stopStarted(ctx, cfg.DataDir, cluster, stderr)
		}
	}
	pool, err := pgstore.Open(ctx, dsn, 4)
	if err != nil {
		stop()
		return nil, nil, err
	}
	// An operator's command never migrates: a nuisance newer than the
	// services would change the production schema underneath them (and
	// every command, listing included, did). It works on the schema it
	// was built for only; `nuisance migrate` migrates, deliberately.
	// A database never migrated (a new one: no service runs on it yet) is
	// migrated.
	check := pgstore.CheckSchema
	if fresh, err := pgstore.Fresh(ctx, pool); err != nil || fresh || migrate {
		check = pgstore.Migrate
	}
	if err := check(ctx, pool); err != nil {
		pool.Close()
		stop()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); stop() }, nil
}

// upLockName is the file in the data directory that nuisance up holds
// locked (pgcluster.HoldUse) for its whole life, so that operator
// commands know it runs and never start or stop its private PostgreSQL.
const upLockName = pgcluster.UseLockFile

// openCluster returns the DSN of the database and, without DATABASE_URL,
// the private cluster. While nuisance up holds the data directory the
// cluster must be running already; otherwise the command starts it if
// need be, holding the lock shared so that a nuisance up starting
// meanwhile waits until the cluster is up.
func openCluster(ctx context.Context, cfg config.Config, log *zap.Logger) (string, *pgcluster.Cluster, error) {
	if cfg.DatabaseURL != "" {
		return app.OpenDB(ctx, cfg, log)
	}
	use, err := pgcluster.ShareUse(filepath.Join(cfg.DataDir, upLockName))
	if errors.Is(err, pgcluster.ErrInUse) {
		pgDir := filepath.Join(cfg.DataDir, "pg")
		c, err := pgcluster.Attach(ctx, pgDir, log)
		if errors.Is(err, pgcluster.ErrNotRunning) {
			return "", nil, fmt.Errorf("the private PostgreSQL of the running `nuisance up` (%s) is not running: "+
				"if nuisance up is starting, run this command again in a few seconds; otherwise nuisance up is not ready until it is back: "+
				"start it again (stopping and starting nuisance up does), then run this command again; "+
				"this command does not start it behind nuisance up's back", pgDir)
		}
		if err != nil {
			return "", nil, err
		}
		// Never Started: the returned close leaves it running.
		return c.DSN(pgcluster.DefaultDatabase), c, nil
	}
	if err != nil {
		return "", nil, err
	}
	defer use.Release()
	return app.OpenDB(ctx, cfg, log)
}

// stopStarted stops the private cluster a command started, unless a
// nuisance up started since then and works on it.
func stopStarted(ctx context.Context, dataDir string, cluster *pgcluster.Cluster, stderr io.Writer) {
	use, err := pgcluster.ShareUse(filepath.Join(dataDir, upLockName))
	if errors.Is(err, pgcluster.ErrInUse) {
		fmt.Fprintf(stderr, "the private PostgreSQL this command started is left running: nuisance up uses it now\n")
		return
	}
	if err != nil {
		fmt.Fprintf(stderr, "stop the private PostgreSQL this command started: %v\n", err)
		return
	}
	defer use.Release()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := cluster.Stop(sctx); err != nil {
		fmt.Fprintf(stderr, "stop the private PostgreSQL this command started: %v\n", err)
	}
}

// runMigrate applies this version's migrations to the database: what the
// services and nuisance up do at their start, for an operator who
// upgrades the schema ahead of them.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("migrate takes no arguments")
	}
	_, closeDB, err := openDBFor(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	closeDB()
	fmt.Fprintln(stdout, "the database schema is up to date")
	return nil
}
