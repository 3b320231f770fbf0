package simulate

import (
	"math"
	"math/rand/v2"
	"slices"
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
	land       [][2]int // grid cells holding its land, see indexLand
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
	w.indexLand()
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

// backgroundSite draws a point uniformly over district di's land, so that
// unrelated complaints neither pile up around the gazetteer's anchors nor
// pass for repeat hotspots more often than chance makes them.
func (w *world) backgroundSite(rng *rand.Rand, di int) site {
	if s, ok := w.landSite(rng, di); ok {
		return s
	}
	// No land index (a stand-in boundary the grid missed): spread over the
	// anchors' discs instead.
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

// landCell is the side, in metres, of the grid cells that index each
// district's land for uniform draws.
const landCell = 1000.0

// landGrid steps over Xiamen's extent in degrees, cells about landCell
// metres square.
var (
	landLonStep = landCell / (metresPerDegree * cosXiamen)
	landLatStep = landCell / metresPerDegree
)

// indexLand lists, for every district, the grid cells that hold some of
// its land: each cell is probed on a 4x4 lattice, and the cells around a
// hit are kept as well so that slivers between probes are not lost. A draw
// then picks a listed cell uniformly and a point uniformly in it, and keeps
// it only on the district's land: the result is uniform over the land.
func (w *world) indexLand() {
	nx := int(math.Ceil((maxLon - minLon) / landLonStep))
	ny := int(math.Ceil((maxLat - minLat) / landLatStep))
	slug := make(map[string]int, len(w.districts))
	for i, d := range w.districts {
		slug[d.slug] = i
	}
	hit := make([]map[[2]int]bool, len(w.districts))
	for i := range hit {
		hit[i] = make(map[[2]int]bool)
	}
	const probes = 4
	for x := range nx {
		for y := range ny {
			for px := range probes {
				for py := range probes {
					lon := minLon + (float64(x)+(float64(px)+0.5)/probes)*landLonStep
					lat := minLat + (float64(y)+(float64(py)+0.5)/probes)*landLatStep
					d, ok := w.locate(lon, lat)
					if !ok {
						continue
					}
					if di, ok := slug[d]; ok {
						hit[di][[2]int{x, y}] = true
					}
				}
			}
		}
	}
	for di, cells := range hit {
		keep := make(map[[2]int]bool, 2*len(cells))
		for c := range cells {
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					keep[[2]int{c[0] + dx, c[1] + dy}] = true
				}
			}
		}
		list := make([][2]int, 0, len(keep))
		for c := range keep {
			list = append(list, c)
		}
		// Map order is random: sort so that the same seed draws the same
		// points.
		slices.SortFunc(list, func(a, b [2]int) int {
			if a[0] != b[0] {
				return a[0] - b[0]
			}
			return a[1] - b[1]
		})
		w.districts[di].land = list
	}
}

// landDraws bounds the rejection sampling of one uniform land point; the
// listed cells are mostly land, so a few draws suffice.
const landDraws = 1024

// landSite draws a point uniformly over district di's land; false when the
// district has no indexed land.
func (w *world) landSite(rng *rand.Rand, di int) (site, bool) {
	cells := w.districts[di].land
	if len(cells) == 0 {
		return site{}, false
	}
	for range landDraws {
		c := cells[rng.IntN(len(cells))]
		lon := minLon + (float64(c[0])+rng.Float64())*landLonStep
		lat := minLat + (float64(c[1])+rng.Float64())*landLatStep
		if w.belongs(di, lon, lat) {
			return w.site(di, lon, lat, w.nearPlace(di, lon, lat)), true
		}
	}
	return site{}, false
}

// nearPlace is the named place of district di within placeRadius of a
// point, the nearest, or -1: callers near a landmark name it.
func (w *world) nearPlace(di int, lon, lat float64) int {
	best, bestD := -1, placeRadius
	for i, p := range w.districts[di].places {
		if d := approxMetres(lon, lat, p.lon, p.lat); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// centres indexes the planted hotspot centres of each category on a grid
// of cells as wide as the category's gap, so the nearest one is found
// among 9 cells.
type centres struct {
	gaps  map[string]float64
	cells map[string]map[[2]int][][2]float64
}

func newCentres(gaps map[string]float64) *centres {
	return &centres{gaps: gaps, cells: make(map[string]map[[2]int][][2]float64)}
}

// gapOf is how far apart the centres of a category stay.
func (c *centres) gapOf(category string) float64 {
	if g, ok := c.gaps[category]; ok && g > 0 {
		return g
	}
	return defaultGap
}

func (c *centres) cell(category string, lon, lat float64) [2]int {
	size := c.gapOf(category) / metresPerDegree
	return [2]int{int(math.Floor(lon * cosXiamen / size)), int(math.Floor(lat / size))}
}

func (c *centres) add(category string, lon, lat float64) {
	m := c.cells[category]
	if m == nil {
		m = make(map[[2]int][][2]float64)
		c.cells[category] = m
	}
	k := c.cell(category, lon, lat)
	m[k] = append(m[k], [2]float64{lon, lat})
}

// gap is the distance to the nearest centre of the category, or +Inf
// when none lies within the category's gap.
func (c *centres) gap(category string, lon, lat float64) float64 {
	k := c.cell(category, lon, lat)
	m := c.cells[category]
	gap := math.Inf(1)
	for dx := -1; dx <= 1; dx++ {
		for dy := -1; dy <= 1; dy++ {
			for _, p := range m[[2]int{k[0] + dx, k[1] + dy}] {
				gap = math.Min(gap, approxMetres(lon, lat, p[0], p[1]))
			}
		}
	}
	return gap
}

// spotDraws bounds the search for a free centre: first near the district's
// named places and sub-districts, where callers are, then anywhere on its
// land once those are crowded.
const spotDraws = 1024

// spotSite draws the centre of a planted hotspot of a category in
// district di, more than the category's gap from the centres already
// taken: near a named place or sub-district when one is free, anywhere on
// the district's land otherwise. It reports false, with the draw farthest
// from the others, when the district has no room left.
func (w *world) spotSite(rng *rand.Rand, di int, category string, taken *centres) (site, bool) {
	need := taken.gapOf(category)
	var best site
	bestGap := -1.0
	try := func(s site) bool {
		gap := taken.gap(category, s.lon, s.lat)
		if gap > need {
			return true
		}
		if gap > bestGap {
			best, bestGap = s, gap
		}
		return false
	}
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
		if s := w.site(di, lon, lat, place); try(s) {
			return s, true
		}
	}
	for range spotDraws {
		s, ok := w.landSite(rng, di)
		if !ok {
			break
		}
		if try(s) {
			return s, true
		}
	}
	if bestGap < 0 {
		a, place := w.pickAnchor(rng, di, 0.6)
		return w.site(di, a.lon, a.lat, place), false
	}
	return best, false
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

// byWeight lists the districts from the likeliest to the least likely for
// a category.
func (w *world) byWeight(category string) []int {
	tilt := categoryTilt[category]
	order := make([]int, len(w.districts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		wa := w.districts[a].weight * tiltOf(tilt, w.districts[a].slug)
		wb := w.districts[b].weight * tiltOf(tilt, w.districts[b].slug)
		switch {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return 0
	})
	return order
}

func tiltOf(tilt map[string]float64, slug string) float64 {
	if t, ok := tilt[slug]; ok {
		return t
	}
	return 1
}
