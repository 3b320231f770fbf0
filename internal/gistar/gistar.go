// Package gistar finds the week's statistically significant hotspots of
// one category of complaints (noise, dust or cooking smoke) with the
// Getis-Ord Gi* statistic, and classifies each as new, intensifying,
// persistent, diminishing or sporadic over the trailing weeks, so that the
// weekly report and the API can point the bureau at the places where
// repeat complaints need a lasting fix.
//
// Method, in order:
//
//   - Grid. Square cells of Options.CellMeters (500 m by default) in an
//     equirectangular projection true to scale at 24.6°N and anchored at
//     117.5°E 24.0°N, so a cell's ID ("c_<col>_<row>") is the same every
//     week. Points are WGS-84.
//   - Study area. The bounding box of the cells with any complaint in the
//     analysed weeks (the target ISO week and Options.Weeks trailing
//     weeks, 8 by default), padded by one cell; the same area every week.
//   - Gi*. Per week, counts per cell; Gi* z-scores with binary weights over
//     a fixed distance band (Options.BandMeters, 1.5 cells by default: the
//     cell and its eight queen neighbours), mean and standard deviation
//     over all cells of the study area.
//   - Significance. Two-sided normal p-values, Benjamini–Hochberg
//     false-discovery-rate correction across the cells of each week at
//     Options.Alpha (0.05); a cell is a hot spot when q ≤ α and z > 0
//     and it holds at least Options.MinCount complaints (2, a repeat) that week.
//     Gi* adds a cell's neighbours to it, so the empty cells beside a
//     busy one are significant through their neighbour alone: they stay
//     in the statistic (its mean, variance and correction are over every
//     cell) but are no hot spot, only counted (Result.Omitted).
//   - Pattern. The Mann–Kendall trend test on each cell's weekly z-scores
//     and its weekly hot flags decide its Class (see the Class constants).
//
// The package is pure computation: callers read the points from storage.
package gistar

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Point is one located complaint: where (WGS-84) and when it was received.
// It carries nothing that identifies the caller.
type Point struct {
	Lon, Lat float64
	At       time.Time
}

// Options tune the analysis; the zero value selects the defaults the
// weekly report uses.
type Options struct {
	// CellMeters is the side of a grid cell; default 500, at least 100.
	CellMeters float64
	// BandMeters is the fixed distance band between cell centres within
	// which cells are neighbours; default 1.5 × CellMeters (queen
	// contiguity). It must be at least CellMeters so a cell has neighbours.
	BandMeters float64
	// Weeks is the number of trailing weeks analysed before the target
	// week; default 8 (9 weeks in all), at most 52.
	Weeks int
	// Alpha is the false-discovery rate q of the hot-spot test; default 0.05.
	Alpha float64
	// TrendAlpha is the significance level of the Mann–Kendall trend
	// test; default 0.05.
	TrendAlpha float64
	// Bounds limits the points analysed; default XiamenBounds().
	Bounds Bounds
	// MinCount is the fewest complaints a significant cell must hold in
	// a week to be a hot spot that week; default 2: the report's hot
	// spots are of repeat complaints (重复投诉), and a cell with one
	// complaint is significant only through its neighbours, as an empty
	// one is.
	MinCount int
}

const (
	defaultCellMeters = 500
	minCellMeters     = 100
	defaultWeeks      = 8
	defaultMinCount   = 2
	maxWeeks          = 52
	defaultAlpha      = 0.05
)

func (o Options) withDefaults() (Options, error) {
	if o.CellMeters == 0 {
		o.CellMeters = defaultCellMeters
	}
	if !(o.CellMeters >= minCellMeters) || math.IsInf(o.CellMeters, 0) {
		return o, fmt.Errorf("options: cell size %v m, want at least %d m", o.CellMeters, minCellMeters)
	}
	if o.BandMeters == 0 {
		o.BandMeters = 1.5 * o.CellMeters
	}
	if !(o.BandMeters >= o.CellMeters) || o.BandMeters > 10*o.CellMeters {
		return o, fmt.Errorf("options: distance band %v m, want 1 to 10 cells of %v m", o.BandMeters, o.CellMeters)
	}
	if o.Weeks == 0 {
		o.Weeks = defaultWeeks
	}
	if o.Weeks < 0 || o.Weeks > maxWeeks {
		return o, fmt.Errorf("options: %d trailing weeks, want 0 to %d", o.Weeks, maxWeeks)
	}
	if o.Alpha == 0 {
		o.Alpha = defaultAlpha
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return o, fmt.Errorf("options: alpha %v, want between 0 and 1", o.Alpha)
	}
	if o.TrendAlpha == 0 {
		o.TrendAlpha = defaultAlpha
	}
	if !(o.TrendAlpha > 0 && o.TrendAlpha < 1) {
		return o, fmt.Errorf("options: trend alpha %v, want between 0 and 1", o.TrendAlpha)
	}
	if o.MinCount == 0 {
		o.MinCount = defaultMinCount
	}
	if o.MinCount < 1 {
		return o, fmt.Errorf("options: minimum count %d, want at least 1", o.MinCount)
	}
	if o.Bounds == (Bounds{}) {
		o.Bounds = XiamenBounds()
	}
	if err := o.Bounds.valid(); err != nil {
		return o, fmt.Errorf("options: %w", err)
	}
	return o, nil
}

