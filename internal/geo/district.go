package geo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
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

// part is one polygon of a district with its bounds, the unit snapping
// measures distances to.
type part struct {
	bound    orb.Bound
	poly     orb.Polygon
	district int
}

// edge is one side of a ring, stored in every latitude band it spans.
type edge struct {
	x1, y1, x2, y2 float64
	district       int
}

// Districts answers which district a WGS-84 point lies in. It is safe for
// concurrent use once built.
//
// Containment is even-odd ray casting restricted to a band index: the
// outlines' edges are bucketed by the latitude bands they span, so a
// point's horizontal ray is tested only against the dozen or so edges of
// its band instead of all 1,134. The districts do not overlap, so the
// parity of crossings per district decides containment, holes included.
type Districts struct {
	list  []District
	parts []part
	bound orb.Bound
	bands [][]edge
	bandH float64
}

// bandCount is the number of latitude bands: about 130 m each over Xiamen.
const bandCount = 512

// NewDistricts indexes districts for point lookups.
func NewDistricts(list []District) (*Districts, error) {
	if len(list) == 0 {
		return nil, errors.New("index districts: none given")
	}
	if len(list) > 64 {
		return nil, fmt.Errorf("index districts: %d districts, at most 64", len(list))
	}
	d := &Districts{list: append([]District(nil), list...)}
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
				d.bound, first = b, false
			} else {
				d.bound = d.bound.Union(b)
			}
		}
	}
	d.bands = make([][]edge, bandCount)
	d.bandH = (d.bound.Max[1] - d.bound.Min[1]) / bandCount
	for _, p := range d.parts {
		for _, ring := range p.poly {
			n := len(ring)
			for k := range n {
				a, b := ring[k], ring[(k+1)%n]
				if a == b {
					continue
				}
				e := edge{a[0], a[1], b[0], b[1], p.district}
				for bi := d.band(math.Min(a[1], b[1])); bi <= d.band(math.Max(a[1], b[1])); bi++ {
					d.bands[bi] = append(d.bands[bi], e)
				}
			}
		}
	}
	return d, nil
}

// band returns the latitude band of lat, clamped to the index.
func (d *Districts) band(lat float64) int {
	return min(max(int((lat-d.bound.Min[1])/d.bandH), 0), bandCount-1)
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
	if !d.bound.Contains(orb.Point{lon, lat}) {
		return nil, false
	}
	var inside uint64 // crossing parity, one bit per district
	for _, e := range d.bands[d.band(lat)] {
		if (e.y1 > lat) != (e.y2 > lat) &&
			lon < e.x1+(lat-e.y1)*(e.x2-e.x1)/(e.y2-e.y1) {
			inside ^= 1 << e.district
		}
	}
	if inside == 0 {
		return nil, false
	}
	return &d.list[bits.TrailingZeros64(inside)], true
}

// Locate places a WGS-84 point: inside a district, or within SnapMeters of
// the nearest one (Hit.Snapped), or nowhere in Xiamen (false).
func (d *Districts) Locate(lon, lat float64) (Hit, bool) {
	if dist, ok := d.Contains(lon, lat); ok {
		return Hit{District: dist}, true
	}
	// Only edges within SnapMeters can matter: those of the bands that
	// span that far north and south, within that far east and west.
	padLat := SnapMeters / metersPerDegLat
	kx := metersPerDegLat * math.Cos(lat*math.Pi/180)
	padLon := SnapMeters / kx
	if lon < d.bound.Min[0]-padLon || lon > d.bound.Max[0]+padLon ||
		lat < d.bound.Min[1]-padLat || lat > d.bound.Max[1]+padLat {
		return Hit{}, false
	}
	best, bestM := -1, math.Inf(1)
	for bi := d.band(lat - padLat); bi <= d.band(lat+padLat); bi++ {
		for _, e := range d.bands[bi] {
			if math.Min(e.x1, e.x2) > lon+padLon || math.Max(e.x1, e.x2) < lon-padLon {
				continue
			}
			m := segmentOriginDistance((e.x1-lon)*kx, (e.y1-lat)*metersPerDegLat,
				(e.x2-lon)*kx, (e.y2-lat)*metersPerDegLat)
			if m < bestM {
				best, bestM = e.district, m
			}
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
