package simulate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// fixture is a gazetteer in the seeds/gazetteer.json shape: Xiamen's
// districts and sub-districts and sixty places, converted to WGS-84.
func fixture(t testing.TB) *Gazetteer {
	t.Helper()
	f, err := os.Open("testdata/gazetteer.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := ParseGazetteer(f)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func generate(t testing.TB, cfg Config) Feed {
	t.Helper()
	if cfg.Gazetteer == nil {
		cfg.Gazetteer = fixture(t)
	}
	feed, err := Generate(cfg)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return feed
}

func ndjson(t testing.TB, f Feed) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.WriteNDJSON(&buf); err != nil {
		t.Fatalf("write: %v", err)
	}
	return buf.Bytes()
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a := ndjson(t, generate(t, Config{Seed: 7, Count: 3000}))
	b := ndjson(t, generate(t, Config{Seed: 7, Count: 3000}))
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different output")
	}
	c := ndjson(t, generate(t, Config{Seed: 8, Count: 3000}))
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same output")
	}
	if n := bytes.Count(a, []byte("\n")); n != 3000 {
		t.Fatalf("got %d lines, want 3000", n)
	}
}

func TestGenerateProportions(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 1, Count: 20000, Days: 56})
	n := float64(len(feed.Complaints))
	share := func(keep func(c Complaint) bool) float64 {
		k := 0
		for _, c := range feed.Complaints {
			if keep(c) {
				k++
			}
		}
		return float64(k) / n
	}
	// shareOf is the share of complaints of one subcategory among those
	// of that subcategory received in the given hours.
	shareOf := func(sub string, hours ...int) float64 {
		in, all := 0, 0
		for _, c := range feed.Complaints {
			if c.Truth.Subcategory != sub {
				continue
			}
			all++
			for _, h := range hours {
				if c.ReceivedAt.Hour() == h {
					in++
					break
				}
			}
		}
		return float64(in) / float64(all)
	}
	cat := func(name string) func(Complaint) bool {
		return func(c Complaint) bool { return c.Truth.Category == name }
	}
	sub := func(name string) func(Complaint) bool {
		return func(c Complaint) bool { return c.Truth.Subcategory == name }
	}
	crs := func(name string) func(Complaint) bool {
		return func(c Complaint) bool { return c.Location != nil && geoCRS(c.Location) == geo.CRS(name) }
	}
	tests := []struct {
		name      string
		got       float64
		low, high float64
	}{
		{"noise", share(cat("noise")), 0.52, 0.58},
		{"dust", share(cat("dust")), 0.22, 0.28},
		{"cooking smoke", share(cat("cooking_smoke")), 0.17, 0.23},
		{"social life", share(sub("social_life")), 0.26, 0.32},
		{"construction noise", share(sub("construction")), 0.13, 0.19},
		{"in planted hotspots", share(func(c Complaint) bool { return c.Truth.HotspotKey != "" }), DefaultHotspotShare - 0.01, DefaultHotspotShare + 0.01},
		{"gcj02", share(crs("gcj02")), 0.66, 0.74},
		{"bd09", share(crs("bd09")), 0.12, 0.18},
		{"wgs84", share(crs("wgs84")), 0.08, 0.12},
		{"address only", share(func(c Complaint) bool { return c.Location == nil }), 0.035, 0.065},
		{"with address", share(func(c Complaint) bool { return c.Address != "" }), 0.80, 0.92},
		{"with category code", share(func(c Complaint) bool { return c.Category != "" }), 0.40, 0.50},
		{"hotline path only", share(func(c Complaint) bool { return c.Category == "" && c.HotlineCategory != "" }), 0.30, 0.40},
		{"description only", share(func(c Complaint) bool { return c.Category == "" && c.HotlineCategory == "" }), 0.16, 0.24},
		{"construction noise at night 22-02", shareOf("construction", 22, 23, 0, 1), 0.40, 0.75},
		{"restaurant smoke at meal times", shareOf("restaurant", 10, 11, 12, 17, 18, 19), 0.60, 0.85},
		{"barbecue in the evening and night", shareOf("open_air_bbq", 18, 19, 20, 21, 22, 23, 0, 1), 0.85, 1},
		{"site dust in daylight", shareOf("construction_site", 8, 9, 10, 11, 12, 13, 14, 15, 16, 17), 0.85, 1},
	}
	for _, tt := range tests {
		if tt.got < tt.low || tt.got > tt.high {
			t.Errorf("%s: share %.3f outside [%.3f, %.3f]", tt.name, tt.got, tt.low, tt.high)
		}
	}

	// Background social-life noise is likelier at weekends, when people are
	// at home; work and traffic are not.
	perDay := func(subs ...string) float64 {
		var weekend, weekday float64
		for _, c := range feed.Complaints {
			if !slices.Contains(subs, c.Truth.Subcategory) || c.Truth.HotspotKey != "" {
				continue
			}
			if wd := c.ReceivedAt.Weekday(); wd == time.Saturday || wd == time.Sunday {
				weekend++
			} else {
				weekday++
			}
		}
		return (weekend / 16) / (weekday / 40) // 56 days from a Monday
	}
	if r := perDay("social_life"); r < 1.25 {
		t.Errorf("social life: weekend/weekday rate %.2f, want at least 1.25", r)
	}
	if r := perDay("construction", "traffic", "industrial", "construction_site", "road", "yard", "restaurant"); r < 0.9 || r > 1.1 {
		t.Errorf("work-week nuisances: weekend/weekday rate %.2f, want about 1", r)
	}

	// Social life is the largest subcategory of noise, construction next.
	if share(sub("social_life")) <= share(sub("construction")) || share(sub("construction")) <= share(sub("traffic")) {
		t.Error("noise subcategories out of order: want social_life > construction > traffic")
	}
	// Siming and Huli, the densest districts, receive the most complaints.
	byDistrict := map[string]float64{}
	for _, c := range feed.Complaints {
		byDistrict[c.Truth.District]++
	}
	for d, k := range byDistrict {
		if d != "siming" && d != "huli" && (k >= byDistrict["siming"] || k >= byDistrict["huli"]) {
			t.Errorf("district %s has %v complaints, not fewer than siming %v and huli %v", d, k, byDistrict["siming"], byDistrict["huli"])
		}
	}
}

