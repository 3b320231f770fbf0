package gistar

import (
	"fmt"
	"math"
)

// Projection constants. The grid lives in an equirectangular projection
// true to scale at 24.6°N, the middle of Xiamen, anchored at 117.5°E 24.0°N
// south-west of the city so that a cell keeps its column, row and ID from
// week to week. Across the city (24.4°N to 24.9°N) east-west distances are
// off by less than 0.3 %, far below the size of a cell.
const (
	earthRadius = 6371008.8 // mean Earth radius (IUGG), metres
	originLon   = 117.5
	originLat   = 24.0
	trueLat     = 24.6
)

var (
	metresPerDegLat = earthRadius * math.Pi / 180
	metresPerDegLon = metresPerDegLat * math.Cos(trueLat*math.Pi/180)
)

// maxCells caps the study area so that a stray coordinate or a tiny cell
// size cannot make one call allocate gigabytes.
const maxCells = 1 << 21

// Bounds is a WGS-84 envelope. Points outside it are not analysed: a
// mistyped coordinate far away would otherwise stretch the study area
// and dilute every statistic.
type Bounds struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// XiamenBounds is the default envelope: the six districts of Xiamen with
// a margin of several kilometres, in WGS-84.
func XiamenBounds() Bounds {
	return Bounds{MinLon: 117.80, MinLat: 24.33, MaxLon: 118.50, MaxLat: 24.98}
}

func (b Bounds) contains(lon, lat float64) bool {
	return lon >= b.MinLon && lon <= b.MaxLon && lat >= b.MinLat && lat <= b.MaxLat
}

func (b Bounds) valid() error {
	for _, v := range []float64{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bounds %+v: not finite", b)
		}
	}
	if b.MinLon >= b.MaxLon || b.MinLat >= b.MaxLat {
		return fmt.Errorf("bounds %+v: empty", b)
	}
	if b.MinLat < -85 || b.MaxLat > 85 || b.MinLon < -180 || b.MaxLon > 180 {
		return fmt.Errorf("bounds %+v: outside the projection's range", b)
	}
	return nil
}

// project returns the metres east and north of the grid origin.
func project(lon, lat float64) (x, y float64) {
	return (lon - originLon) * metresPerDegLon, (lat - originLat) * metresPerDegLat
}

// unproject inverts project.
func unproject(x, y float64) (lon, lat float64) {
	return originLon + x/metresPerDegLon, originLat + y/metresPerDegLat
}

// cellOf returns the column and row of the cell that holds a point.
func cellOf(lon, lat, size float64) (col, row int) {
	x, y := project(lon, lat)
	return int(math.Floor(x / size)), int(math.Floor(y / size))
}

// cellID names a cell the same way in every week and every output.
func cellID(col, row int) string {
	return fmt.Sprintf("c_%d_%d", col, row)
}

// cellGeometry returns a cell's centre and its outline as a closed,
// counter-clockwise ring of five WGS-84 positions, ready for GeoJSON.
func cellGeometry(col, row int, size float64) (lon, lat float64, ring [][2]float64) {
	x0, y0 := float64(col)*size, float64(row)*size
	x1, y1 := x0+size, y0+size
	lon, lat = unproject(x0+size/2, y0+size/2)
	ring = make([][2]float64, 0, 5)
	for _, c := range [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}} {
		lo, la := unproject(c[0], c[1])
		ring = append(ring, [2]float64{lo, la})
	}
	return lon, lat, ring
}
