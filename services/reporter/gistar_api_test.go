package reporter

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/hotspotstats"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Leadership reads the week's Gi* hot spots in the report, supervisors
// in the hotspots API (GET /api/v1/hotspots/weekly): the two must be the
// same. A burst of noise complaints at P in W11 over a background in
// every analysed week, each located and clustered where it is, but for
// four the geocoder put at Q, 2 km away, that a supervisor moved to P
// from the triage list after the detector had clustered them (still at
// Q in hotspot_members until the correction's located event reaches the
// detector, which then takes each out of its hotspot and clusters it at
// P), and one it has not clustered (still on its way, or a dead letter):
// both see eleven at P, where the report counts them in its districts
// too.
func TestTheReportsGistarIsTheHotspotsAPIs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	start, _, err := gistar.WeekBounds(fixtureWeek)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	// complaint stores a located complaint at lon, lat, clustered at
	// mlon, mlat (not when clustered is false), corrected times.
	complaint := func(lon, lat float64, when time.Time, clustered bool, mlon, mlat float64, corrected int) {
		t.Helper()
		n++
		id := fmt.Sprintf("g%03d", n)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, category) VALUES ($1, 'T'||$1, $2, '夜间施工噪声', 'noise')`, id, when); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, lon, lat, category, received_at, corrections)
			VALUES ($1, true, 'siming', $2, $3, 'noise', $4, $5)`, id, lon, lat, when, corrected); err != nil {
			t.Fatal(err)
		}
		if clustered {
			if _, err := pool.Exec(ctx, `INSERT INTO hotspot_members (complaint_id, category, district, lon, lat, at) VALUES ($1, 'noise', 'siming', $2, $3, $4)`,
				id, mlon, mlat, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	const pLon, pLat, qLon, qLat = 118.0894, 24.4798, 118.1094, 24.4898
	for i := range 6 {
		complaint(pLon+float64(i)*1e-5, pLat, start.Add(time.Duration(i)*time.Hour), true, pLon+float64(i)*1e-5, pLat, 0)
	}
	for i := range 4 {
		complaint(pLon, pLat+float64(i)*1e-5, start.Add(time.Duration(30+i)*time.Hour), true, qLon, qLat+float64(i)*1e-5, 1)
	}
	complaint(pLon, pLat, start.Add(50*time.Hour), false, 0, 0, 0)
	for w := range hotspotstats.TrailingWeeks + 1 {
		for k := range 4 {
			lon, lat := 118.04+float64(k%2)*0.1, 24.44+float64(k/2)*0.08
			complaint(lon, lat, start.AddDate(0, 0, -7*w).Add(30*time.Hour), true, lon, lat, 0)
		}
	}

	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	cells := func(ids []string, counts []int, classes []string) []string {
		out := make([]string, len(ids))
		for i := range ids {
			out[i] = fmt.Sprintf("%s %d %s", ids[i], counts[i], classes[i])
		}
		return out
	}
	for _, g := range r.Gistar {
		api, err := hotspotstats.Weekly(ctx, pool, fixtureWeek, g.Category)
		if err != nil {
			t.Fatal(err)
		}
		var rIDs, aIDs, rClasses, aClasses []string
		var rCounts, aCounts []int
		for _, c := range slices.Concat(g.Cells, g.Cooled) {
			rIDs, rCounts, rClasses = append(rIDs, c.ID), append(rCounts, c.Count), append(rClasses, c.Class)
		}
		for _, c := range slices.Concat(api.Cells, api.Cooled) {
			aIDs, aCounts, aClasses = append(aIDs, c.ID), append(aCounts, c.Count), append(aClasses, string(c.Class))
		}
		report, hotspots := cells(rIDs, rCounts, rClasses), cells(aIDs, aCounts, aClasses)
		if g.Points != api.Points || !slices.Equal(report, hotspots) {
			t.Errorf("%s: the report's Gi* analyses %d complaints of the week, hot spots %v; the hotspots API's %d, %v",
				g.Category, g.Points, report, api.Points, hotspots)
		}
		if g.Category != "noise" {
			continue
		}
		hot := 0
		for _, c := range g.Cells {
			hot = max(hot, c.Count)
		}
		if hot != 11 {
			t.Errorf("noise: the hottest cell holds %d complaints of the week; want the 11 located at P, corrected ones included", hot)
		}
	}
}
