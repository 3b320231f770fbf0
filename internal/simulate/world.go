package simulate

import (
	"math"
	"math/rand/v2"
)

// Radii of the discs background complaints are spread over, in metres.
const (
	placeRadius = 1000.0
	// backgroundPlaceShare of background complaints are drawn around named
	// places rather than sub-districts.
	backgroundPlaceShare = 0.15
	districtRadius       = 2500.0
	minSubRadius         = 1000.0
	maxSubRadius         = 2500.0
	spotPlaceOffset      = 300.0 // a planted hotspot lies this close to its named place
	spotSubOffset        = 900.0
	minSpotSeparation    = 400.0 // planted centres stay apart so they are told apart
	maxDraws             = 64
)

const metresPerDegree = 111320.0

// anchor is a named point complaints are spread around.
type anchor struct {
	name     string
	address  string
	lon, lat float64
	radius   float64
}

type district struct {
	slug, name string
	center     anchor
	subs       []anchor
	places     []anchor
	roads      []string
	weight     float64
}

// site is a point of the world: where a complaint comes from.
type site struct {
	district int
	lon, lat float64
	sub      int // nearest sub-district of the district, -1 when it has none
	place    int // the place it was drawn around, -1 when none
}

type world struct {
	districts []district
	locate    func(lon, lat float64) (string, bool)
}

func newWorld(g *Gazetteer, locate func(lon, lat float64) (string, bool)) *world {
	w := &world{locate: locate}
	for _, d := range g.Districts {
		rs := roads[d.Slug]
		if len(rs) == 0 {
			rs = []string{"主干道", "环路", "中路", "大道"}
		}
		weight := districtWeight[d.Slug]
		if weight == 0 {
			weight = 0.1
		}
		w.districts = append(w.districts, district{
			slug: d.Slug, name: d.Name, roads: rs, weight: weight,
			center: anchor{name: d.Name, lon: d.Lon, lat: d.Lat, radius: districtRadius},
		})
	}
	var points []anchor // every representative point, to size the discs
	for _, d := range w.districts {
		points = append(points, d.center)
	}
	for _, s := range g.Subdistricts {
		if !s.hasPoint() {
			continue
		}
		i := g.districtIndex(s.District)
		a := anchor{name: s.Name, lon: s.Lon, lat: s.Lat}
		w.districts[i].subs = append(w.districts[i].subs, a)
		points = append(points, a)
	}
	for _, p := range g.Places {
		i := g.districtIndex(p.District)
		w.districts[i].places = append(w.districts[i].places, anchor{name: p.Name, address: p.Address, lon: p.Lon, lat: p.Lat, radius: placeRadius})
	}
	// A sub-district's disc reaches about half way to its nearest
	// neighbour, so dense urban sub-districts get small discs and rural
	// towns large ones.
	for di := range w.districts {
		for si := range w.districts[di].subs {
			s := &w.districts[di].subs[si]
			nearest := math.Inf(1)
			for _, c := range points {
				if d := approxMetres(s.lon, s.lat, c.lon, c.lat); d > 1 && d < nearest {
					nearest = d
				}
			}
			s.radius = math.Max(minSubRadius, math.Min(maxSubRadius, 0.6*nearest))
		}
	}
	return w
}

// cosXiamen scales longitude to distance at Xiamen's mean latitude; over
// the city (24.4-24.9 N) it is off by under 0.4 %.
var cosXiamen = math.Cos(24.6 * math.Pi / 180)

// approxMetres is an equirectangular distance, exact enough at city scale
// and much cheaper than the haversine in the sampling loops.
func approxMetres(lon1, lat1, lon2, lat2 float64) float64 {
	x := (lon2 - lon1) * cosXiamen
	y := lat2 - lat1
	return math.Sqrt(x*x+y*y) * metresPerDegree
}

// offset moves a point by a uniform draw in a disc of radius r metres.
func offset(rng *rand.Rand, lon, lat, r float64) (float64, float64) {
	d := r * math.Sqrt(rng.Float64())
	a := 2 * math.Pi * rng.Float64()
	dy := d * math.Sin(a) / metresPerDegree
	dx := d * math.Cos(a) / (metresPerDegree * math.Cos(lat*math.Pi/180))
	return lon + dx, lat + dy
}

// belongs reports whether a point drawn for district di lies on its land.
func (w *world) belongs(di int, lon, lat float64) bool {
	if !inXiamen(lon, lat) {
		return false
	}
	slug, ok := w.locate(lon, lat)
	return ok && slug == w.districts[di].slug
}

