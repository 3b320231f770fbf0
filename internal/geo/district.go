package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// DistrictsFile is the seed that holds the district outlines in WGS-84.
const DistrictsFile = "districts.geojson"

// SnapMeters is how far off a district's outline a point may lie and still
// be assigned to it. The outlines are simplified and land-only, so a GPS
// fix on a pier, a beach or a reclaimed shore falls just outside them.
const SnapMeters = 1000.0

// District is one of Xiamen's districts with its land outline in WGS-84.
type District struct {
	Slug   string // siming, haicang, ...
	Adcode string // 350203, ...
	Name   string // 思明区, ...
	Shape  orb.MultiPolygon
}

// Hit is where a point fell: inside a district, or snapped to the nearest
// one when it lies just off the outlines.
type Hit struct {
	District *District
	Snapped  bool
	// Meters is the distance to the district's outline when snapped, 0
	// when inside.
	Meters float64
}

// part is one polygon of a district with its bounds, the unit the index
// tests points against.
type part struct {
	bound    orb.Bound
	poly     orb.Polygon
	district int
}

// Districts answers which district a WGS-84 point lies in. It is safe for
// concurrent use once built.
type Districts struct {
	list  []District
	parts []part
	// grid buckets the parts by cell so a lookup tests only the few
	// polygons whose bounds cover the point's cell.
	grid       [][]int32
	origin     orb.Point
	cellLon    float64
	cellLat    float64
	cols, rows int
}

const gridCells = 64

// NewDistricts indexes districts for point lookups.
func NewDistricts(list []District) (*Districts, error) {
	if len(list) == 0 {
		return nil, errors.New("index districts: none given")
	}
	d := &Districts{list: append([]District(nil), list...)}
	var all orb.Bound
	first := true
	for i, dist := range d.list {
		if dist.Slug == "" {
			return nil, fmt.Errorf("index districts: district %d has no slug", i)
		}
		if len(dist.Shape) == 0 {
			return nil, fmt.Errorf("index districts: %s has no outline", dist.Slug)
		}
		for _, poly := range dist.Shape {
			if len(poly) == 0 || len(poly[0]) < 4 {
				return nil, fmt.Errorf("index districts: %s has a degenerate polygon", dist.Slug)
			}
			b := poly.Bound()
			d.parts = append(d.parts, part{bound: b, poly: poly, district: i})
			if first {
				all, first = b, false
			} else {
				all = all.Union(b)
			}
		}
	}
	d.origin = all.Min
	d.cols, d.rows = gridCells, gridCells
	d.cellLon = (all.Max[0] - all.Min[0]) / gridCells
	d.cellLat = (all.Max[1] - all.Min[1]) / gridCells
	d.grid = make([][]int32, d.cols*d.rows)
	for pi, p := range d.parts {
		c0, r0 := d.cell(p.bound.Min)
		c1, r1 := d.cell(p.bound.Max)
		for r := r0; r <= r1; r++ {
			for c := c0; c <= c1; c++ {
				d.grid[r*d.cols+c] = append(d.grid[r*d.cols+c], int32(pi))
			}
		}
	}
	return d, nil
}

// cell returns the grid cell of p, clamped to the grid.
func (d *Districts) cell(p orb.Point) (col, row int) {
	col = int((p[0] - d.origin[0]) / d.cellLon)
	row = int((p[1] - d.origin[1]) / d.cellLat)
	return min(max(col, 0), d.cols-1), min(max(row, 0), d.rows-1)
}

// ParseDistricts reads a GeoJSON FeatureCollection of (Multi)Polygons whose
// properties carry slug, adcode and name, as seeds/districts.geojson does.
func ParseDistricts(data []byte) (*Districts, error) {
	fc, err := geojson.UnmarshalFeatureCollection(data)
	if err != nil {
		return nil, fmt.Errorf("parse districts: %w", err)
	}
	list := make([]District, 0, len(fc.Features))
	for i, f := range fc.Features {
		var shape orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.MultiPolygon:
			shape = g
		case orb.Polygon:
			shape = orb.MultiPolygon{g}
		default:
			return nil, fmt.Errorf("parse districts: feature %d is %T, want a polygon", i, f.Geometry)
		}
		list = append(list, District{
			Slug:   propString(f.Properties, "slug"),
			Adcode: propString(f.Properties, "adcode"),
			Name:   propString(f.Properties, "name"),
			Shape:  shape,
		})
	}
	return NewDistricts(list)
}

// propString reads a property that may have been written as a string or a
// number (adcodes appear as both in public GeoJSON).
func propString(p geojson.Properties, key string) string {
	switch v := p[key].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	case json.Number:
		return v.String()
	}
	return ""
}

