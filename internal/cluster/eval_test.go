package cluster

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
)

// labelled is a complaint with the planted hotspot it truly belongs to.
type labelled struct {
	Point
	truth string // "" for background
}

// cityFeed draws a month of complaints over Xiamen's bounding box:
// background spread uniformly, and planted hotspots of 5 to 40 complaints
// within 50 m of their place over 7 to 30 days, a third naming the place.
//
// spread widens the box around Xiamen by that factor on each side, so that
// larger feeds keep the same density.
func cityFeed(seed uint64, total, planted int, spread float64) []labelled {
	rng := rand.New(rand.NewPCG(seed, 7))
	minLon, maxLon := 118.15-0.25*spread, 118.15+0.25*spread
	minLat, maxLat := 24.6-0.2*spread, 24.6+0.2*spread
	district := func(lon, lat float64) string {
		col := int((lon - minLon) / (maxLon - minLon) * 3)
		row := int((lat - minLat) / (maxLat - minLat) * 2)
		return []string{"haicang", "jimei", "tongan", "siming", "huli", "xiangan"}[min(row, 1)*3+min(col, 2)]
	}
	category := func() (string, string) {
		switch u := rng.Float64(); {
		case u < 0.55:
			return "noise", []string{"construction", "social_life", "social_life", "traffic", "industrial"}[rng.IntN(5)]
		case u < 0.80:
			return "dust", []string{"construction_site", "road", "yard"}[rng.IntN(3)]
		default:
			return "cooking_smoke", []string{"restaurant", "restaurant", "open_air_bbq"}[rng.IntN(3)]
		}
	}
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	month := 30 * day
	out := make([]labelled, 0, total)
	emit := func(id string, cat, sub string, lon, lat float64, when time.Time, key string, truth string, addressOnly bool) {
		p := Point{ID: id, Category: cat, Subcategory: sub, District: district(lon, lat), PlaceKey: key, At: when}
		if !addressOnly {
			p.Lon, p.Lat = &lon, &lat
		}
		out = append(out, labelled{p, truth})
	}
	for k := range planted {
		cat, sub := category()
		lon := minLon + rng.Float64()*(maxLon-minLon)
		lat := minLat + rng.Float64()*(maxLat-minLat)
		key := fmt.Sprintf("place-%d", k)
		size := 5 + rng.IntN(36)
		span := time.Duration(7+rng.IntN(24)) * day
		from := time.Duration(rng.Float64() * float64(month-span))
		for i := range size {
			d := 50 * math.Sqrt(rng.Float64())
			a := 2 * math.Pi * rng.Float64()
			plon := lon + d*math.Cos(a)/(metresPerDegree*math.Cos(lat*math.Pi/180))
			plat := lat + d*math.Sin(a)/metresPerDegree
			when := start.Add(from + time.Duration(rng.Float64()*float64(span)))
			pk := ""
			if rng.Float64() < 0.33 {
				pk = key
			}
			emit(fmt.Sprintf("h%d-%d", k, i), cat, sub, plon, plat, when, pk, key, pk != "" && rng.Float64() < 0.15)
		}
	}
	for i := 0; len(out) < total; i++ {
		cat, sub := category()
		lon := minLon + rng.Float64()*(maxLon-minLon)
		lat := minLat + rng.Float64()*(maxLat-minLat)
		when := start.Add(time.Duration(rng.Float64() * float64(month)))
		key := ""
		if rng.Float64() < 0.3 {
			key = fmt.Sprintf("addr-%d", i)
		}
		emit(fmt.Sprintf("b%d", i), cat, sub, lon, lat, when, key, "", key != "" && rng.Float64() < 0.15)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// score compares detected hotspots with planted ones. A detected hotspot
// matches the planted hotspot that holds more than half of its members; a
// second detected hotspot matching the same planted one is a duplicate
// alarm and counts as unmatched. Precision is matched detected hotspots
// over detected ones, recall planted hotspots matched over planted ones.
type score struct {
	detected, matched, planted, found int
}

func (s score) precision() float64 { return float64(s.matched) / float64(max(s.detected, 1)) }
func (s score) recall() float64    { return float64(s.found) / float64(max(s.planted, 1)) }

// detect runs the engine over a feed in arrival order and returns each
// complaint's final hotspot ("" for none).
func detect(t testing.TB, cfg Config, feed []labelled) map[string]string {
	t.Helper()
	e := NewEngine(cfg, nil)
	hotspotOf := make(map[string]string, len(feed))
	for _, c := range feed {
		r, err := e.Add(context.Background(), c.Point)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Members {
			hotspotOf[m.ID] = m.HotspotID
		}
	}
	return hotspotOf
}

func evaluate(t testing.TB, cfg Config, feed []labelled) score {
	t.Helper()
	truth := make(map[string]string, len(feed))
	plantedSet := make(map[string]bool)
	for _, c := range feed {
		truth[c.ID] = c.truth
		if c.truth != "" {
			plantedSet[c.truth] = true
		}
	}
	groups := make(map[string][]string)
	for id, h := range detect(t, cfg, feed) {
		if h != "" {
			groups[h] = append(groups[h], id)
		}
	}
	s := score{detected: len(groups), planted: len(plantedSet)}
	found := make(map[string]bool)
	for _, ids := range groups {
		votes := make(map[string]int)
		for _, id := range ids {
			votes[truth[id]]++
		}
		for key, v := range votes {
			if key != "" && 2*v > len(ids) && !found[key] {
				s.matched++
				found[key] = true
			}
		}
	}
	s.found = len(found)
	return s
}

func TestEvaluateCityFeed(t *testing.T) {
	t.Parallel()
	seed, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	feed := cityFeed(1, 50000, 500, 1)
	// With the seed's radii and min count, a uniform background of 39,000
	// complaints a month puts three unrelated complaints within 150 m
	// (300 m for dust) thousands of times: the bureau's rule calls those
	// repeat complaints, the planted truth does not. Recall is what the
	// seed must keep.
	s := evaluate(t, seed, feed)
	t.Logf("city feed, seed config: %d detected, %d matched, precision %.3f; %d planted, %d found, recall %.3f",
		s.detected, s.matched, s.precision(), s.planted, s.found, s.recall())
	if s.recall() < 0.95 {
		t.Errorf("seed config: recall %.3f below 0.95", s.recall())
	}
	s = evaluate(t, calibrated(t), feed)
	t.Logf("city feed, calibrated config: %d detected, %d matched, precision %.3f; %d planted, %d found, recall %.3f",
		s.detected, s.matched, s.precision(), s.planted, s.found, s.recall())
	if s.precision() < 0.95 || s.recall() < 0.95 {
		t.Errorf("calibrated config: precision %.3f, recall %.3f: want both at least 0.95", s.precision(), s.recall())
	}
}

// calibrated is the seed with thresholds fitted to a dense background: radii
// halved and five complaints to a core point.
func calibrated(t testing.TB) Config {
	t.Helper()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	for name, cc := range cfg.Categories {
		cc.MinCount = 5
		cc.RadiusM /= 2
		subs := make(map[string]Params, len(cc.Subcategories))
		for s, p := range cc.Subcategories {
			p.RadiusM /= 2
			subs[s] = p
		}
		cc.Subcategories = subs
		cfg.Categories[name] = cc
	}
	return cfg
}

func simulatedFeed(t testing.TB, cfg simulate.Config) []labelled {
	t.Helper()
	f, err := simulate.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]labelled, len(f.Complaints))
	for i, c := range f.Complaints {
		lon, lat := c.Truth.Lon, c.Truth.Lat
		out[i] = labelled{Point: Point{
			ID: c.TicketID, Category: c.Truth.Category, Subcategory: c.Truth.Subcategory,
			District: c.Truth.District, Lon: &lon, Lat: &lat, At: c.ReceivedAt,
		}, truth: c.Truth.HotspotKey}
	}
	return out
}