// pickAnchor chooses what a draw in district di is spread around:
// sub-districts mostly, named places often, the district's own point
// rarely; place is the index of the place or -1.
func (w *world) pickAnchor(rng *rand.Rand, di int, placeShare float64) (a anchor, place int) {
	d := &w.districts[di]
	u := rng.Float64()
	switch {
	case len(d.places) > 0 && (u < placeShare || len(d.subs) == 0):
		i := rng.IntN(len(d.places))
		return d.places[i], i
	case len(d.subs) > 0 && u < 0.92:
		// Weighted by disc area, so the density of complaints is about
		// even over the district instead of piling up in small discs.
		i := pickIndex(rng, len(d.subs), func(i int) float64 { return d.subs[i].radius * d.subs[i].radius })
		return d.subs[i], -1
	}
	return d.center, -1
}

// backgroundSite draws a point spread uniformly over a disc around an
// anchor of district di, so that unrelated complaints do not pile up on the
// same spots and pass for repeat hotspots.
func (w *world) backgroundSite(rng *rand.Rand, di int) site {
	var a anchor
	place := -1
	for range maxDraws {
		a, place = w.pickAnchor(rng, di, backgroundPlaceShare)
		lon, lat := offset(rng, a.lon, a.lat, a.radius)
		if w.belongs(di, lon, lat) {
			return w.site(di, lon, lat, place)
		}
	}
	return w.site(di, a.lon, a.lat, place)
}

// centres indexes the planted hotspot centres on a grid of
// minSpotSeparation cells, so the nearest one is found among 9 cells.
type centres map[[2]int][][2]float64

func centreCell(lon, lat float64) [2]int {
	const cell = minSpotSeparation / metresPerDegree
	return [2]int{int(math.Floor(lon * cosXiamen / cell)), int(math.Floor(lat / cell))}
}

func (c centres) add(lon, lat float64) {
	k := centreCell(lon, lat)
	c[k] = append(c[k], [2]float64{lon, lat})
}

// gap is the distance to the nearest centre, or +Inf when none lies
// within minSpotSeparation.
func (c centres) gap(lon, lat float64) float64 {
	k := centreCell(lon, lat)
	gap := math.Inf(1)
	for dx := -1; dx <= 1; dx++ {
		for dy := -1; dy <= 1; dy++ {
			for _, p := range c[[2]int{k[0] + dx, k[1] + dy}] {
				gap = math.Min(gap, approxMetres(lon, lat, p[0], p[1]))
			}
		}
	}
	return gap
}

// spotSite draws the centre of a planted hotspot near a named place or
// sub-district of district di, away from the centres already taken.
func (w *world) spotSite(rng *rand.Rand, di int, taken centres) site {
	var best site
	bestGap := -1.0
	for range maxDraws {
		a, place := w.pickAnchor(rng, di, 0.6)
		r := spotSubOffset
		if place >= 0 {
			r = spotPlaceOffset
		}
		lon, lat := offset(rng, a.lon, a.lat, r)
		if !w.belongs(di, lon, lat) {
			continue
		}
		gap := taken.gap(lon, lat)
		if gap >= minSpotSeparation {
			return w.site(di, lon, lat, place)
		}
		if gap > bestGap {
			best, bestGap = w.site(di, lon, lat, place), gap
		}
	}
	if bestGap < 0 {
		a, place := w.pickAnchor(rng, di, 0.6)
		return w.site(di, a.lon, a.lat, place)
	}
	return best
}

func (w *world) site(di int, lon, lat float64, place int) site {
	s := site{district: di, lon: lon, lat: lat, sub: -1, place: place}
	nearest := math.Inf(1)
	for i, a := range w.districts[di].subs {
		if d := approxMetres(lon, lat, a.lon, a.lat); d < nearest {
			s.sub, nearest = i, d
		}
	}
	return s
}

// pickDistrict draws a district by population, tilted for the category.
func (w *world) pickDistrict(rng *rand.Rand, category string) int {
	tilt := categoryTilt[category]
	total := 0.0
	for _, d := range w.districts {
		total += d.weight * tiltOf(tilt, d.slug)
	}
	u := rng.Float64() * total
	for i, d := range w.districts {
		u -= d.weight * tiltOf(tilt, d.slug)
		if u < 0 {
			return i
		}
	}
	return len(w.districts) - 1
}

func tiltOf(tilt map[string]float64, slug string) float64 {
	if t, ok := tilt[slug]; ok {
		return t
	}
	return 1
}
