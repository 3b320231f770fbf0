package pgtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	pool, _, err := adminPool()
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	err = pool.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestDSNGivesEachTestItsOwnDatabase(t *testing.T) {
	t.Parallel()
	const tests = 4
	var mu sync.Mutex
	names := map[string]bool{}
	var open []*pgx.Conn

	t.Run("group", func(t *testing.T) {
		for i := range tests {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				pool := Pool(t, DSN(t))
				var name string
				if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
					t.Fatal(err)
				}
				// The same table in every test's database: creating it
				// would fail if two tests shared one.
				if _, err := pool.Exec(ctx, "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe VALUES (1)"); err != nil {
					t.Fatalf("database %s not empty or shared: %v", name, err)
				}
				if !databaseExists(t, name) {
					t.Errorf("database %s not listed", name)
				}
				// A session still open when the test ends must not keep
				// its database alive: it is closed only after the drop.
				conn, err := pgx.Connect(ctx, pool.Config().ConnString())
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[name] = true
				open = append(open, conn)
				mu.Unlock()
			})
		}
	})

	for _, conn := range open {
		conn.Close(context.Background())
	}
	if len(names) != tests {
		t.Fatalf("%d tests got %d distinct databases: %v", tests, len(names), names)
	}
	for name := range names {
		if !strings.HasPrefix(name, "t_") {
			t.Errorf("database %s is not a test database", name)
		}
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dsn, want string
	}{
		{"url", "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5433/t_x?sslmode=disable"},
		{"url without database", "postgresql://u:p@db:5432?sslmode=require", "postgresql://u:p@db:5432/t_x?sslmode=require"},
		{"keyword form", "host=/run/pg dbname=app user=u", "host=/run/pg dbname=app user=u dbname=t_x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := withDatabase(tt.dsn, "t_x")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("withDatabase(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}

func TestIsStale(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	fresh, err := newName(now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	old, err := newName(now.Add(-7 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		db   string
		want bool
	}{
		{"created an hour ago", fresh, false},
		{"created seven hours ago", old, true},
		{"someone else's t_ database", "t_reports", false},
		{"application database", "nuisance", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := isStale(tt.db, now); got != tt.want {
				t.Errorf("isStale(%q) = %v, want %v", tt.db, got, tt.want)
			}
		})
	}
}

func TestDropStaleKeepsFreshDatabases(t *testing.T) {
	t.Parallel()
	pool, _, err := adminPool()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	staleName, err := newName(time.Now().Add(-2 * staleAfter))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+staleName+" TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+staleName) })
	cfg, err := pgx.ParseConfig(DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	freshName := cfg.Database

	dropStale(ctx, pool, time.Now())

	if databaseExists(t, staleName) {
		t.Errorf("stale database %s kept", staleName)
	}
	if !databaseExists(t, freshName) {
		t.Errorf("fresh database %s dropped", freshName)
	}
}

// BenchmarkDSN measures creating a test database; the drops run at the
// benchmark's cleanup.
func BenchmarkDSN(b *testing.B) {
	for b.Loop() {
		DSN(b)
	}
}
