package cluster

import (
	"math"
	"sort"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

const (
	// metresPerDegree is one degree of latitude on the sphere geo uses.
	metresPerDegree = 6371008.8 * math.Pi / 180
	// refCos scales longitude into grid cells; taken at Xiamen's latitude
	// so cells are square there. Elsewhere queries span more cells and
	// stay exact.
	refCos = 0.9100 // cos(24.5°)
)

// node is a point held in memory with its clustering state, laid out in
// 128 bytes: its district is an index into Engine.distNames.
type node struct {
	id, sub, key string
	// nearID identifies the nearest core neighbour of a non-core point at
	// distance nearD (hasNear false when it has none).
	nearID   string
	lon, lat float64 // NaN when the point has no coordinates
	at       int64   // UnixNano
	nearD    float64
	hs       *hotspot
	params   *param
	count    int32  // points in its neighbourhood that count for it (see counts), itself included
	dist     uint16 // interned district
	cat      uint8
	core     bool
	hasNear  bool
	// vague marks a place key that names no one place (place.Vague): it
	// links only complaints without a point, which have nothing else.
	vague bool
}

func (n *node) located() bool { return !math.IsNaN(n.lon) }

// param is Params in the units the hot loops use.
type param struct {
	r   float64
	w   int64
	min int32
}

// catState is a category's configuration as the index uses it.
type catState struct {
	name  string
	cfg   CategoryConfig
	def   param
	subs  map[string]*param
	maxR  float64
	maxW  int64
	cellM float64
}

func (c *catState) paramsOf(sub string) *param {
	if p, ok := c.subs[sub]; ok {
		return p
	}
	return &c.def
}

// cellID packs a grid cell into one int64 for the fast map path:
// category in the top 8 bits, district in the next 12, the cell's column
// and row in 22 bits each, enough for the whole Earth with cells down to
// 10 m. Smaller cells wrap, and districts beyond 4,096 share bits: a
// wrapped cell only shares a slice with far-away or other-district points,
// which neighbours filters out, so packing never changes a result.
func cellID(cat uint8, dist uint16, x, y int32) int64 {
	const mask = 1<<22 - 1
	return int64(cat)<<56 | int64(dist&0xfff)<<44 | (int64(x)&mask)<<22 | int64(y)&mask
}

type placeKey struct {
	key  string
	dist uint16
	cat  uint8
}

// index finds a point's space-time neighbours: a grid of cells one maximum
// radius wide keyed by (category, district, cell), and a list per place
// key, each slice sorted by time so a window is a binary search away.
type index struct {
	cats   []*catState
	cells  map[int64][]*node
	places map[placeKey][]*node
}

func newIndex(cats []*catState) *index {
	return &index{cats: cats, cells: make(map[int64][]*node), places: make(map[placeKey][]*node)}
}

func (ix *index) cellOf(n *node) int64 {
	c := ix.cats[n.cat]
	return cellID(n.cat, n.dist,
		int32(math.Floor(n.lon*refCos*metresPerDegree/c.cellM)),
		int32(math.Floor(n.lat*metresPerDegree/c.cellM)))
}

// before orders nodes by time, then id, the order of every slice.
func before(a, b *node) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

func insertSorted(s []*node, n *node) []*node {
	i := len(s)
	if i > 0 && before(n, s[i-1]) {
		i = sort.Search(len(s), func(j int) bool { return before(n, s[j]) })
	}
	s = append(s, nil)
	copy(s[i+1:], s[i:])
	s[i] = n
	return s
}

func removeSorted(s []*node, n *node) []*node {
	i := sort.Search(len(s), func(j int) bool { return !before(s[j], n) })
	for ; i < len(s) && s[i].at == n.at; i++ {
		if s[i] == n {
			copy(s[i:], s[i+1:])
			s[len(s)-1] = nil
			return s[:len(s)-1]
		}
	}
	return s
}

func (ix *index) insert(n *node) {
	if n.located() {
		k := ix.cellOf(n)
		ix.cells[k] = insertSorted(ix.cells[k], n)
	}
	if n.key != "" {
		k := placeKey{dist: n.dist, key: n.key, cat: n.cat}
		ix.places[k] = insertSorted(ix.places[k], n)
	}
}

func (ix *index) remove(n *node) {
	if n.located() {
		k := ix.cellOf(n)
		if s := removeSorted(ix.cells[k], n); len(s) > 0 {
			ix.cells[k] = s
		} else {
			delete(ix.cells, k)
		}
	}
	if n.key != "" {
		k := placeKey{dist: n.dist, key: n.key, cat: n.cat}
		if s := removeSorted(ix.places[k], n); len(s) > 0 {
			ix.places[k] = s
		} else {
			delete(ix.places, k)
		}
	}
}

// pair returns whether two located points of different place keys are
// neighbours, and their distance in metres; cosLat is the cosine of a's
// |latitude| plus its category's largest radius. Points of one key are
// neighbours through the index's places (see neighbours).
func pair(a, b *node, cosLat float64) (bool, float64) {
	w := max(a.params.w, b.params.w)
	if dt := a.at - b.at; dt > w || -dt > w {
		return false, 0
	}
	r := max(a.params.r, b.params.r)
	if math.Abs(a.lat-b.lat)*metresPerDegree > r {
		return false, 0
	}
	// Past the latitude test, a degree of longitude spans at least cosLat
	// degrees of arc at either point: the cheap test rejects most of a
	// cell's points before the haversine.
	if math.Abs(a.lon-b.lon)*metresPerDegree*cosLat > r*1.001 {
		return false, 0
	}
	d := geo.DistanceMeters(a.lon, a.lat, b.lon, b.lat)
	return d <= r, d
}

// window returns the part of a time-sorted slice within w of at.
func window(s []*node, at, w int64) []*node {
	from, to := at-w, at+w
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].at < from {
			lo = m + 1
		} else {
			hi = m
		}
	}
	hi = lo
	for hi < len(s) && s[hi].at <= to {
		hi++
	}
	return s[lo:hi]
}

