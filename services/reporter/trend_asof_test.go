package reporter

import (
	"context"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A week's report, generated again after the week (a late complaint of
// the week, `nuisance report`), shows its hotspots' trends as the week
// ended. hs-back drew its complaints early in W10 and cooled during W11
// (resolved in W11), then came back in W12: W11 still shows it resolved.
func TestARegeneratedWeekKeepsHotspotTrendsAsTheWeekEnded(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	w10 := func(d, h int) time.Time { return at(t, "2024-W10", d, h) }
	w12 := func(d, h int) time.Time { return at(t, "2024-W12", d, h) }
	type m struct {
		id string
		at time.Time
	}
	plant := func(hs, status string, members []m) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at, lon, lat)
			VALUES ($1, 'noise', 'siming', $2, $3, $4, $5, 118.18, 24.48)`, hs, status, len(members), members[0].at, members[len(members)-1].at); err != nil {
			t.Fatal(err)
		}
		for _, c := range members {
			if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, category) VALUES ($1, $1, $2, 'x', 'noise')`, c.id, c.at); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO hotspot_members (complaint_id, hotspot_id, category, district, lon, lat, at) VALUES ($1, $2, 'noise', 'siming', 118.18, 24.48, $3)`, c.id, hs, c.at); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Now (W12's Thursday): hs-back is active again.
	plant("hs-back", "active", []m{{"b1", w10(0, 9)}, {"b2", w10(0, 10)}, {"b3", w10(1, 9)}, {"b4", w12(1, 9)}, {"b5", w12(2, 9)}})

	r, err := Generate(ctx, pool, "2024-W11", w12(3, 9))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range r.Hotspots {
		got[h.ID] = h.Trend
	}
	if got["hs-back"] != report.TrendResolved {
		t.Errorf("W11 generated in W12: hs-back trend %q, want %q (it cooled in W11 and came back only in W12)", got["hs-back"], report.TrendResolved)
	}
}
