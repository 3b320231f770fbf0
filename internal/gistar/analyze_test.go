package gistar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// hotLon, hotLat lie on Xiamen Island, where the constructed hot spot is.
const hotLon, hotLat = 118.1003, 24.4807

// scenario builds 9 weeks of points ending in targetWeek: each week a fixed
// background of single complaints scattered over a 24×24-cell area, at
// least three cells from the hot cell, plus hot[w] complaints in the hot
// cell in week w.
func scenario(t testing.TB, targetWeek string, hot [9]int) []Point {
	t.Helper()
	start, _, err := WeekBounds(targetWeek)
	if err != nil {
		t.Fatal(err)
	}
	hc, hr := cellOf(hotLon, hotLat, defaultCellMeters)
	rng := rand.New(rand.NewPCG(1, 2))
	type off struct{ dc, dr int }
	var bg []off
	for len(bg) < 40 {
		o := off{rng.IntN(24) - 12, rng.IntN(24) - 12}
		if max(abs(o.dc), abs(o.dr)) >= 3 {
			bg = append(bg, o)
		}
	}
	var pts []Point
	for w := range 9 {
		monday := start.AddDate(0, 0, -7*(8-w))
		for i, o := range bg {
			lon, lat, _ := cellGeometry(hc+o.dc, hr+o.dr, defaultCellMeters)
			pts = append(pts, Point{Lon: lon, Lat: lat, At: monday.Add(time.Duration(i) * time.Hour)})
		}
		lon, lat, _ := cellGeometry(hc, hr, defaultCellMeters)
		for i := range hot[w] {
			// Spread within the cell: up to ±200 m from its centre.
			dx := (float64(i%5) - 2) * 100 / metresPerDegLon
			dy := (float64(i/5%5) - 2) * 100 / metresPerDegLat
			pts = append(pts, Point{Lon: lon + dx, Lat: lat + dy, At: monday.Add(time.Duration(i)*time.Hour + 30*time.Minute)})
		}
	}
	return pts
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func findCell(cells []Cell, id string) (Cell, bool) {
	for _, c := range cells {
		if c.ID == id {
			return c, true
		}
	}
	return Cell{}, false
}

func TestAnalyzeEmergingClasses(t *testing.T) {
	t.Parallel()
	// Complaints per week in the hot cell, oldest week first, over a
	// constant background of 40 scattered single complaints a week.
	tests := []struct {
		name    string
		hot     [9]int
		want    Class
		hotWeek int // weeks the hot cell is expected to be significant
	}{
		{"new", [9]int{0, 0, 0, 0, 0, 0, 0, 0, 8}, ClassNew, 1},
		{"persistent", [9]int{8, 8, 8, 8, 8, 8, 8, 8, 8}, ClassPersistent, 9},
		{"intensifying", [9]int{0, 0, 0, 1, 2, 3, 5, 8, 12}, ClassIntensifying, 3},
		{"intensifying from the start", [9]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, ClassIntensifying, 6},
		{"diminishing", [9]int{20, 16, 12, 10, 8, 6, 5, 4, 4}, ClassDiminishing, 9},
		{"sporadic", [9]int{8, 0, 8, 0, 0, 8, 0, 0, 8}, ClassSporadic, 4},
		{"cooled", [9]int{8, 8, 8, 8, 8, 8, 8, 8, 0}, ClassCooled, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Analyze(scenario(t, "2024-W11", tt.hot), "2024-W11", Options{})
			if err != nil {
				t.Fatal(err)
			}
			id := cellID(cellOf(hotLon, hotLat, defaultCellMeters))
			list := res.Cells
			if tt.want == ClassCooled {
				list = res.Cooled
				if _, ok := findCell(res.Cells, id); ok {
					t.Errorf("cooled cell %s listed among the week's hot spots", id)
				}
			}
			c, ok := findCell(list, id)
			if !ok {
				t.Fatalf("hot cell %s missing; got %d cells, %d cooled", id, len(res.Cells), len(res.Cooled))
			}
			if c.Class != tt.want {
				t.Errorf("class = %q, want %q (week z %.3v, trend %+v)", c.Class, tt.want, c.WeekZ, c.Trend)
			}
			if c.HotWeeks != tt.hotWeek {
				t.Errorf("hot weeks = %d, want %d (week z %.3v)", c.HotWeeks, tt.hotWeek, c.WeekZ)
			}
			if !slices.Equal(c.WeekCounts, tt.hot[:]) {
				t.Errorf("week counts = %v, want %v", c.WeekCounts, tt.hot)
			}
			if c.Count != tt.hot[8] || c.Significant != (tt.want != ClassCooled) {
				t.Errorf("count %d significant %v, want %d %v", c.Count, c.Significant, tt.hot[8], tt.want != ClassCooled)
			}
		})
	}
}

