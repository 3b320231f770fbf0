package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// An operator runs a nuisance newer than the services against the
// production database (`officers list`, `deadletters list`, ...). The
// command must not migrate the schema underneath the running services: it
// refuses, naming the way to migrate, and the schema stays as it was.
// `nuisance migrate` migrates, deliberately.
func TestOperatorCommandsDoNotMigrateTheSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	pool := pgtest.Pool(t, dsn)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The services run the version before this one's last migration.
	if _, err := pool.Exec(ctx, `DROP INDEX case_audit_reopens; DELETE FROM goose_db_version WHERE version_id = 88`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": dsn}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"officers", "list"}, getenv, &out, &errOut)
	if !errors.Is(err, pgstore.ErrSchemaBehind) {
		t.Errorf("officers list on a database behind the binary: %v, want a refusal (ErrSchemaBehind)", err)
	}
	var migrated bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('case_audit_reopens') IS NOT NULL`).Scan(&migrated); err != nil {
		t.Fatal(err)
	}
	if migrated {
		t.Fatal("officers list migrated the production schema underneath the services")
	}
	if err := run(ctx, []string{"migrate"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("nuisance migrate: %v", err)
	}
	if err := run(ctx, []string{"officers", "list"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("officers list after nuisance migrate: %v", err)
	}
}