func geoCRS(l *Location) geo.CRS {
	crs, err := geo.ParseCRS(l.CRS)
	if err != nil {
		return ""
	}
	return crs
}

func TestLocationsMatchTruth(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 3, Count: 5000})
	districts, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range feed.Complaints {
		tr := c.Truth
		if tr.Lon < 117.8 || tr.Lon > 118.5 || tr.Lat < 24.3 || tr.Lat > 24.95 {
			t.Fatalf("%s: truth %.6f,%.6f outside Xiamen", c.TicketID, tr.Lon, tr.Lat)
		}
		// The truth point lies on its district's land.
		if d, ok := districts.Contains(tr.Lon, tr.Lat); !ok || d.Slug != tr.District {
			t.Fatalf("%s: truth %.6f,%.6f not on the land of %q", c.TicketID, tr.Lon, tr.Lat, tr.District)
		}
		if c.Location == nil {
			continue
		}
		crs, err := geo.ParseCRS(c.Location.CRS)
		if err != nil {
			t.Fatalf("%s: %v", c.TicketID, err)
		}
		lon, lat := geo.ToWGS84(crs, c.Location.Lon, c.Location.Lat)
		if d := geo.DistanceMeters(lon, lat, tr.Lon, tr.Lat); d > 0.5 {
			t.Fatalf("%s: %s point converts back %.2f m from the truth", c.TicketID, crs, d)
		}
		if crs != geo.WGS84 {
			if d := geo.DistanceMeters(c.Location.Lon, c.Location.Lat, tr.Lon, tr.Lat); d < 100 {
				t.Fatalf("%s: %s point only %.1f m from WGS-84: not converted", c.TicketID, crs, d)
			}
		}
	}
}