// TestEvaluateSimulatedMonth is issue 4's evaluation: a month of 50,000
// complaints from `nuisance simulate` with its defaults (88 % from about
// 2,200 planted repeat sites of at least 4 complaints, centres of one
// category two radii plus 100 m apart; 12 %, 6,000 one-off complaints,
// uniform over each district's land), clustered with the seed
// configuration, must find the planted hotspots with precision and recall
// of at least 0.95 each (score defines the matching).
//
// The planted truth does not give the figures away: nothing keeps the
// one-off complaints apart from each other or from the planted sites. About
// 7.5 % of them have two others of their category within the radius in the
// month (measured below), and on their own they form about 200 chance
// hotspots: three complaints within 150 m in 30 days, which the bureau's
// rule reports and the truth calls background. Those that do not touch a
// planted site are what holds precision near 0.965. Recall falls short of
// 1 where chance complaints chain two planted sites of a category into one
// hotspot. Other seeds of the generator give precision 0.96-0.98 and
// recall 0.985-0.99. With the subcategory radii the seed used to have
// (200-400 m), the chance rate doubles and the same month scores 0.947 and
// 0.900. The test fails if the background forms no chance hotspot at all,
// so a feed that stopped exercising precision would not pass unnoticed.
func TestEvaluateSimulatedMonth(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	feed := simulatedFeed(t, simulate.Config{Seed: 11, Days: 30, Count: 50000})
	var background []labelled
	for _, c := range feed {
		if c.truth == "" {
			background = append(background, c)
		}
	}
	if len(feed) != 50000 {
		t.Fatalf("feed of %d complaints, want 50,000", len(feed))
	}
	if share := 1 - float64(len(background))/float64(len(feed)); share < 0.85 || share > 0.9 {
		t.Fatalf("hotspot share %.3f outside the 0.85-0.9 the evaluation is defined for", share)
	}

	chance := make(map[string]bool)
	for _, h := range detect(t, cfg, background) {
		if h != "" {
			chance[h] = true
		}
	}
	rate := chanceTripleRate(cfg, background)
	t.Logf("background: %d complaints, %.1f %% with MinCount-1 others of their category within radius and window, %d chance hotspots on their own",
		len(background), 100*rate, len(chance))
	if len(chance) == 0 {
		t.Fatal("the background forms no chance hotspot: the feed no longer tests precision")
	}

	s := evaluate(t, cfg, feed)
	t.Logf("50,000-complaint month, seed config: %d detected, %d matched, precision %.3f; %d planted, %d found, recall %.3f",
		s.detected, s.matched, s.precision(), s.planted, s.found, s.recall())
	if s.precision() < 0.95 || s.recall() < 0.95 {
		t.Errorf("precision %.3f, recall %.3f: want both at least 0.95", s.precision(), s.recall())
	}
}