// Cell is one grid cell of the result with its statistics in the target
// week and its history over the analysed weeks.
type Cell struct {
	// ID is stable across weeks for the same cell size: "c_<col>_<row>".
	ID string `json:"id"`
	// Col and Row locate the cell in the fixed grid of its cell size.
	Col int `json:"col"`
	Row int `json:"row"`
	// Lon and Lat are the cell's centre, WGS-84.
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	// Polygon is the cell's outline, a closed counter-clockwise WGS-84
	// ring, ready to be a GeoJSON Polygon's only ring.
	Polygon [][2]float64 `json:"polygon"`
	// Count is the number of complaints in the cell in the target week.
	Count int `json:"count"`
	// Z, P and Q are the target week's Gi* z-score, two-sided p-value and
	// Benjamini–Hochberg q-value.
	Z float64 `json:"z"`
	P float64 `json:"p"`
	Q float64 `json:"q"`
	// Significant tells a hot spot of the target week (q ≤ α, z > 0, at
	// least Options.MinCount complaints) from a cooled one.
	Significant bool `json:"significant"`
	// Class is the cell's emerging-hotspot pattern.
	Class Class `json:"class"`
	// HotWeeks counts the analysed weeks in which the cell was a hot spot.
	HotWeeks int `json:"hot_weeks"`
	// WeekZ and WeekCounts are the cell's z-score and complaint count in
	// each analysed week, oldest first, the target week last.
	WeekZ      []float64 `json:"week_z"`
	WeekCounts []int     `json:"week_counts"`
	// Trend is the Mann–Kendall test of WeekZ.
	Trend Trend `json:"trend"`
}

// Result is the hotspot analysis of one category for one ISO week.
type Result struct {
	// Week is the target ISO week, e.g. "2024-W11".
	Week string `json:"week"`
	// Weeks names every analysed week, oldest first, the target week last.
	Weeks      []string `json:"weeks"`
	CellMeters float64  `json:"cell_meters"`
	// Cells are the significant hot spots of the target week, by Z
	// descending.
	Cells []Cell `json:"cells"`
	// Cooled are cells hot in most trailing weeks but not in the target
	// week, by HotWeeks then Z descending: the report's resolved places.
	Cooled []Cell `json:"cooled"`
	// N is the number of cells in the study area, the n of Gi* and of the
	// false-discovery-rate correction.
	N int `json:"n"`
	// Points counts the complaints of the target week that were analysed.
	Points int `json:"points"`
	// Skipped counts the complaints of the analysed weeks left out because
	// their coordinates were not finite or fell outside Options.Bounds.
	Skipped int `json:"skipped"`
	// Omitted counts the cells significant in the target week (q ≤ α,
	// z > 0) with fewer than Options.MinCount complaints of their own:
	// Gi* found them through their neighbours, and they are not listed.
	Omitted int `json:"omitted"`
	// MinCount is the fewest complaints of its own a hot spot held: the
	// Options.MinCount applied.
	MinCount int `json:"min_count"`
}

// binned is a point reduced to its cell and week.
type binned struct {
	col, row int32
	week     int32
}