// naiveQ is Benjamini–Hochberg straight from its definition:
// q_i = min over j with p_j ≥ p_i of p_j·m/rank_j (ties share the highest rank).
func naiveQ(p []float64) []float64 {
	m := len(p)
	q := make([]float64, m)
	for i := range p {
		q[i] = 1
		for j := range p {
			if p[j] < p[i] {
				continue
			}
			rank := 0
			for k := range p {
				if p[k] <= p[j] {
					rank++
				}
			}
			q[i] = math.Min(q[i], p[j]*float64(m)/float64(rank))
		}
	}
	return q
}

func TestAnalyzeAgreesWithNaivePipeline(t *testing.T) {
	t.Parallel()
	// Random clustered points over one week and the 8 before it.
	start, end, err := WeekBounds("2025-W02")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	first := start.AddDate(0, 0, -56)
	var pts []Point
	for range 1500 {
		lon, lat := 118.05+0.12*rng.Float64(), 24.44+0.10*rng.Float64()
		if rng.IntN(3) == 0 { // a third near three sources
			src := [][2]float64{{118.08, 24.47}, {118.13, 24.50}, {118.15, 24.46}}[rng.IntN(3)]
			lon, lat = src[0]+0.004*rng.NormFloat64(), src[1]+0.004*rng.NormFloat64()
		}
		at := first.Add(time.Duration(rng.Int64N(int64(end.Sub(first)))))
		pts = append(pts, Point{Lon: lon, Lat: lat, At: at})
	}
	res, err := Analyze(pts, "2025-W02", Options{})
	if err != nil {
		t.Fatal(err)
	}

	// Bin the target week's points independently.
	counts := map[[2]int]float64{}
	minC, minR, maxC, maxR := math.MaxInt, math.MaxInt, math.MinInt, math.MinInt
	for _, p := range pts {
		c, r := cellOf(p.Lon, p.Lat, 500)
		minC, maxC, minR, maxR = min(minC, c), max(maxC, c), min(minR, r), max(maxR, r)
		if !p.At.Before(start) {
			counts[[2]int{c, r}]++
		}
	}
	minC, minR, maxC, maxR = minC-1, minR-1, maxC+1, maxR+1
	cols, rows := maxC-minC+1, maxR-minR+1
	if res.N != cols*rows {
		t.Fatalf("N = %d, want %d×%d", res.N, cols, rows)
	}
	x := make([]float64, cols*rows)
	for k, v := range counts {
		x[(k[1]-minR)*cols+k[0]-minC] = v
	}
	z := pairwiseGiStar(x, cols, rows, 1.5)
	p := make([]float64, len(z))
	for i := range z {
		p[i] = math.Erfc(math.Abs(z[i]) / math.Sqrt2)
	}
	q := naiveQ(p)
	// A hot spot is a significant cell with repeat complaints of its own
	// (two or more); the empty ones are significant through their
	// neighbours, and those with one complaint mostly so: both counted.
	var want []string
	omitted, single := 0, 0
	for i := range z {
		if q[i] <= 0.05 && z[i] > 0 {
			if x[i] < 2 {
				omitted++
				if x[i] == 1 {
					single++
				}
				continue
			}
			want = append(want, fmt.Sprintf("c_%d_%d", minC+i%cols, minR+i/cols))
		}
	}
	if len(want) == 0 || omitted == single || single == 0 {
		t.Fatalf("the constructed data has %d hot spots, %d significant cells with one complaint and %d without; the test proves nothing",
			len(want), single, omitted-single)
	}
	if res.Omitted != omitted || res.MinCount != 2 {
		t.Errorf("omitted %d significant cells of fewer than %d complaints, want %d of fewer than 2", res.Omitted, res.MinCount, omitted)
	}
	var got []string
	for i, c := range res.Cells {
		got = append(got, c.ID)
		j := (c.Row-minR)*cols + c.Col - minC
		if math.Abs(c.Z-z[j]) > 1e-9 || math.Abs(c.Q-q[j]) > 1e-12 || math.Abs(c.P-p[j]) > 1e-12 {
			t.Errorf("%s: z %v p %v q %v, want %v %v %v", c.ID, c.Z, c.P, c.Q, z[j], p[j], q[j])
		}
		if c.Count != int(x[j]) {
			t.Errorf("%s: count %d, want %v", c.ID, c.Count, x[j])
		}
		if i > 0 && res.Cells[i-1].Z < c.Z {
			t.Errorf("cells not sorted by z: %v before %v", res.Cells[i-1].Z, c.Z)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("hot cells\n got %v\nwant %v", got, want)
	}
	// FDR control must matter here: some cells pass p ≤ 0.05 but not q.
	raw := 0
	for i := range z {
		if p[i] <= 0.05 && z[i] > 0 && x[i] > 0 {
			raw++
		}
	}
	if raw <= len(want) {
		t.Errorf("all %d raw-significant cells survived the correction; the data does not exercise it", raw)
	}
}

func TestAnalyzeWeekWindowAndSkips(t *testing.T) {
	t.Parallel()
	start, end, err := WeekBounds("2024-W01")
	if err != nil {
		t.Fatal(err)
	}
	first := start.AddDate(0, 0, -56)
	lon, lat := 118.10, 24.48
	pts := []Point{
		{lon, lat, start},                       // target week, its first instant
		{lon, lat, end.Add(-time.Nanosecond)},   // target week, its last instant
		{lon, lat, start.Add(-time.Nanosecond)}, // the week before
		{lon, lat, first},                       // the oldest analysed week
		{lon, lat, first.Add(-time.Nanosecond)}, // before the window: ignored
		{lon, lat, end},                         // after the window: ignored
		{math.NaN(), lat, start},                // skipped
		{lon, math.Inf(1), start},               // skipped
		{116.0, 24.0, start.Add(time.Hour)},     // outside Xiamen: skipped
		{lon, lat, time.Time{}},                 // zero time: ignored
	}
	res, err := Analyze(pts, "2024-W01", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Points != 2 || res.Skipped != 3 {
		t.Errorf("points %d skipped %d, want 2 and 3", res.Points, res.Skipped)
	}
	if res.N != 9 {
		t.Errorf("N = %d, want the 3×3 cells around the one used", res.N)
	}
	if len(res.Weeks) != 9 || res.Weeks[0] != "2023-W45" || res.Weeks[7] != "2023-W52" || res.Weeks[8] != "2024-W01" {
		t.Errorf("weeks = %v", res.Weeks)
	}
}

func TestAnalyzeWithoutPoints(t *testing.T) {
	t.Parallel()
	res, err := Analyze(nil, "2026-W53", Options{Weeks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 0 || len(res.Cells) != 0 || res.Cells == nil || res.Week != "2026-W53" {
		t.Errorf("result = %+v, want an empty analysis of 2026-W53", res)
	}
	if !slices.Equal(res.Weeks, []string{"2026-W50", "2026-W51", "2026-W52", "2026-W53"}) {
		t.Errorf("weeks = %v", res.Weeks)
	}
}

func TestAnalyzeRejectsBadInput(t *testing.T) {
	t.Parallel()
	pts := []Point{{118.1, 24.5, time.Date(2024, 3, 12, 0, 0, 0, 0, shanghai)}, {0.5, 0.5, time.Date(2024, 3, 12, 0, 0, 0, 0, shanghai)}}
	world := Bounds{MinLon: -180, MinLat: -80, MaxLon: 180, MaxLat: 80}
	tests := []struct {
		name string
		week string
		opt  Options
	}{
		{"bad week", "2024-11", Options{}},
		{"tiny cells", "2024-W11", Options{CellMeters: 10}},
		{"negative cells", "2024-W11", Options{CellMeters: -500}},
		{"NaN cells", "2024-W11", Options{CellMeters: math.NaN()}},
		{"band below a cell", "2024-W11", Options{BandMeters: 400}},
		{"negative weeks", "2024-W11", Options{Weeks: -1}},
		{"alpha above one", "2024-W11", Options{Alpha: 1.5}},
		{"trend alpha negative", "2024-W11", Options{TrendAlpha: -0.1}},
		{"negative minimum count", "2024-W11", Options{MinCount: -1}},
		{"empty bounds", "2024-W11", Options{Bounds: Bounds{MinLon: 118, MaxLon: 118, MinLat: 24, MaxLat: 25}}},
		{"study area too large", "2024-W11", Options{CellMeters: 100, Bounds: world}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Analyze(pts, tt.week, tt.opt); err == nil {
				t.Errorf("Analyze accepted %s", tt.name)
			}
		})
	}
}

// haversine is the great-circle distance in metres.
func haversine(lon1, lat1, lon2, lat2 float64) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

func TestCellGeometry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lon, lat float64
		size     float64
	}{
		{"Siming", 118.0894, 24.4798, 500},
		{"Tong'an north", 118.15, 24.85, 500},
		{"Xiang'an", 118.30, 24.62, 250},
		{"Haicang", 117.95, 24.45, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			col, row := cellOf(tt.lon, tt.lat, tt.size)
			lon, lat, ring := cellGeometry(col, row, tt.size)
			if len(ring) != 5 || ring[0] != ring[4] {
				t.Fatalf("ring %v is not closed with 5 positions", ring)
			}
			if tt.lon < ring[0][0] || tt.lon >= ring[1][0] || tt.lat < ring[0][1] || tt.lat >= ring[2][1] {
				t.Errorf("point (%v, %v) outside its cell %v", tt.lon, tt.lat, ring)
			}
			if lon <= ring[0][0] || lon >= ring[1][0] || lat <= ring[0][1] || lat >= ring[2][1] {
				t.Errorf("centre (%v, %v) outside the cell %v", lon, lat, ring)
			}
			// Counter-clockwise: positive shoelace area.
			var area float64
			for i := range 4 {
				area += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
			}
			if area <= 0 {
				t.Errorf("ring is clockwise")
			}
			// Sides on the ground within 0.5 % of the cell size.
			for i := range 4 {
				d := haversine(ring[i][0], ring[i][1], ring[i+1][0], ring[i+1][1])
				if math.Abs(d-tt.size) > 0.005*tt.size {
					t.Errorf("side %d is %.1f m, want %.0f m", i, d, tt.size)
				}
			}
		})
	}
}

func TestCellIDsStableAcrossWeeks(t *testing.T) {
	t.Parallel()
	hot := [9]int{8, 8, 8, 8, 8, 8, 8, 8, 8}
	a, err := Analyze(scenario(t, "2024-W11", hot), "2024-W11", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Another week, with extra complaints far away that move the study area.
	pts := scenario(t, "2024-W30", hot)
	start, _, _ := WeekBounds("2024-W30")
	pts = append(pts, Point{Lon: 118.35, Lat: 24.80, At: start.Add(time.Hour)})
	b, err := Analyze(pts, "2024-W30", Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := cellID(cellOf(hotLon, hotLat, defaultCellMeters))
	ca, okA := findCell(a.Cells, id)
	cb, okB := findCell(b.Cells, id)
	if !okA || !okB {
		t.Fatalf("hot cell %s missing: %v %v", id, okA, okB)
	}
	if ca.Col != cb.Col || ca.Row != cb.Row || ca.Lon != cb.Lon || ca.Lat != cb.Lat || a.N == b.N {
		t.Errorf("cell %s moved: %+v vs %+v (N %d vs %d)", id, ca, cb, a.N, b.N)
	}
}
