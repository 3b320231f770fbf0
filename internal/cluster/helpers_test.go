package cluster

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

var (
	t0      = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	baseLon = 118.10
	baseLat = 24.48
)

// testConfig is a small config with the seed's shape.
func testConfig(window time.Duration, late time.Duration) Config {
	life := CategoryConfig{EscalateCount: 6, EscalateWithin: 7 * day, Cooling: 7 * day, Close: 30 * day}
	noise := life
	noise.Params = Params{RadiusM: 150, Window: window, MinCount: 3}
	noise.Subcategories = map[string]Params{"construction": {RadiusM: 200}}
	dust := life
	dust.Params = Params{RadiusM: 300, Window: window, MinCount: 3}
	return Config{Categories: map[string]CategoryConfig{"noise": noise, "dust": dust}, LateSlack: late}
}

// at returns a point east and north of the base by the given metres.
func at(id string, east, north float64, when time.Time) Point {
	lat := baseLat + north/metresPerDegree
	lon := baseLon + east/(metresPerDegree*math.Cos(baseLat*math.Pi/180))
	return Point{ID: id, Category: "noise", District: "siming", Lon: &lon, Lat: &lat, At: when}
}

func days0(d float64) time.Time { return t0.Add(time.Duration(d * float64(day))) }

// mustAdd adds a point and records its result in the store.
func mustAdd(t testing.TB, e *Engine, s *MemStore, p Point) Result {
	t.Helper()
	r, err := e.Add(context.Background(), p)
	if err != nil {
		t.Fatalf("add %s: %v", p.ID, err)
	}
	if s != nil {
		s.Apply(r)
	}
	return r
}

// partition is a canonical form of a clustering: each hotspot's sorted
// member ids, joined, sorted.
func partition(groups map[string][]string) []string {
	var out []string
	for _, ids := range groups {
		sort.Strings(ids)
		out = append(out, strings.Join(ids, ","))
	}
	sort.Strings(out)
	return out
}

func storePartition(s *MemStore) []string {
	g := make(map[string][]string)
	for _, m := range s.Members() {
		if m.HotspotID != "" {
			g[m.HotspotID] = append(g[m.HotspotID], m.ID)
		}
	}
	return partition(g)
}

func equalParts(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reference is a batch ST-DBSCAN over the whole set, written from the
// definition without the engine's index or incremental steps.
func reference(cfg Config, pts []Point) []string {
	type rp struct {
		Point
		r    float64
		w    time.Duration
		min  int
		core bool
		comp int
	}
	ps := make([]*rp, len(pts))
	for i, p := range pts {
		pr := cfg.Categories[p.Category].Sub(p.Subcategory)
		ps[i] = &rp{Point: p, r: pr.RadiusM, w: pr.Window, min: pr.MinCount, comp: -1}
	}
	nbr := func(a, b *rp) (bool, float64) {
		if a.Category != b.Category || a.District != b.District {
			return false, 0
		}
		dt := a.At.Sub(b.At)
		if dt < 0 {
			dt = -dt
		}
		if dt > max(a.w, b.w) {
			return false, 0
		}
		sameKey := a.PlaceKey != "" && a.PlaceKey == b.PlaceKey
		if sameKey && place.Vague(a.PlaceKey) {
			// A key that names no one place links only complaints
			// without a point; two points are linked by distance.
			if a.Lon == nil || b.Lon == nil {
				return a.Lon == nil && b.Lon == nil, 0
			}
			sameKey = false
		}
		if a.Lon == nil || b.Lon == nil {
			return sameKey, 0
		}
		d := geo.DistanceMeters(*a.Lon, *a.Lat, *b.Lon, *b.Lat)
		if sameKey && d <= place.KeyReach {
			return true, 0
		}
		return d <= max(a.r, b.r), d
	}
	adj := make([][]int, len(ps))
	for i := range ps {
		count := 1
		for j := range ps {
			if i != j {
				if ok, _ := nbr(ps[i], ps[j]); ok {
					adj[i] = append(adj[i], j)
					// Only complaints without a point count for one
					// without a point.
					if ps[i].Lon != nil || ps[j].Lon == nil {
						count++
					}
				}
			}
		}
		ps[i].core = count >= ps[i].min
	}
	comps := 0
	for i := range ps {
		if !ps[i].core || ps[i].comp >= 0 {
			continue
		}
		stack := []int{i}
		ps[i].comp = comps
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, j := range adj[k] {
				if ps[j].core && ps[j].comp < 0 {
					ps[j].comp = comps
					stack = append(stack, j)
				}
			}
		}
		comps++
	}
	groups := make(map[string][]string)
	for i, p := range ps {
		comp := p.comp
		if !p.core {
			bestD, bestID := math.Inf(1), ""
			for _, j := range adj[i] {
				if !ps[j].core {
					continue
				}
				_, d := nbr(p, ps[j])
				if d < bestD || (d == bestD && ps[j].ID < bestID) {
					bestD, bestID, comp = d, ps[j].ID, ps[j].comp
				}
			}
		}
		if comp >= 0 {
			key := strconv.Itoa(comp)
			groups[key] = append(groups[key], p.ID)
		}
	}
	return partition(groups)
}
