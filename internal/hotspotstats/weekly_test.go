package hotspotstats

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Weekly analyses the located complaints of one category with
// coordinates in the week and its trailing weeks, where the geocoder (or a
// supervisor's correction) placed them, and WeeklyAll gives the same for
// each category.
func TestWeeklyAnalysesTheLocatedComplaintsOfOneCategory(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	ctx := context.Background()
	start, end, err := gistar.WeekBounds("2024-W11")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		category string
		lon, lat *float64
		at       time.Time
		located  bool
	}
	pt := func(lon, lat float64) (*float64, *float64) { return &lon, &lat }
	var rows []row
	var want []gistar.Point // what Weekly must hand to the analysis
	add := func(category string, lon, lat float64, at time.Time, analysed bool) {
		x, y := pt(lon, lat)
		rows = append(rows, row{category, x, y, at, true})
		if analysed {
			want = append(want, gistar.Point{Lon: lon, Lat: lat, At: at})
		}
	}
	for i := range 15 { // the week's burst
		add("noise", 118.0894+float64(i)*1e-5, 24.4798, start.Add(time.Duration(i)*time.Hour), true)
	}
	for w := range TrailingWeeks + 1 { // a background in every analysed week
		for k := range 4 {
			add("noise", 118.04+float64(k%2)*0.1, 24.44+float64(k/2)*0.08, start.AddDate(0, 0, -7*w).Add(30*time.Hour), true)
		}
	}
	add("noise", 118.0894, 24.4798, start.AddDate(0, 0, -7*(TrailingWeeks+1)), false) // before the trailing weeks
	add("noise", 118.0894, 24.4798, end, false)                                       // the next week
	add("dust", 118.0894, 24.4798, start.Add(time.Hour), false)                       // another category
	rows = append(rows, row{"noise", nil, nil, start.Add(2 * time.Hour), true})       // no coordinates
	x, y := pt(118.0894, 24.4798)
	rows = append(rows, row{"noise", x, y, start.Add(3 * time.Hour), false}) // not located (a point outside the districts)

	src := make([][]any, len(rows))
	for i, r := range rows {
		id := fmt.Sprintf("w%03d", i)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ($1, $1, $2, '噪音')`, id, r.at); err != nil {
			t.Fatal(err)
		}
		src[i] = []any{id, r.located, r.category, "siming", r.lon, r.lat, r.at}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"locations"}, []string{"complaint_id", "located", "category", "district", "lon", "lat", "received_at"}, pgx.CopyFromRows(src)); err != nil {
		t.Fatal(err)
	}

	got, err := Weekly(ctx, pool, "2024-W11", "noise")
	if err != nil {
		t.Fatal(err)
	}
	direct, err := gistar.Analyze(want, "2024-W11", gistar.Options{Weeks: TrailingWeeks})
	if err != nil {
		t.Fatal(err)
	}
	if got.Points != 19 || !reflect.DeepEqual(got, direct) {
		t.Errorf("Weekly analysed %d points of the week, %d cells; the stored points analysed directly give %d points, %d cells",
			got.Points, len(got.Cells), direct.Points, len(direct.Cells))
	}
	all, err := WeeklyAll(ctx, pool, "2024-W11")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range Categories {
		one, err := Weekly(ctx, pool, "2024-W11", c)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(all[i], one) {
			t.Errorf("WeeklyAll's %s differs from Weekly's", c)
		}
	}
	burst := false
	for _, c := range got.Cells {
		burst = burst || (c.Significant && c.Count == 15)
	}
	if !burst {
		t.Errorf("no significant cell holds the burst among %d hot cells", len(got.Cells))
	}

	for _, tc := range []struct{ week, category string }{{"2024-W11", "odour"}, {"2024-W60", "noise"}, {"last week", "dust"}} {
		if _, err := Weekly(ctx, pool, tc.week, tc.category); err == nil {
			t.Errorf("Weekly(%q, %q) accepted", tc.week, tc.category)
		}
	}
}
