package pgstore

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every process migrates at its start while the others run on the same
// tables, so a migration must not hold a table's writers for longer than
// a moment: a plain CREATE INDEX blocks every write to the table for the
// whole build (minutes on callbacks or case_audit after a few years).
// Migrations after 00086 (the last one released before the migrations
// ran with a lock timeout; 00087 and 00088 came with it and are checked
// too) build their indexes CONCURRENTLY, outside a transaction (-- +goose
// NO TRANSACTION), and a new column has no volatile default (which
// rewrites the table under its lock, as 00070 did to the outbox). The
// earlier ones ran long ago and are left as they are.
func TestNewMigrationsDoNotBlockWriters(t *testing.T) {
	const lastUnchecked = 86
	plainIndex := regexp.MustCompile(`(?i)\bCREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON\b`)
	concurrent := regexp.MustCompile(`(?i)\bCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b`)
	noTx := regexp.MustCompile(`(?m)^--\s*\+goose\s+NO\s+TRANSACTION\s*$`)
	dropsFirst := regexp.MustCompile(`(?i)\bDROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\b`)
	volatileDefault := regexp.MustCompile(`(?i)ADD\s+COLUMN[^;]*DEFAULT\s+(now|clock_timestamp|random|gen_random_uuid|pg_current_xact_id)\s*\(`)
	sub := mustSub(migrations, "migrations")
	ents, _ := fs.ReadDir(sub, ".")
	for _, e := range ents {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil || v <= lastUnchecked {
			continue
		}
		b, _ := fs.ReadFile(sub, e.Name())
		up := string(b)
		if i := strings.Index(up, "-- +goose Down"); i >= 0 {
			up = up[:i]
		}
		if concurrent.MatchString(up) && !noTx.MatchString(string(b)) {
			t.Errorf("%s: CREATE INDEX CONCURRENTLY cannot run in the migration's transaction: add -- +goose NO TRANSACTION", e.Name())
		}
		if concurrent.MatchString(up) && !dropsFirst.MatchString(up) {
			t.Errorf("%s: a CREATE INDEX CONCURRENTLY that gave up on a lock (lock_timeout) leaves an INVALID index, which IF NOT EXISTS then keeps: drop it (DROP INDEX CONCURRENTLY IF EXISTS) before creating it", e.Name())
		}
		if plainIndex.MatchString(up) {
			t.Errorf("%s: CREATE INDEX without CONCURRENTLY (and -- +goose NO TRANSACTION) blocks the table's writers for the whole build", e.Name())
		}
		if volatileDefault.MatchString(up) {
			t.Errorf("%s: ADD COLUMN with a volatile default rewrites the table under an exclusive lock", e.Name())
		}
	}
}
