// Package hotspotstats reads the located complaints and runs the weekly
// Getis-Ord Gi* analysis on them, so that the weekly report and the
// hotspots API test the week's hotspots the same way, on the same
// complaints, without importing a service.
//
// The complaints are read where the geocoder located them (locations),
// as the report's counts by district are: a supervisor's correction moves
// a complaint there at once, whereas the hotspot detector moves it only
// once it has the correction (and keeps one corrected into another
// partition's district where it clustered it, hotspot_members), and a
// complaint it has not clustered (on its way, or a dead letter) has no
// member row at all.
package hotspotstats

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
)

// Categories are the nuisance categories Weekly analyses.
var Categories = []string{"noise", "dust", "cooking_smoke"}

// TrailingWeeks is how many weeks before the target week the emerging
// classes look back, as the weekly report states.
const TrailingWeeks = 8

// Querier is what Weekly reads through: a pool or a transaction, so the
// report can read everything in one snapshot.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Weekly runs the Gi* analysis of one category for an ISO week ("2024-W11",
// Asia/Shanghai) over the located complaints with coordinates received in
// that week and the TrailingWeeks before it.
func Weekly(ctx context.Context, db Querier, week, category string) (gistar.Result, error) {
	if !slices.Contains(Categories, category) {
		return gistar.Result{}, fmt.Errorf("weekly hotspots: unknown category %q", category)
	}
	res, err := analyze(ctx, db, week, []string{category})
	if err != nil {
		return gistar.Result{}, err
	}
	return res[0], nil
}

// WeeklyAll is Weekly of every category, in the order of Categories, read
// at once and analysed in parallel: what the weekly report shows.
func WeeklyAll(ctx context.Context, db Querier, week string) ([]gistar.Result, error) {
	return analyze(ctx, db, week, Categories)
}

// analyze reads the points of the categories over the week and its
// trailing weeks in one query and analyses each category.
func analyze(ctx context.Context, db Querier, week string, categories []string) ([]gistar.Result, error) {
	start, end, err := gistar.WeekBounds(week)
	if err != nil {
		return nil, fmt.Errorf("weekly hotspots: %w", err)
	}
	from := start.AddDate(0, 0, -7*TrailingWeeks)
	rows, err := db.Query(ctx, `SELECT category, lon, lat, received_at FROM locations
		WHERE received_at >= $1 AND received_at < $2 AND located
		  AND lon IS NOT NULL AND lat IS NOT NULL AND category = ANY($3)`, from, end, categories)
	if err != nil {
		return nil, fmt.Errorf("weekly hotspots %s: %w", week, err)
	}
	defer rows.Close()
	points := make(map[string][]gistar.Point, len(categories))
	for rows.Next() {
		var cat string
		var p gistar.Point
		if err := rows.Scan(&cat, &p.Lon, &p.Lat, &p.At); err != nil {
			return nil, fmt.Errorf("weekly hotspots %s: %w", week, err)
		}
		points[cat] = append(points[cat], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("weekly hotspots %s: %w", week, err)
	}
	out := make([]gistar.Result, len(categories))
	errs := make([]error, len(categories))
	var wg sync.WaitGroup
	for i, c := range categories {
		wg.Go(func() {
			out[i], errs[i] = gistar.Analyze(points[c], week, gistar.Options{Weeks: TrailingWeeks})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("weekly hotspots %s %s: %w", week, c, errs[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