// neighbours calls fn for every point in n's space-time neighbourhood other
// than n, each once, with its distance.
func (ix *index) neighbours(n *node, fn func(m *node, d float64)) {
	c := ix.cats[n.cat]
	if n.located() {
		dLat := c.maxR / metresPerDegree
		cosLat := math.Cos(math.Min(89, math.Abs(n.lat)+dLat) * math.Pi / 180)
		dLon := c.maxR / (metresPerDegree * cosLat) * 1.001
		x0 := int32(math.Floor((n.lon - dLon) * refCos * metresPerDegree / c.cellM))
		x1 := int32(math.Floor((n.lon + dLon) * refCos * metresPerDegree / c.cellM))
		y0 := int32(math.Floor((n.lat - dLat) * metresPerDegree / c.cellM))
		y1 := int32(math.Floor((n.lat + dLat) * metresPerDegree / c.cellM))
		for x := x0; x <= x1; x++ {
			for y := y0; y <= y1; y++ {
				for _, m := range window(ix.cells[cellID(n.cat, n.dist, x, y)], n.at, c.maxW) {
					if m == n || m.dist != n.dist || m.cat != n.cat || (n.key != "" && !n.vague && m.key == n.key) {
						continue // same place: reported below; other cells wrapped onto this one
					}
					if ok, d := pair(n, m, cosLat); ok {
						fn(m, d)
					}
				}
			}
		}
	}
	if n.key == "" || (n.vague && n.located()) {
		return // a vague key links a point to nothing its distance does not
	}
	for _, m := range window(ix.places[placeKey{dist: n.dist, key: n.key, cat: n.cat}], n.at, c.maxW) {
		if m == n || abs64(n.at-m.at) > max(n.params.w, m.params.w) {
			continue
		}
		if n.vague && m.located() {
			continue // one of the many places the key fits, or none of them
		}
		if n.located() && m.located() && geo.DistanceMeters(n.lon, n.lat, m.lon, m.lat) > place.KeyReach {
			continue // one name for two places: far beyond any radius, so no neighbour either
		}
		fn(m, 0)
	}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// counts reports whether neighbour m counts towards n's neighbourhood
// size, which makes n a core point. A complaint without a point is at
// every place its key names; only complaints without a point count for
// it, so that it becomes a core point where the place is named without
// points by itself (and not merely because sites with points share its
// name, which it would then join into one hotspot). For a complaint with
// a point every neighbour counts.
func counts(n, m *node) bool { return n.located() || !m.located() }

// closer reports whether core c at distance d is a nearer core for n than
// its current one: by distance, ties by id.
func closer(n *node, c *node, d float64) bool {
	if !n.hasNear {
		return true
	}
	if d != n.nearD {
		return d < n.nearD
	}
	return c.id < n.nearID
}
