package pgstore

import (
	"context"
	"errors"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// A rolling upgrade, or an operator's newer nuisance command, migrated
// the database to a version this binary does not know (99999, say, a
// column the new code fills and reads). An old replica that restarts
// must say so rather than run on it: goose passes over versions it does
// not know without a word, and the old code would not write what the
// newer reads (as a geocoder from before 00087 never marks a correction
// applied, and the newer officers' API then refuses every further
// correction of that complaint for good).
func TestMigrateRefusesASchemaNewerThanItself(t *testing.T) {
	ctx := context.Background()
	pool, err := Open(ctx, pgtest.DSN(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, pool); err != nil {
		t.Fatalf("CheckSchema on a database this binary migrated: %v", err)
	}
	// The newer version's migration.
	if _, err := pool.Exec(ctx, `ALTER TABLE triage_corrections ADD COLUMN reviewed_by text;
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, pool); !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("Migrate on a schema newer than the binary returned %v, want ErrSchemaNewer", err)
	}
	if err := CheckSchema(ctx, pool); !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("CheckSchema on a schema newer than the binary returned %v, want ErrSchemaNewer", err)
	}
}
