package reporter

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Every status a hotspot takes is recorded with its time, whichever
// statement sets it, and nothing else: the count and last complaint that
// every complaint rewrites leave no trace.
func TestHotspotStatusesAreRecordedAsTheyChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at)
		VALUES ('hs-t', 'noise', 'siming', 'emerging', 2, now(), now())`)
	exec(`UPDATE hotspots SET complaint_count = 3, updated_at = now() WHERE id = 'hs-t'`)
	exec(`UPDATE hotspots SET status = 'active', complaint_count = 4 WHERE id = 'hs-t'`)
	exec(`UPDATE hotspots SET status = 'active', complaint_count = 5 WHERE id = 'hs-t'`)
	// As the detector's batches store a hotspot.
	exec(`INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at)
		VALUES ('hs-t', 'noise', 'siming', 'escalated', 6, now(), now())
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, complaint_count = EXCLUDED.complaint_count`)
	// As a tick does.
	exec(`UPDATE hotspots h SET status = t.status FROM unnest('{hs-t}'::text[], '{cooling}'::text[]) AS t(id, status) WHERE h.id = t.id`)
	rows, err := pool.Query(ctx, `SELECT status FROM hotspot_statuses WHERE hotspot_id = 'hs-t' AND at <= now() ORDER BY at, id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"emerging", "active", "escalated", "cooling"}; !slices.Equal(got, want) {
		t.Errorf("recorded statuses %v; want %v", got, want)
	}
}
