// Package hotspotstats reads the located complaints the hotspot detector
// stored and runs the weekly Getis-Ord Gi* analysis on them, so that the
// weekly report and the hotspots API test the week's hotspots the same way
// without importing a service.
package hotspotstats

import (
	"context"
	"fmt"
	"slices"

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
// Asia/Shanghai) over the complaints with coordinates stored in
// hotspot_members in that week and the TrailingWeeks before it.
func Weekly(ctx context.Context, db Querier, week, category string) (gistar.Result, error) {
	if !slices.Contains(Categories, category) {
		return gistar.Result{}, fmt.Errorf("weekly hotspots: unknown category %q", category)
	}
	start, end, err := gistar.WeekBounds(week)
	if err != nil {
		return gistar.Result{}, fmt.Errorf("weekly hotspots: %w", err)
	}
	from := start.AddDate(0, 0, -7*TrailingWeeks)
	rows, err := db.Query(ctx, `SELECT lon, lat, at FROM hotspot_members
		WHERE category = $1 AND at >= $2 AND at < $3 AND lon IS NOT NULL AND lat IS NOT NULL`, category, from, end)
	if err != nil {
		return gistar.Result{}, fmt.Errorf("weekly hotspots %s %s: %w", week, category, err)
	}
	defer rows.Close()
	var points []gistar.Point
	for rows.Next() {
		var p gistar.Point
		if err := rows.Scan(&p.Lon, &p.Lat, &p.At); err != nil {
			return gistar.Result{}, fmt.Errorf("weekly hotspots %s %s: %w", week, category, err)
		}
		points = append(points, p)
	}
	if err := rows.Err(); err != nil {
		return gistar.Result{}, fmt.Errorf("weekly hotspots %s %s: %w", week, category, err)
	}
	res, err := gistar.Analyze(points, week, gistar.Options{Weeks: TrailingWeeks})
	if err != nil {
		return gistar.Result{}, fmt.Errorf("weekly hotspots %s %s: %w", week, category, err)
	}
	return res, nil
}
