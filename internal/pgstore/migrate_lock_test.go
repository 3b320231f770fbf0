package pgstore

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// withMigration is the embedded migrations and one more.
func withMigration(name, sql string) fs.FS {
	m := fstest.MapFS{}
	sub := mustSub(migrations, "migrations")
	ents, _ := fs.ReadDir(sub, ".")
	for _, e := range ents {
		b, _ := fs.ReadFile(sub, e.Name())
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	m[name] = &fstest.MapFile{Data: []byte(sql)}
	return m
}

// A rolling upgrade: the new version's first replica migrates at its
// start while the old replicas work, and a long read of case_audit (the
// weekly report's) is under way. The migration's ALTER TABLE waits for
// that read, and every statement on case_audit behind it must not wait
// with it: the router and the officers would stall for as long as the
// report takes. The migration gives way and is applied once the read ends.
func TestAMigrationWaitingForALockDoesNotStallTheTable(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	pool, err := Open(ctx, dsn, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}

	// The long read.
	report, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer report.Rollback(ctx) //nolint:errcheck
	if _, err := report.Exec(ctx, `SELECT count(*) FROM case_audit`); err != nil {
		t.Fatal(err)
	}

	migrated := make(chan error, 1)
	go func() {
		migrated <- migrate(ctx, pool, withMigration("99999_case_audit_note.sql",
			"-- +goose Up\nALTER TABLE case_audit ADD COLUMN test_note text;\n-- +goose Down\nALTER TABLE case_audit DROP COLUMN test_note;\n"))
	}()
	time.Sleep(time.Second) // the ALTER is queued behind the read

	// An officer's page reads case_audit meanwhile.
	start := time.Now()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, `SET statement_timeout = '8s'`)
	if err == nil {
		_, err = c.Exec(ctx, `SELECT count(*) FROM case_audit`)
	}
	_, _ = c.Exec(ctx, `RESET statement_timeout`)
	c.Release()
	if err != nil {
		t.Fatalf("a read of case_audit waited %s behind the migration's lock and failed: %v", time.Since(start).Round(time.Millisecond), err)
	}

	// The long read ends: the migration goes through.
	_ = report.Rollback(ctx)
	select {
	case err := <-migrated:
		if err != nil {
			t.Fatalf("migration after the read ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("migration not applied 30 s after the read ended")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'case_audit' AND column_name = 'test_note'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("column not added (%d, %v)", n, err)
	}
}

// Replicas starting together migrate one at a time. While one builds an
// index CONCURRENTLY, which waits for every transaction older than itself,
// the others waiting for their turn must not be such transactions: waiting
// in pg_advisory_lock, they were, and neither side ever went on (the
// multi-process deployment never became ready).
func TestReplicasMigratingTogetherBuildAnIndexConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	fsys := withMigration("99999_concurrent_index.sql", "-- +goose NO TRANSACTION\n-- +goose Up\n"+
		"SELECT pg_sleep(1);\nCREATE INDEX CONCURRENTLY case_audit_test_actor ON case_audit (actor);\n"+
		"-- +goose Down\nDROP INDEX CONCURRENTLY IF EXISTS case_audit_test_actor;\n")
	before := MigrateLockFor
	MigrateLockFor = 15 * time.Second
	defer func() { MigrateLockFor = before }()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			pool, err := Open(ctx, dsn, 4)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- migrate(ctx, pool, fsys)
		}()
	}
	for range 3 {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("a replica's migration: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the replicas' migrations did not end within a minute")
		}
	}
}
