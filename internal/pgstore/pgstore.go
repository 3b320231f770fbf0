// Package pgstore opens the PostgreSQL pool and applies the embedded
// migrations. PostgreSQL is the system of record of the whole pipeline.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool and waits until the server answers, so that a
// process started together with its database does not fail at once.
func Open(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = pool.Ping(ctx)
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("ping database: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// MigrateLockTimeout bounds how long one statement of a migration waits
// for a table lock. Every process migrates at start, while the others
// run: an ALTER TABLE or CREATE INDEX queued behind a long transaction (a
// weekly report's read) would otherwise hold every reader and writer of
// the table queued behind it for as long as that transaction lasts, and
// stall the pipeline. The migration gives up the wait instead and tries
// again (MigrateLockFor).
var MigrateLockTimeout = 3 * time.Second

// MigrateLockFor is how long Migrate keeps trying a migration that timed
// out on a lock before it fails, naming the lock.
var MigrateLockFor = 5 * time.Minute

// Migrate applies every embedded migration not yet applied. Concurrent
// callers are serialised by an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate(ctx, pool, mustSub(migrations, "migrations"))
}

func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	// One process migrates at a time. The others poll for the lock rather
	// than wait in pg_advisory_lock: a statement waiting there holds a
	// snapshot, and a migration that builds an index CONCURRENTLY waits
	// for every snapshot older than itself, so the two would wait for
	// each other.
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(727274)").Scan(&got); err != nil {
			return fmt.Errorf("migrate lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate lock: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(727274)") //nolint:errcheck

	// A database migrated by a newer version (its first replica of a
	// rollout, or an operator's newer nuisance command) is not this
	// binary's to run on: its code does not write what the newer schema
	// expects (a column the newer code reads, a state it adds), and goose
	// would pass over the versions it does not know without a word.
	if err := checkNotNewer(ctx, conn, fsys); err != nil {
		return err
	}
	// The migrations run on a connection of their own, whose lock waits
	// are bounded.
	cc := pool.Config().ConnConfig.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["lock_timeout"] = strconv.FormatInt(MigrateLockTimeout.Milliseconds(), 10)
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	db.SetMaxOpenConns(1)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	deadline := time.Now().Add(MigrateLockFor)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		_, err := provider.Up(ctx)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: %w", err)
		case <-time.After(wait):
		}
	}
}

// ErrSchemaNewer is returned by Migrate and CheckSchema when the database
// has migrations this binary does not know.
var ErrSchemaNewer = errors.New("the database schema is newer than this binary")

// ErrSchemaBehind is returned by CheckSchema when the database lacks some
// of this binary's migrations.
var ErrSchemaBehind = errors.New("the database schema is older than this binary")

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// schemaVersions returns the versions applied to the database (none
// before the first migration) and those of fsys.
func schemaVersions(ctx context.Context, q querier, fsys fs.FS) (applied, known map[int64]bool, err error) {
	applied, known = map[int64]bool{}, map[int64]bool{}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if v, err := strconv.ParseInt(strings.SplitN(e.Name(), "_", 2)[0], 10, 64); err == nil && strings.HasSuffix(e.Name(), ".sql") {
			known[v] = true
		}
	}
	var exists bool
	rows, err := q.Query(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		if err := rows.Scan(&exists); err != nil {
			rows.Close()
			return nil, nil, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || !exists {
		return applied, known, err // never migrated: nothing applied
	}
	rows, err = q.Query(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, nil, err
		}
		applied[v] = true
	}
	return applied, known, rows.Err()
}

func diff(a, b map[int64]bool) []int64 {
	var out []int64
	for v := range a {
		if !b[v] {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func checkNotNewer(ctx context.Context, q querier, fsys fs.FS) error {
	applied, known, err := schemaVersions(ctx, q, fsys)
	if err != nil {
		return fmt.Errorf("migrate: read the schema's version: %w", err)
	}
	if unknown := diff(applied, known); len(unknown) > 0 {
		return fmt.Errorf("%w: it has migrations %v this binary does not know (a newer version migrated it): run the newer version", ErrSchemaNewer, unknown)
	}
	return nil
}

// CheckSchema reports whether the database has exactly this binary's
// migrations, without applying any: operator commands run it, so that a
// nuisance command newer than the services never migrates the production
// schema underneath them, and an older one never works on a schema it
// does not know.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	fsys := mustSub(migrations, "migrations")
	if err := checkNotNewer(ctx, pool, fsys); err != nil {
		return err
	}
	applied, known, err := schemaVersions(ctx, pool, fsys)
	if err != nil {
		return err
	}
	if missing := diff(known, applied); len(missing) > 0 {
		return fmt.Errorf("%w: it lacks migrations %v; the services (or nuisance up) apply them when the new version starts: upgrade them first, or run `nuisance migrate`", ErrSchemaBehind, missing)
	}
	return nil
}

// Fresh reports whether no migration was ever applied to the database.
func Fresh(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	applied, _, err := schemaVersions(ctx, pool, mustSub(migrations, "migrations"))
	return len(applied) == 0, err
}

// InTx runs fn in a transaction, committing when it returns nil.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
