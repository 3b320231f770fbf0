// Package pgtest gives every test its own empty PostgreSQL database on a
// real server, so tests run in parallel without seeing each other's rows
// and without mocks of the database.
//
// The server is, in order: TEST_DATABASE_URL, DATABASE_URL, or a private
// test cluster (see pgcluster) under $NUISANCE_TEST_PG_DIR, by default
// /tmp/nuisance-test-pg. The private cluster runs without fsync, is shared
// by every test process and package, and is left running after the tests
// so the next package starts in milliseconds; `make test` stops it at the
// end with
//
//	go run ./internal/pgtest/cmd/pgtest-stop
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
)

// DefaultClusterDir is where the shared private test cluster lives when
// NUISANCE_TEST_PG_DIR is unset: under /tmp, which the unprivileged user
// running PostgreSQL can always reach.
const DefaultClusterDir = "/tmp/nuisance-test-pg"

// staleAfter is how old a test database must be before a later test
// process drops it as left behind by a killed run; far beyond any test
// timeout.
const staleAfter = 6 * time.Hour

// dbName matches the databases this package creates: t_<unix seconds>_<random>.
var dbName = regexp.MustCompile(`^t_([0-9]{10})_[0-9a-f]{12}$`)

// ClusterDir is the directory of the shared private test cluster, so the
// command that stops it and the tests agree on it.
func ClusterDir() string {
	if dir := os.Getenv("NUISANCE_TEST_PG_DIR"); dir != "" {
		return dir
	}
	return DefaultClusterDir
}

// server is the administrative connection to the test server, set up once
// per test process.
var server struct {
	once sync.Once
	pool *pgxpool.Pool
	dsn  string
	err  error
	// createSuffix ends CREATE DATABASE: the FILE_COPY strategy where the
	// server has it (PostgreSQL 15+) and runs without fsync, as the
	// private test cluster does. There it is about twice as fast as
	// WAL_LOG for an empty database; elsewhere its checkpoints cost more.
	createSuffix string
}

func adminPool() (*pgxpool.Pool, string, error) {
	server.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		server.dsn, server.err = serverDSN(ctx)
		if server.err != nil {
			return
		}
		cfg, err := pgxpool.ParseConfig(server.dsn)
		if err != nil {
			server.err = fmt.Errorf("parse test server DSN: %w", err)
			return
		}
		cfg.MaxConns = 4
		server.pool, server.err = pgxpool.NewWithConfig(ctx, cfg)
		if server.err != nil {
			server.err = fmt.Errorf("connect to test server: %w", server.err)
			return
		}
		if err := server.pool.Ping(ctx); err != nil {
			server.err = fmt.Errorf("connect to test server: %w", err)
			return
		}
		server.createSuffix = " TEMPLATE template0 ENCODING 'UTF8'"
		var version int
		var fsync string
		err = server.pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('fsync')").Scan(&version, &fsync)
		if err == nil && version >= 150000 && fsync == "off" {
			server.createSuffix += " STRATEGY FILE_COPY"
		}
		dropStale(ctx, server.pool, time.Now())
	})
	return server.pool, server.dsn, server.err
}

// serverDSN picks the server the test databases are created on.
func serverDSN(ctx context.Context) (string, error) {
	for _, env := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if dsn := os.Getenv(env); dsn != "" {
			return dsn, nil
		}
	}
	c, err := pgcluster.EnsureWith(ctx, pgcluster.Options{
		Dir:      ClusterDir(),
		Fast:     true,
		Database: "postgres",
	})
	if err != nil {
		return "", fmt.Errorf("start the private test cluster (or set TEST_DATABASE_URL): %w", err)
	}
	return c.DSN("postgres"), nil
}

// DSN returns the connection string of a new, empty database that belongs
// to this test alone and is dropped when the test ends, even with
// sessions still open. Safe to call from parallel tests.
func DSN(t testing.TB) string {
	t.Helper()
	pool, base, err := adminPool()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name, err := newName(time.Now())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// template0 takes no connections, so concurrent creations never find
	// their template busy.
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+name+server.createSuffix); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Pool opens a connection pool on dsn that is closed when the test ends,
// before the database of DSN is dropped.
func Pool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	return pool
}

// newName is a database name unique across processes that records its
// creation time, so leftovers of killed runs can be recognised later.
func newName(now time.Time) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return fmt.Sprintf("t_%010d_%s", now.Unix(), hex.EncodeToString(b)), nil
}

// withDatabase points a DSN, URL or key=value form, at database db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse test server URL: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	// In the key=value form a later keyword overrides an earlier one.
	return strings.TrimSpace(dsn) + " dbname=" + db, nil
}

// isStale reports whether name is a database of this package created
// more than staleAfter before now.
func isStale(name string, now time.Time) bool {
	m := dbName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	sec, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return false
	}
	return now.Sub(time.Unix(sec, 0)) > staleAfter
}

// dropStale drops test databases that killed test processes never
// cleaned up. Failing to is harmless, so errors are ignored.
func dropStale(ctx context.Context, pool *pgxpool.Pool, now time.Time) {
	rows, err := pool.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil && isStale(name, now) {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		_, _ = pool.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}
