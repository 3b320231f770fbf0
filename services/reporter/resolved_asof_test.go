package reporter

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A hotspot the team resolved in a week stays resolved in that week's
// report generated again later, whatever came after: the resolution is
// read from the case audit log as of the week, not from the hotspot's
// resolved_at, which the next resolution overwrites. hs-r drew its
// complaints in W09, its case was resolved in W11; it came back in W13
// and was resolved again there.
func TestARegeneratedWeekKeepsTheResolutionsOfTheWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	w := func(week string, d, h int) time.Time { return at(t, week, d, h) }
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	member := func(id string, when time.Time) {
		t.Helper()
		exec(`INSERT INTO complaints (id, ticket_id, received_at, description, category) VALUES ($1, $1, $2, 'KTV 噪声', 'noise')`, id, when)
		exec(`INSERT INTO hotspot_members (complaint_id, hotspot_id, category, district, lon, lat, at) VALUES ($1, 'hs-r', 'noise', 'jimei', 118.10, 24.58, $2)`, id, when)
	}
	resolve := func(caseID string, opened, resolved time.Time) {
		t.Helper()
		exec(`INSERT INTO cases (id, category, district, team, status, hotspot_id, place, opened_at, sign_due, resolve_due, accepted_at, resolved_at)
			VALUES ($1, 'noise', 'jimei', 'jimei-eco', 'resolved', 'hs-r', '集美学村 KTV', $2, $2::timestamptz + interval '8 hours', $2::timestamptz + interval '20 days', $2, $3)`,
			caseID, opened, resolved)
		exec(`INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action) VALUES ($1, 'officer:o1', $2, 'accepted', 'resolved', 'resolve')`, caseID, resolved)
		// What the hotspots service does on case.resolved.
		exec(`UPDATE hotspots SET resolved_at = $1 WHERE id = 'hs-r'`, resolved)
	}
	exec(`INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at, lon, lat, place)
		VALUES ('hs-r', 'noise', 'jimei', 'closed', 3, $1, $2, 118.10, 24.58, '集美学村 KTV')`, w("2024-W09", 0, 21), w("2024-W09", 1, 22))
	member("r1", w("2024-W09", 0, 21))
	member("r2", w("2024-W09", 1, 21))
	member("r3", w("2024-W09", 1, 22))
	resolve("case-r1", w("2024-W09", 1, 9), w(fixtureWeek, 2, 15))

	first, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Hotspots) != 1 || first.Hotspots[0].Trend != report.TrendResolved {
		t.Fatalf("W11 as first generated: hotspots %+v, want hs-r resolved", first.Hotspots)
	}

	// It comes back in W13 and is resolved again there.
	member("r4", w("2024-W13", 0, 21))
	member("r5", w("2024-W13", 1, 21))
	exec(`UPDATE hotspots SET complaint_count = 5, last_at = $1 WHERE id = 'hs-r'`, w("2024-W13", 1, 21))
	resolve("case-r2", w("2024-W13", 1, 9), w("2024-W13", 4, 10))

	again, err := Generate(ctx, pool, fixtureWeek, w("2024-W14", 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal([]any{first.Hotspots, first.HotspotTrends})
	b, _ := json.Marshal([]any{again.Hotspots, again.HotspotTrends})
	if string(a) != string(b) {
		t.Errorf("W11's hotspots generated again in W14 differ from those first generated:\n first %s\n again %s", a, b)
	}
}