func TestPlantedHotspots(t *testing.T) {
	t.Parallel()
	const days = 90
	feed := generate(t, Config{Seed: 5, Count: 4000, Days: days})
	if want := int(math.Round(4000*DefaultHotspotShare)) / DefaultHotspotSize; len(feed.Planted) != want {
		t.Fatalf("got %d planted hotspots, want %d", len(feed.Planted), want)
	}
	type span struct {
		n           int
		first, last time.Time
	}
	members := map[string]*span{}
	planted := map[string]Planted{}
	for _, p := range feed.Planted {
		if _, dup := planted[p.Key]; dup {
			t.Fatalf("duplicate key %s", p.Key)
		}
		planted[p.Key] = p
		if p.Count < MinSpotSize || p.Place == "" || strings.Contains(p.Place, "{") {
			t.Errorf("%s: count %d, place %q", p.Key, p.Count, p.Place)
		}
	}
	for _, c := range feed.Complaints {
		if c.Truth.HotspotKey == "" {
			continue
		}
		p, ok := planted[c.Truth.HotspotKey]
		if !ok {
			t.Fatalf("%s: unknown hotspot %s", c.TicketID, c.Truth.HotspotKey)
		}
		if d := geo.DistanceMeters(p.Lon, p.Lat, c.Truth.Lon, c.Truth.Lat); d > 60 {
			t.Errorf("%s: %.1f m from the centre of %s", c.TicketID, d, p.Key)
		}
		if c.Truth.Category != p.Category || c.Truth.Subcategory != p.Subcategory || c.Truth.District != p.District {
			t.Errorf("%s: truth %+v differs from its hotspot %+v", c.TicketID, c.Truth, p)
		}
		s := members[p.Key]
		if s == nil {
			s = &span{first: c.ReceivedAt, last: c.ReceivedAt}
			members[p.Key] = s
		}
		s.n++
		if c.ReceivedAt.Before(s.first) {
			s.first = c.ReceivedAt
		}
		if c.ReceivedAt.After(s.last) {
			s.last = c.ReceivedAt
		}
	}
	for key, p := range planted {
		s := members[key]
		if s == nil || s.n != p.Count {
			t.Errorf("%s: planted count %d, complaints %v", key, p.Count, s)
			continue
		}
		// All of a hotspot's complaints fall in 30 days, so a detector
		// with a 30-day window sees it whole.
		if s.last.Sub(s.first) > 30*24*time.Hour {
			t.Errorf("%s: complaints spread over %v", key, s.last.Sub(s.first))
		}
	}
}

// TestPlantedHotspotsStayApart checks on a month of 50,000 complaints that
// planted centres of a category are SpotGap apart, so that no complaint of
// one lies within two clustering radii of a complaint of another.
func TestPlantedHotspotsStayApart(t *testing.T) {
	t.Parallel()
	radii, err := LargestRadii(seeds.FS)
	if err != nil {
		t.Fatal(err)
	}
	feed := generate(t, Config{Seed: 11, Count: 50000, Days: 30})
	byCat := map[string][]Planted{}
	for _, p := range feed.Planted {
		byCat[p.Category] = append(byCat[p.Category], p)
	}
	if len(byCat) != len(radii) {
		t.Fatalf("planted categories %d, radii for %d", len(byCat), len(radii))
	}
	for cat, ps := range byCat {
		gap := SpotGap(radii[cat])
		if gap <= 2*radii[cat] {
			t.Fatalf("%s: gap %.0f m does not keep members two radii apart", cat, gap)
		}
		for i, a := range ps {
			for _, b := range ps[i+1:] {
				// approxMetres is what the generator spaces by; allow for
				// its 0.4 % error against the haversine.
				if d := geo.DistanceMeters(a.Lon, a.Lat, b.Lon, b.Lat); d < gap*0.995 {
					t.Errorf("%s: %s and %s only %.0f m apart, want %.0f", cat, a.Key, b.Key, d, gap)
				}
			}
		}
	}
}