// LoadDistricts indexes the district outlines embedded in the seeds.
func LoadDistricts() (*Districts, error) {
	data, err := seeds.FS.ReadFile(DistrictsFile)
	if err != nil {
		return nil, fmt.Errorf("load districts: %w", err)
	}
	return ParseDistricts(data)
}

// List returns the districts in the order they were indexed.
func (d *Districts) List() []District {
	return d.list
}

// BySlug finds a district by its slug.
func (d *Districts) BySlug(slug string) (*District, bool) {
	for i := range d.list {
		if d.list[i].Slug == slug {
			return &d.list[i], true
		}
	}
	return nil, false
}

// Contains returns the district whose outline holds the WGS-84 point, or
// false when the point is on no district's land.
func (d *Districts) Contains(lon, lat float64) (*District, bool) {
	pt := orb.Point{lon, lat}
	if lon < d.origin[0] || lat < d.origin[1] ||
		lon > d.origin[0]+d.cellLon*float64(d.cols) || lat > d.origin[1]+d.cellLat*float64(d.rows) {
		return nil, false
	}
	c, r := d.cell(pt)
	for _, pi := range d.grid[r*d.cols+c] {
		p := &d.parts[pi]
		if p.bound.Contains(pt) && planar.PolygonContains(p.poly, pt) {
			return &d.list[p.district], true
		}
	}
	return nil, false
}

// Locate places a WGS-84 point: inside a district, or within SnapMeters of
// the nearest one (Hit.Snapped), or nowhere in Xiamen (false).
func (d *Districts) Locate(lon, lat float64) (Hit, bool) {
	if dist, ok := d.Contains(lon, lat); ok {
		return Hit{District: dist}, true
	}
	best, bestM := -1, math.Inf(1)
	// Degrees of latitude and longitude that SnapMeters spans here, to skip
	// polygons whose bounds are farther than that.
	padLat := SnapMeters / metersPerDegLat
	padLon := SnapMeters / (metersPerDegLat * math.Cos(lat*math.Pi/180))
	for _, p := range d.parts {
		b := p.bound
		if lon < b.Min[0]-padLon || lon > b.Max[0]+padLon || lat < b.Min[1]-padLat || lat > b.Max[1]+padLat {
			continue
		}
		if m := polygonDistanceMeters(p.poly, lon, lat); m < bestM {
			best, bestM = p.district, m
		}
	}
	if best < 0 || bestM > SnapMeters {
		return Hit{}, false
	}
	return Hit{District: &d.list[best], Snapped: true, Meters: bestM}, true
}

// metersPerDegLat is the length of one degree of latitude on the mean
// Earth sphere used by DistanceMeters.
const metersPerDegLat = 6371008.8 * math.Pi / 180

// polygonDistanceMeters is the distance from a point outside poly to its
// nearest edge, in a local equirectangular projection: exact to well under
// a metre at the kilometre scale snapping works at.
func polygonDistanceMeters(poly orb.Polygon, lon, lat float64) float64 {
	kx := metersPerDegLat * math.Cos(lat*math.Pi/180)
	ky := metersPerDegLat
	best := math.Inf(1)
	for _, ring := range poly {
		for i := 1; i < len(ring); i++ {
			ax, ay := (ring[i-1][0]-lon)*kx, (ring[i-1][1]-lat)*ky
			bx, by := (ring[i][0]-lon)*kx, (ring[i][1]-lat)*ky
			if m := segmentOriginDistance(ax, ay, bx, by); m < best {
				best = m
			}
		}
	}
	return best
}

// segmentOriginDistance is the distance from the origin to segment ab.
func segmentOriginDistance(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	x, y := ax+t*dx, ay+t*dy
	return math.Hypot(x, y)
}

// InteriorPoint returns a point well inside the district's largest polygon:
// the grid point farthest from the outline. Centroids of coastal districts
// can fall at sea; this cannot.
func (dist *District) InteriorPoint() orb.Point {
	polys := append([]orb.Polygon(nil), dist.Shape...)
	sort.SliceStable(polys, func(i, j int) bool {
		return math.Abs(planar.Area(polys[i])) > math.Abs(planar.Area(polys[j]))
	})
	poly := polys[0]
	b := poly.Bound()
	const steps = 60
	best, bestM := poly[0][0], -1.0
	for i := 1; i < steps; i++ {
		for j := 1; j < steps; j++ {
			lon := b.Min[0] + (b.Max[0]-b.Min[0])*float64(i)/steps
			lat := b.Min[1] + (b.Max[1]-b.Min[1])*float64(j)/steps
			pt := orb.Point{lon, lat}
			if !planar.PolygonContains(poly, pt) {
				continue
			}
			if m := polygonDistanceMeters(poly, lon, lat); m > bestM {
				best, bestM = pt, m
			}
		}
	}
	return best
}
