package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// loadgen empties the complaints and the outbox before it measures: on a
// database that holds work orders (DATABASE_URL left set to the system's
// own) it refuses unless told to, and the work orders stay.
func TestLoadgenLeavesAnotherDatabasesWorkOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	pool := pgtest.Pool(t, dsn)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, channel)
		VALUES ('cmp_kept', 'T-kept', now(), '夜间施工噪音', 'phone')`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir()}
	err := run(ctx, []string{"-duration", "1s", "-raw", "10", "-clients", "1"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-wipe") {
		t.Fatalf("loadgen on a database holding a work order: %v, want a refusal naming -wipe", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM complaints WHERE id = 'cmp_kept'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the work order is gone (%d, %v)", n, err)
	}
}