// chanceTripleRate is the share of complaints that are core points among
// the given ones alone: at least MinCount-1 others of their category and
// district within their radius and window, by brute force over a grid.
func chanceTripleRate(cfg Config, feed []labelled) float64 {
	type key struct {
		cat, district string
		x, y          int
	}
	const cell = 500.0 // wider than any radius
	grid := make(map[key][]labelled)
	cellOf := func(c labelled, dx, dy int) key {
		return key{c.Category, c.District,
			int(math.Floor(*c.Lon*metresPerDegree*refCos/cell)) + dx,
			int(math.Floor(*c.Lat*metresPerDegree/cell)) + dy}
	}
	for _, c := range feed {
		k := cellOf(c, 0, 0)
		grid[k] = append(grid[k], c)
	}
	core := 0
	for _, c := range feed {
		p := cfg.Categories[c.Category].Sub(c.Subcategory)
		n := 1
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for _, o := range grid[cellOf(c, dx, dy)] {
					if o.ID == c.ID {
						continue
					}
					q := cfg.Categories[o.Category].Sub(o.Subcategory)
					dt := c.At.Sub(o.At)
					if dt < 0 {
						dt = -dt
					}
					if dt <= max(p.Window, q.Window) && geo.DistanceMeters(*c.Lon, *c.Lat, *o.Lon, *o.Lat) <= max(p.RadiusM, q.RadiusM) {
						n++
					}
				}
			}
		}
		if n >= p.MinCount {
			core++
		}
	}
	return float64(core) / float64(max(len(feed), 1))
}