// TestMinSpotSizeAboveSeedMinCount keeps planted hotspots one complaint
// above the detector's threshold, whatever the seed says.
func TestMinSpotSizeAboveSeedMinCount(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(seeds.FS, HotspotConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Categories map[string]struct {
			MinCount      int `json:"min_count"`
			Subcategories map[string]struct {
				MinCount int `json:"min_count"`
			} `json:"subcategories"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for name, c := range cfg.Categories {
		most := c.MinCount
		for _, s := range c.Subcategories {
			most = max(most, s.MinCount)
		}
		if MinSpotSize <= most {
			t.Errorf("%s: MinSpotSize %d, seed min count %d", name, MinSpotSize, most)
		}
	}
}

func TestLargestRadii(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want map[string]float64
		bad  bool
	}{
		{"category only", `{"categories":{"noise":{"radius_m":150}}}`, map[string]float64{"noise": 150}, false},
		{"override above", `{"categories":{"dust":{"radius_m":300,"subcategories":{"road":{"radius_m":400},"yard":{}}}}}`, map[string]float64{"dust": 400}, false},
		{"override below", `{"categories":{"noise":{"radius_m":150,"subcategories":{"social_life":{"radius_m":80}}}}}`, map[string]float64{"noise": 150}, false},
		{"no radius", `{"categories":{"noise":{}}}`, nil, true},
		{"not json", `{`, nil, true},
	}
	for _, tt := range tests {
		got, err := LargestRadii(fstest.MapFS{HotspotConfigFile: {Data: []byte(tt.json)}})
		if (err != nil) != tt.bad {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSpotDayFollowsTrend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		trend     string
		low, high float64 // share of complaints in the second half
	}{
		{TrendSteady, 0.47, 0.53},
		{TrendGrowing, 0.72, 0.78},
		{TrendFading, 0.22, 0.28},
	}
	g := &generator{rng: newTestRand()}
	for _, tt := range tests {
		sp := &spot{Planted: Planted{Trend: tt.trend}, span: 20}
		late := 0
		const n = 20000
		for range n {
			d := g.spotDay(sp)
			if d < 0 || d >= sp.span {
				t.Fatalf("%s: day %d outside [0, %d)", tt.trend, d, sp.span)
			}
			if d >= sp.span/2 {
				late++
			}
		}
		if share := float64(late) / n; share < tt.low || share > tt.high {
			t.Errorf("%s: %.3f of complaints in the second half, want [%.2f, %.2f]", tt.trend, share, tt.low, tt.high)
		}
	}
	seen := map[string]int{}
	for _, p := range generate(t, Config{Seed: 13, Count: 3000}).Planted {
		seen[p.Trend]++
	}
	if len(seen) != 3 || seen[TrendSteady] == 0 || seen[TrendGrowing] == 0 || seen[TrendFading] == 0 {
		t.Errorf("planted trends %v, want all three", seen)
	}
}

// TestBackgroundIsSpread checks that complaints outside planted hotspots
// rarely look like repeat hotspots themselves (3 within 150 m and 30 days),
// so that the detector's precision is measured against the planted ones.
func TestBackgroundIsSpread(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 11, Count: 2000, Days: 30, HotspotShare: 0.6})
	var bg []Truth
	seen := map[[2]float64]bool{}
	for _, c := range feed.Complaints {
		if c.Truth.HotspotKey == "" {
			bg = append(bg, c.Truth)
			p := [2]float64{c.Truth.Lon, c.Truth.Lat}
			if seen[p] {
				t.Fatalf("two background complaints at the same point %v", p)
			}
			seen[p] = true
		}
	}
	clustered := 0
	for i, a := range bg {
		near := 0
		for j, b := range bg {
			if i != j && geo.DistanceMeters(a.Lon, a.Lat, b.Lon, b.Lat) <= 150 {
				near++
			}
		}
		if near >= 2 {
			clustered++
		}
	}
	if rate := float64(clustered) / float64(len(bg)); rate > 0.08 {
		t.Errorf("%.1f %% of %d background complaints have 2 neighbours within 150 m", 100*rate, len(bg))
	}
}

// TestBackgroundIsUniformOverLand compares the generator's land draws with
// plain rejection sampling over Xiamen's whole extent, which is uniform
// over the land by construction: the shares falling in each quarter of the
// district must agree.
func TestBackgroundIsUniformOverLand(t *testing.T) {
	t.Parallel()
	districts, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	locate := func(lon, lat float64) (string, bool) {
		d, ok := districts.Contains(lon, lat)
		if !ok {
			return "", false
		}
		return d.Slug, true
	}
	w := newWorld(fixture(t), locate)
	rng := newTestRand()
	const n = 20000
	for di, d := range w.districts {
		if len(d.land) == 0 {
			t.Fatalf("%s: no land indexed", d.slug)
		}
		var ref [][2]float64
		for len(ref) < n {
			lon := minLon + rng.Float64()*(maxLon-minLon)
			lat := minLat + rng.Float64()*(maxLat-minLat)
			if w.belongs(di, lon, lat) {
				ref = append(ref, [2]float64{lon, lat})
			}
		}
		var midLon, midLat float64
		for _, p := range ref {
			midLon += p[0] / n
			midLat += p[1] / n
		}
		quarters := func(pts [][2]float64) [4]float64 {
			var q [4]float64
			for _, p := range pts {
				i := 0
				if p[0] > midLon {
					i++
				}
				if p[1] > midLat {
					i += 2
				}
				q[i] += 1.0 / float64(len(pts))
			}
			return q
		}
		var got [][2]float64
		for range n {
			s := w.backgroundSite(rng, di)
			if !w.belongs(di, s.lon, s.lat) {
				t.Fatalf("%s: background point %.6f,%.6f off its land", d.slug, s.lon, s.lat)
			}
			got = append(got, [2]float64{s.lon, s.lat})
		}
		want, have := quarters(ref), quarters(got)
		for i := range want {
			// Each share has a standard error under 0.004 at n = 20,000.
			if math.Abs(want[i]-have[i]) > 0.02 {
				t.Errorf("%s: quarter %d holds %.3f of background, %.3f of the land", d.slug, i, have[i], want[i])
			}
		}
	}
}

var (
	ticketRe = regexp.MustCompile(`^12345-(\d{8})-\d{6}$`)
	phoneRe  = regexp.MustCompile(`^1380000\d{4}$`)
)

func TestPayloadsAreValid(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 9, Count: 5000})
	sc := bufio.NewScanner(bytes.NewReader(ndjson(t, feed)))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	enums := map[string]map[string]bool{
		"category": {"noise": true, "dust": true, "cooking_smoke": true},
		"channel":  {"phone": true, "app": true, "web": true, "wechat": true, "other": true},
		"crs":      {"wgs84": true, "gcj02": true, "bd09": true},
	}
	subs := map[string]bool{}
	for _, s := range subcats {
		subs[s.code] = true
	}
	ids := map[string]bool{}
	var prev time.Time
	lines := 0
	for sc.Scan() {
		lines++
		line := sc.Bytes()
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(line, &raw); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		for k := range raw {
			switch k {
			case "ticket_id", "received_at", "description", "category", "subcategory",
				"hotline_category", "address", "location", "caller", "channel":
			default:
				t.Fatalf("line %d: unexpected field %q", lines, k)
			}
		}
		var p struct {
			TicketID        string `json:"ticket_id"`
			ReceivedAt      string `json:"received_at"`
			Description     string `json:"description"`
			Category        string `json:"category"`
			Subcategory     string `json:"subcategory"`
			HotlineCategory string `json:"hotline_category"`
			Address         string `json:"address"`
			Location        *struct {
				Lon *float64 `json:"lon"`
				Lat *float64 `json:"lat"`
				CRS string   `json:"crs"`
			} `json:"location"`
			Caller *struct {
				Name  string `json:"name"`
				Phone string `json:"phone"`
			} `json:"caller"`
			Channel string `json:"channel"`
		}
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		m := ticketRe.FindStringSubmatch(p.TicketID)
		if m == nil || ids[p.TicketID] {
			t.Fatalf("line %d: bad or repeated ticket id %q", lines, p.TicketID)
		}
		ids[p.TicketID] = true
		at, err := time.Parse(time.RFC3339, p.ReceivedAt)
		if err != nil || !strings.HasSuffix(p.ReceivedAt, "+08:00") {
			t.Fatalf("line %d: received_at %q not RFC 3339 in +08:00 (%v)", lines, p.ReceivedAt, err)
		}
		if at.Before(prev) {
			t.Fatalf("line %d: received_at %s before the previous line", lines, p.ReceivedAt)
		}
		prev = at
		if m[1] != at.Format("20060102") {
			t.Fatalf("line %d: ticket %s not dated %s", lines, p.TicketID, p.ReceivedAt)
		}
		if p.Description == "" || utf8.RuneCountInString(p.Description) > 4000 || strings.ContainsAny(p.Description, "{}") {
			t.Fatalf("line %d: bad description %q", lines, p.Description)
		}
		if p.Address == "" && p.Location == nil {
			t.Fatalf("line %d: neither address nor location", lines)
		}
		if p.Location != nil {
			if p.Location.Lon == nil || p.Location.Lat == nil || (p.Location.CRS != "" && !enums["crs"][p.Location.CRS]) {
				t.Fatalf("line %d: bad location %s", lines, raw["location"])
			}
		} else if !strings.Contains(p.Address, "区") {
			t.Fatalf("line %d: address-only complaint without a district: %q", lines, p.Address)
		}
		if (p.Category != "" && !enums["category"][p.Category]) || (p.Subcategory != "" && !subs[p.Subcategory]) {
			t.Fatalf("line %d: bad category %q/%q", lines, p.Category, p.Subcategory)
		}
		if p.HotlineCategory != "" && strings.Count(p.HotlineCategory, ">") < 1 {
			t.Fatalf("line %d: hotline category %q is not a path", lines, p.HotlineCategory)
		}
		if p.Channel != "" && !enums["channel"][p.Channel] {
			t.Fatalf("line %d: bad channel %q", lines, p.Channel)
		}
		if p.Caller != nil && (p.Caller.Name == "" || !phoneRe.MatchString(p.Caller.Phone)) {
			t.Fatalf("line %d: caller not synthetic and well-formed", lines)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != len(feed.Complaints) {
		t.Fatalf("wrote %d lines for %d complaints", lines, len(feed.Complaints))
	}
}

func TestPayloadsMatchHotlineSchema(t *testing.T) {
	t.Parallel()
	schema, err := schemas.Get("hotline.complaint.v1")
	if err != nil {
		t.Fatal(err)
	}
	feed := generate(t, Config{Seed: 10, Count: 2000})
	for i, line := range bytes.Split(bytes.TrimSpace(ndjson(t, feed)), []byte("\n")) {
		bad, err := schemas.Validate(schema, line)
		if err != nil || bad != nil {
			t.Fatalf("line %d: %v %v: %s", i+1, err, bad, line)
		}
	}
}

func TestDescriptionsAreVaried(t *testing.T) {
	t.Parallel()
	slot := regexp.MustCompile(`\{[a-z]+\}`)
	for _, sc := range subcats {
		n := 0
		for _, th := range sc.themes {
			n += len(th.templates)
			for _, tpl := range th.templates {
				for _, s := range slot.FindAllString(tpl, -1) {
					switch s {
					case "{loc}", "{src}", "{when}", "{dur}", "{hurt}":
					default:
						t.Errorf("%s template %q: unknown slot %s", sc.code, tpl, s)
					}
				}
			}
		}
		if n < 15 {
			t.Errorf("%s: %d templates, want at least 15", sc.code, n)
		}
	}
	feed := generate(t, Config{Seed: 2, Count: 3000})
	distinct := map[string]bool{}
	aside := 0
	for _, c := range feed.Complaints {
		distinct[c.Description] = true
		for _, lead := range asideLeads {
			if strings.Contains(c.Description, lead) {
				aside++
				break
			}
		}
	}
	if len(distinct) < len(feed.Complaints)*95/100 {
		t.Errorf("only %d distinct descriptions of %d", len(distinct), len(feed.Complaints))
	}
	if aside < len(feed.Complaints)*5/100 {
		t.Errorf("only %d descriptions mention a second nuisance", aside)
	}
}

func TestWhenPhraseMatchesHour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hour, minute int
		want         string
	}{
		{0, 5, "凌晨十二点"},
		{1, 40, "凌晨一点多"},
		{2, 30, "凌晨两点半"},
		{7, 20, "早上七点多"},
		{12, 55, "中午十二点左右"},
		{15, 31, "下午三点半"},
		{19, 15, "晚上七点多"},
		{23, 0, "深夜十一点"},
	}
	rng := newTestRand()
	for _, tt := range tests {
		// Some calls say "now" instead of the hour; draw until the hour.
		got := ""
		for range 100 {
			if got = whenPhrase(rng, tt.hour, tt.minute); !strings.Contains("现在刚才到现在", got) {
				break
			}
		}
		if got != tt.want {
			t.Errorf("whenPhrase(%d, %d) = %q, want %q", tt.hour, tt.minute, got, tt.want)
		}
	}
}

func TestCallerIsMaskedWhenFormatted(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 4, Count: 200})
	for _, c := range feed.Complaints {
		if c.Caller == nil {
			continue
		}
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Caller)} {
			if strings.Contains(s, c.Caller.Phone) || strings.Contains(s, c.Caller.Name) {
				t.Fatalf("formatting a complaint shows its caller: %s", s)
			}
		}
	}
}

func TestWriteNDJSONSortsByReceivedAt(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{Seed: 6, Count: 500})
	want := ndjson(t, feed)
	shuffled := Feed{Complaints: append([]Complaint(nil), feed.Complaints...)}
	rng := newTestRand()
	rng.Shuffle(len(shuffled.Complaints), func(i, j int) {
		shuffled.Complaints[i], shuffled.Complaints[j] = shuffled.Complaints[j], shuffled.Complaints[i]
	})
	got := ndjson(t, shuffled)
	// Complaints received in the same second may come in either order.
	if len(got) != len(want) {
		t.Fatalf("shuffled feed wrote %d bytes, want %d", len(got), len(want))
	}
	var prev string
	for _, line := range bytes.Split(bytes.TrimSpace(got), []byte("\n")) {
		var p struct {
			ReceivedAt string `json:"received_at"`
		}
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatal(err)
		}
		if p.ReceivedAt < prev {
			t.Fatalf("%s written after %s", p.ReceivedAt, prev)
		}
		prev = p.ReceivedAt
	}
}

func TestLocateKeepsPointsInsideBoundaries(t *testing.T) {
	t.Parallel()
	districts, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in boundary: the district outlines north of 24.47 only.
	locate := func(lon, lat float64) (string, bool) {
		d, ok := districts.Contains(lon, lat)
		if !ok || lat < 24.47 {
			return "", false
		}
		return d.Slug, true
	}
	feed := generate(t, Config{Seed: 12, Count: 300, Locate: locate})
	for _, c := range feed.Complaints {
		if got, ok := locate(c.Truth.Lon, c.Truth.Lat); !ok || got != c.Truth.District {
			t.Fatalf("%s: truth %.6f,%.6f in %q (%v), want %q", c.TicketID, c.Truth.Lon, c.Truth.Lat, got, ok, c.Truth.District)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	g := fixture(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative count", Config{Count: -1}},
		{"negative days", Config{Days: -3}},
		{"share above one", Config{HotspotShare: 1.5}},
		{"negative share", Config{HotspotShare: -0.1}},
		{"negative planted", Config{Planted: -1}},
		{"too many planted", Config{Count: 20, Planted: 10}},
	}
	for _, tt := range tests {
		tt.cfg.Gazetteer = g
		if _, err := Generate(tt.cfg); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	feed := generate(t, Config{})
	if len(feed.Complaints) != DefaultCount {
		t.Fatalf("got %d complaints, want %d", len(feed.Complaints), DefaultCount)
	}
	first, last := feed.Complaints[0].ReceivedAt, feed.Complaints[len(feed.Complaints)-1].ReceivedAt
	end := DefaultStart.AddDate(0, 0, DefaultDays)
	if first.Before(DefaultStart) || !last.Before(end) {
		t.Fatalf("complaints from %s to %s, want within [%s, %s)", first, last, DefaultStart, end)
	}
	if want := int(math.Round(DefaultCount*DefaultHotspotShare)) / DefaultHotspotSize; len(feed.Planted) != want {
		t.Fatalf("got %d planted hotspots, want %d", len(feed.Planted), want)
	}
	// Too few complaints for one hotspot: none is planted.
	few := generate(t, Config{Count: MinSpotSize - 1})
	if len(few.Planted) != 0 || len(few.Complaints) != MinSpotSize-1 {
		t.Fatalf("%d complaints: %d planted, %d complaints", MinSpotSize-1, len(few.Planted), len(few.Complaints))
	}
}

func TestParseGazetteerRejectsBadData(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, json string }{
		{"not json", `{`},
		{"no districts", `{"districts":[]}`},
		{"district at sea", `{"districts":[{"slug":"siming","name":"思明区","lon":0,"lat":0}]}`},
		{"unknown district", `{"districts":[{"slug":"siming","name":"思明区","lon":118.08,"lat":24.45}],
			"places":[{"name":"x","district":"nowhere","lon":118.08,"lat":24.45}]}`},
	}
	for _, tt := range tests {
		if _, err := ParseGazetteer(strings.NewReader(tt.json)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	g, err := ParseGazetteer(strings.NewReader(`{"districts":[{"slug":"siming","adcode":"350203","name":"思明区","lon":118.08,"lat":24.45}],
		"subdistricts":[{"name":"莲前街道","district":"350203","lon":118.15,"lat":24.48}]}`))
	if err != nil {
		t.Fatalf("district by adcode: %v", err)
	}
	if _, err := Generate(Config{Count: 50, Gazetteer: g}); err != nil {
		t.Fatalf("generate from a one-district gazetteer: %v", err)
	}
}

// TestSeedGazetteer generates from the embedded seeds/gazetteer.json.
func TestSeedGazetteer(t *testing.T) {
	t.Parallel()
	if _, err := fs.Stat(seeds.FS, GazetteerFile); errors.Is(err, fs.ErrNotExist) {
		t.Skip("seeds/gazetteer.json not built yet")
	}
	feed, err := Generate(Config{Seed: 1, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Complaints) != 1000 {
		t.Fatalf("got %d complaints", len(feed.Complaints))
	}
}

func BenchmarkGenerate50k(b *testing.B) {
	g := fixture(b)
	for b.Loop() {
		if _, err := Generate(Config{Seed: 1, Count: 50000, Days: 90, Gazetteer: g}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteNDJSON50k(b *testing.B) {
	feed := generate(b, Config{Seed: 1, Count: 50000, Days: 90})
	for b.Loop() {
		var buf bytes.Buffer
		if err := feed.WriteNDJSON(&buf); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