// Analyze finds the significant Gi* hot spots of the ISO week (e.g.
// "2024-W11", Asia/Shanghai) among points of one category, and classifies
// them over that week and the Options.Weeks before it. Points outside those
// weeks are ignored, so callers may pass a wider time range.
func Analyze(points []Point, week string, opt Options) (Result, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Result{}, fmt.Errorf("analyze %s: %w", week, err)
	}
	start, end, err := WeekBounds(week)
	if err != nil {
		return Result{}, fmt.Errorf("analyze: %w", err)
	}
	k := opt.Weeks + 1
	edges := make([]time.Time, k+1)
	res := Result{Week: week, CellMeters: opt.CellMeters, Weeks: make([]string, k), Cells: []Cell{}, Cooled: []Cell{}, MinCount: opt.MinCount}
	for w := range k {
		edges[w] = start.AddDate(0, 0, -7*(k-1-w))
		res.Weeks[w] = WeekOf(edges[w])
	}
	edges[k] = end

	bins := make([]binned, 0, len(points))
	minC, minR, maxC, maxR := math.MaxInt32, math.MaxInt32, math.MinInt32, math.MinInt32
	const weekLen = 7 * 24 * time.Hour
	for _, p := range points {
		if p.At.Before(edges[0]) || !p.At.Before(edges[k]) {
			continue
		}
		w := int(p.At.Sub(edges[0]) / weekLen)
		for w > 0 && p.At.Before(edges[w]) {
			w--
		}
		for w < k-1 && !p.At.Before(edges[w+1]) {
			w++
		}
		if !opt.Bounds.contains(p.Lon, p.Lat) { // also false for NaN
			res.Skipped++
			continue
		}
		c, r := cellOf(p.Lon, p.Lat, opt.CellMeters)
		bins = append(bins, binned{col: int32(c), row: int32(r), week: int32(w)})
		minC, maxC = min(minC, c), max(maxC, c)
		minR, maxR = min(minR, r), max(maxR, r)
		if w == k-1 {
			res.Points++
		}
	}
	if len(bins) == 0 {
		return res, nil
	}
	minC, minR, maxC, maxR = minC-1, minR-1, maxC+1, maxR+1
	cols, rows := maxC-minC+1, maxR-minR+1
	n := cols * rows
	if n > maxCells {
		return Result{}, fmt.Errorf("analyze %s: study area of %d×%d cells exceeds %d; use larger cells", week, cols, rows, maxCells)
	}
	res.N = n

	counts := make([]float64, k*n)
	for _, b := range bins {
		counts[int(b.week)*n+(int(b.row)-minR)*cols+(int(b.col)-minC)]++
	}
	z := make([]float64, k*n)
	q := make([]float64, k*n)
	p := make([]float64, n)
	buf := make([]rankedP, n)
	st := stencil(opt.BandMeters / opt.CellMeters)
	for w := range k {
		zw, qw := z[w*n:(w+1)*n], q[w*n:(w+1)*n]
		giStar(counts[w*n:(w+1)*n], cols, rows, st, zw)
		for i, v := range zw {
			p[i] = pTwoSided(v)
		}
		benjaminiHochberg(p, qw, buf)
	}
	significant := func(w, i int) bool { return q[w*n+i] <= opt.Alpha && z[w*n+i] > 0 }
	minCount := float64(opt.MinCount)
	hotAt := func(w, i int) bool { return significant(w, i) && counts[w*n+i] >= minCount }

	hot := make([]bool, k)
	for i := range n {
		if significant(k-1, i) && !hotAt(k-1, i) {
			res.Omitted++
		}
		ever := false
		for w := range k {
			hot[w] = hotAt(w, i)
			ever = ever || hot[w]
		}
		if !ever {
			continue
		}
		cell := Cell{WeekZ: make([]float64, k), WeekCounts: make([]int, k)}
		for w := range k {
			cell.WeekZ[w] = z[w*n+i]
			cell.WeekCounts[w] = int(counts[w*n+i])
			if hot[w] {
				cell.HotWeeks++
			}
		}
		cell.Trend = MannKendall(cell.WeekZ)
		cell.Class = classify(hot, cell.Trend, opt.TrendAlpha)
		if cell.Class == "" {
			continue
		}
		last := (k-1)*n + i
		cell.Col, cell.Row = minC+i%cols, minR+i/cols
		cell.ID = cellID(cell.Col, cell.Row)
		cell.Lon, cell.Lat, cell.Polygon = cellGeometry(cell.Col, cell.Row, opt.CellMeters)
		cell.Count = int(counts[last])
		cell.Z, cell.Q = z[last], q[last]
		cell.P = pTwoSided(cell.Z)
		cell.Significant = hot[k-1]
		if cell.Significant {
			res.Cells = append(res.Cells, cell)
		} else {
			res.Cooled = append(res.Cooled, cell)
		}
	}
	slices.SortFunc(res.Cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(b.Z, a.Z), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(res.Cooled, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(b.HotWeeks, a.HotWeeks), cmp.Compare(b.Z, a.Z), cmp.Compare(a.ID, b.ID))
	})
	return res, nil
}
