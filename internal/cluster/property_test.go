package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// randomFeed draws n complaints around a few centres in a 1.5 km square
// over the given days: clusters, bridges, sparse background, shared place
// keys, address-only complaints, two categories and two districts.
func randomFeed(rng *rand.Rand, n int, spanDays float64) []Point {
	centres := make([][2]float64, 3+rng.IntN(5))
	for i := range centres {
		centres[i] = [2]float64{rng.Float64() * 1500, rng.Float64() * 1500}
	}
	keys := []string{"k-market", "k-site", "k-bar", "k-school", "杏林街道旁的在建工地", "莲前西路沿街的ktv"}
	cats := []string{"noise", "noise", "dust"}
	subs := []string{"", "", "construction"}
	out := make([]Point, n)
	for i := range out {
		var east, north float64
		if rng.Float64() < 0.6 {
			c := centres[rng.IntN(len(centres))]
			east, north = c[0]+rng.NormFloat64()*80, c[1]+rng.NormFloat64()*80
		} else {
			east, north = rng.Float64()*1500, rng.Float64()*1500
		}
		// Times on a coarse grid so that ties in time occur.
		when := t0.Add(time.Duration(math.Round(rng.Float64()*spanDays*24)) * time.Hour)
		p := at(fmt.Sprintf("p%03d", i), east, north, when)
		p.Category = cats[rng.IntN(len(cats))]
		p.Subcategory = subs[rng.IntN(len(subs))]
		if rng.Float64() < 0.15 {
			p.District = "huli"
		}
		if rng.Float64() < 0.15 {
			p.PlaceKey = keys[rng.IntN(len(keys))]
			if rng.Float64() < 0.5 {
				p.Lon, p.Lat = nil, nil
			}
		}
		out[i] = p
	}
	return out
}

func feedAll(t *testing.T, cfg Config, pts []Point) (*Engine, *MemStore) {
	t.Helper()
	s := NewMemStore()
	e := NewEngine(cfg, s)
	for _, p := range pts {
		mustAdd(t, e, s, p)
	}
	return e, s
}

func TestOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	cfg := testConfig(10*day, 100*365*day) // everything stays in memory
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		pts := randomFeed(rng, 60+rng.IntN(140), 40)
		want := reference(cfg, pts)
		if seed == 0 && len(want) < 2 {
			t.Fatalf("seed 0 makes %d hotspots: the feed does not exercise clustering", len(want))
		}
		sorted := append([]Point(nil), pts...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
		_, s := feedAll(t, cfg, sorted)
		if got := storePartition(s); !equalParts(got, want) {
			t.Fatalf("seed %d, in order:\n got %v\nwant %v", seed, got, want)
		}
		for k := range 3 {
			rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
			_, s := feedAll(t, cfg, pts)
			if got := storePartition(s); !equalParts(got, want) {
				t.Fatalf("seed %d, shuffle %d:\n got %v\nwant %v", seed, k, got, want)
			}
		}
	}
}

func TestAddingAgainChangesNothing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(10*day, 100*365*day)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		pts := randomFeed(rng, 150, 30)
		e, s := feedAll(t, cfg, pts)
		want := storePartition(s)
		rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
		for _, p := range pts {
			r := mustAdd(t, e, s, p)
			if len(r.Members) != 0 || len(r.Changes) != 0 || len(r.Hotspots) != 0 {
				t.Fatalf("seed %d: re-adding %s changed %+v", seed, p.ID, r)
			}
		}
		if got := storePartition(s); !equalParts(got, want) {
			t.Fatalf("seed %d: partition moved on re-adding", seed)
		}
	}
}

// TestEvictionMatchesMemory feeds mostly in time order with some complaints
// arriving weeks late, to an engine that keeps five-day windows plus one
// day of slack and must reload the rest from the store.
func TestEvictionMatchesMemory(t *testing.T) {
	t.Parallel()
	cfg := testConfig(5*day, 24*time.Hour)
	lateSeen, evicted := 0, false
	for seed := range uint64(25) {
		rng := rand.New(rand.NewPCG(seed, 3))
		pts := randomFeed(rng, 300, 120)
		want := reference(cfg, pts)
		arrive := make([]time.Time, len(pts))
		for i, p := range pts {
			arrive[i] = p.At
			if rng.Float64() < 0.15 {
				arrive[i] = p.At.Add(time.Duration(rng.Float64() * 60 * float64(day)))
			}
		}
		order := make([]int, len(pts))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return arrive[order[a]].Before(arrive[order[b]]) })
		s := NewMemStore()
		e := NewEngine(cfg, s)
		var latest time.Time
		for _, i := range order {
			if pts[i].At.Before(latest.Add(-cfg.LateSlack)) {
				lateSeen++
			}
			if pts[i].At.After(latest) {
				latest = pts[i].At
			}
			mustAdd(t, e, s, pts[i])
		}
		if e.Len() < len(pts)/2 {
			evicted = true
		}
		if got := storePartition(s); !equalParts(got, want) {
			t.Fatalf("seed %d:\n got %v\nwant %v", seed, got, want)
		}
		// Re-delivering everything, late ones included, changes nothing.
		for _, i := range order[:50] {
			if r := mustAdd(t, e, s, pts[i]); len(r.Members) != 0 {
				t.Fatalf("seed %d: redelivery of %s changed members", seed, pts[i].ID)
			}
		}
	}
	if lateSeen == 0 || !evicted {
		t.Fatalf("the test did not exercise the store: %d late, evicted %v", lateSeen, evicted)
	}
}

func TestRestoreContinues(t *testing.T) {
	t.Parallel()
	cfg := testConfig(5*day, 24*time.Hour)
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 4))
		pts := randomFeed(rng, 300, 60)
		sort.Slice(pts, func(i, j int) bool { return pts[i].At.Before(pts[j].At) })
		want := reference(cfg, pts)
		s := NewMemStore()
		e := NewEngine(cfg, s)
		half := len(pts) / 2
		var hotspots []Hotspot
		for _, p := range pts[:half] {
			r := mustAdd(t, e, s, p)
			hotspots = append(hotspots, r.Hotspots...)
		}
		// Restart: a new engine from what was persisted since RestoreFrom.
		from := cfg.RestoreFrom(pts[half-1].At)
		var members []Member
		for _, m := range s.Members() {
			if !m.At.Before(from) {
				members = append(members, m)
			}
		}
		latestRec := make(map[string]Hotspot)
		for _, h := range hotspots {
			latestRec[h.ID] = h
		}
		var recs []Hotspot
		for _, h := range latestRec {
			recs = append(recs, h)
		}
		e2 := NewEngine(cfg, s)
		if err := e2.Restore(members, recs); err != nil {
			t.Fatal(err)
		}
		for _, p := range pts[half:] {
			mustAdd(t, e2, s, p)
		}
		if got := storePartition(s); !equalParts(got, want) {
			t.Fatalf("seed %d after restore:\n got %v\nwant %v", seed, got, want)
		}
	}
}
