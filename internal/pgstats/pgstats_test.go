package pgstats_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgstats"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The measure counts the statements run after its start, in its own
// database, without the excluded ones.
func TestMeasureCountsWhatRanSinceTheStart(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE pgstats_probe (n int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO pgstats_probe SELECT 1`); err != nil { // before the start: not counted
		t.Fatal(err)
	}
	m, err := pgstats.Start(ctx, pool, "%/* mine */%")
	if errors.Is(err, pgstats.ErrUnavailable) {
		t.Skipf("the server cannot count statements: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := pool.Exec(ctx, `INSERT INTO pgstats_probe VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `SELECT /* mine */ count(*) FROM pgstats_probe`); err != nil {
		t.Fatal(err)
	}
	calls, ms, _, err := m.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || ms <= 0 {
		t.Errorf("Totals: %d calls, %.3f ms; want the 3 inserts since the start, with some time", calls, ms)
	}
	top, err := m.Top(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Calls != 3 || top[0].Rows != 3 || !strings.HasPrefix(top[0].Query, "INSERT INTO pgstats_probe VALUES") {
		t.Errorf("Top: %+v, want the insert alone, 3 calls of 1 row", top)
	}
}

func TestShortCutsOnACharacterBoundary(t *testing.T) {
	for _, tc := range []struct {
		q    string
		n    int
		want string
	}{
		{"SELECT 1", 20, "SELECT 1"},
		{"SELECT 1", 6, "SELECT…"},
		{"投诉噪声", 4, "投…"}, // a cut inside the second character keeps the first whole
	} {
		if got := pgstats.Short(tc.q, tc.n); got != tc.want {
			t.Errorf("Short(%q, %d) = %q, want %q", tc.q, tc.n, got, tc.want)
		}
	}
}
