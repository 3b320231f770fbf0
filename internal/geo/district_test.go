package geo

import (
	"math"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

var (
	districtsOnce sync.Once
	districts     *Districts
	districtsErr  error
)

// setup returns the districts of the embedded seed, shared by the tests
// since the index is read-only.
func setup(t testing.TB) *Districts {
	t.Helper()
	districtsOnce.Do(func() { districts, districtsErr = LoadDistricts() })
	if districtsErr != nil {
		t.Fatal(districtsErr)
	}
	return districts
}

func TestLoadDistricts(t *testing.T) {
	t.Parallel()
	d := setup(t)
	want := map[string]string{
		"siming": "350203", "haicang": "350205", "huli": "350206",
		"jimei": "350211", "tongan": "350212", "xiangan": "350213",
	}
	if len(d.List()) != len(want) {
		t.Fatalf("%d districts, want %d", len(d.List()), len(want))
	}
	for slug, adcode := range want {
		dist, ok := d.BySlug(slug)
		if !ok || dist.Adcode != adcode || dist.Name == "" {
			t.Errorf("BySlug(%q) = %+v, %v; want adcode %s", slug, dist, ok, adcode)
		}
	}
}

func TestContains(t *testing.T) {
	t.Parallel()
	d := setup(t)
	// Landmarks, given in GCJ-02 as map apps show them.
	tests := []struct {
		name     string
		lon, lat float64
		want     string
	}{
		{"厦门大学", 118.0962, 24.4367, "siming"},
		{"鼓浪屿日光岩", 118.0669, 24.4477, "siming"},
		{"高崎机场", 118.1330, 24.5370, "huli"},
		{"集美学村", 118.1010, 24.5780, "jimei"},
		{"海沧区政府", 118.0330, 24.4850, "haicang"},
		{"同安区政府", 118.1520, 24.7230, "tongan"},
		{"翔安区政府", 118.2480, 24.6190, "xiangan"},
		{"大嶝岛", 118.3350, 24.5600, "xiangan"},
		{"厦门港外海", 118.0500, 24.3500, ""},
		{"福州", 119.2960, 26.0740, ""},
		{"泉州", 118.6750, 24.8740, ""},
	}
	for _, tt := range tests {
		lon, lat := GCJ02ToWGS84(tt.lon, tt.lat)
		got, ok := d.Contains(lon, lat)
		slug := ""
		if ok {
			slug = got.Slug
		}
		if slug != tt.want {
			t.Errorf("%s: Contains = %q, want %q", tt.name, slug, tt.want)
		}
	}
}

// southernmost returns the southernmost vertex of a district, a point on
// the coast with open sea to its south.
func southernmost(t *testing.T, d *Districts, slug string) orb.Point {
	t.Helper()
	dist, ok := d.BySlug(slug)
	if !ok {
		t.Fatalf("no district %s", slug)
	}
	best := orb.Point{0, 90}
	for _, poly := range dist.Shape {
		for _, p := range poly[0] {
			if p[1] < best[1] {
				best = p
			}
		}
	}
	return best
}

func TestLocateSnapsNearShore(t *testing.T) {
	t.Parallel()
	d := setup(t)
	coast := southernmost(t, d, "siming")
	degPerMeter := 1 / metersPerDegLat
	tests := []struct {
		name        string
		southMeters float64
		wantOK      bool
		wantSnapped bool
	}{
		{"on land", -300, true, false},
		{"200 m at sea", 200, true, true},
		{"500 m at sea", 500, true, true},
		{"900 m at sea", 900, true, true},
		{"1.5 km at sea", 1500, false, false},
		{"5 km at sea", 5000, false, false},
	}
	for _, tt := range tests {
		lat := coast[1] - tt.southMeters*degPerMeter
		lon := coast[0]
		if tt.southMeters < 0 {
			// Inland: go north of the coastal vertex instead.
			lat = coast[1] + 3*(-tt.southMeters)*degPerMeter
		}
		hit, ok := d.Locate(lon, lat)
		if ok != tt.wantOK || hit.Snapped != tt.wantSnapped {
			t.Errorf("%s: Locate = %+v, %v; want ok %v snapped %v", tt.name, hit, ok, tt.wantOK, tt.wantSnapped)
			continue
		}
		if !ok {
			continue
		}
		if hit.District.Slug != "siming" {
			t.Errorf("%s: district %s, want siming", tt.name, hit.District.Slug)
		}
		if tt.wantSnapped && (hit.Meters > tt.southMeters+1 || hit.Meters < 0.5*tt.southMeters) {
			t.Errorf("%s: %.0f m from the outline, want about %.0f", tt.name, hit.Meters, tt.southMeters)
		}
	}
}

func TestParseDistrictsRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
	}{
		{"not json", "{"},
		{"empty", `{"type":"FeatureCollection","features":[]}`},
		{"point", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"slug":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`},
		{"no slug", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`},
	}
	for _, tt := range tests {
		if _, err := ParseDistricts([]byte(tt.data)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestInteriorPoint(t *testing.T) {
	t.Parallel()
	d := setup(t)
	for _, dist := range d.List() {
		p := dist.InteriorPoint()
		got, ok := d.Contains(p[0], p[1])
		if !ok || got.Slug != dist.Slug {
			t.Errorf("%s: interior point %v is in %v", dist.Slug, p, got)
		}
	}
}

// benchPoints spreads points over Xiamen's bounding box, on land and at sea.
func benchPoints() []orb.Point {
	var pts []orb.Point
	for i := 0; i < 32; i++ {
		for j := 0; j < 32; j++ {
			pts = append(pts, orb.Point{117.88 + 0.5*float64(i)/32, 24.40 + 0.5*float64(j)/32})
		}
	}
	return pts
}

func BenchmarkContains(b *testing.B) {
	d := setup(b)
	pts := benchPoints()
	i := 0
	for b.Loop() {
		p := pts[i%len(pts)]
		d.Contains(p[0], p[1])
		i++
	}
}

func BenchmarkLocate(b *testing.B) {
	d := setup(b)
	pts := benchPoints()
	i := 0
	for b.Loop() {
		p := pts[i%len(pts)]
		d.Locate(p[0], p[1])
		i++
	}
}

func TestDistanceMeters(t *testing.T) {
	t.Parallel()
	// One degree of latitude is about 110.6 km at Xiamen's latitude on the
	// mean sphere (111.2 km).
	got := DistanceMeters(118, 24, 118, 25)
	if math.Abs(got-111195) > 10 {
		t.Errorf("DistanceMeters = %.0f, want about 111195", got)
	}
}

// TestContainsAgreesWithOrb checks the band index against orb's plain
// ray casting over a dense grid covering Xiamen, land and sea.
func TestContainsAgreesWithOrb(t *testing.T) {
	t.Parallel()
	d := setup(t)
	step := 0.002
	if testing.Short() {
		step = 0.01
	}
	checked, inside := 0, 0
	for lon := 117.85; lon <= 118.45; lon += step {
		for lat := 24.38; lat <= 24.95; lat += step {
			want := ""
			for _, dist := range d.List() {
				if planar.MultiPolygonContains(dist.Shape, orb.Point{lon, lat}) {
					want = dist.Slug
					break
				}
			}
			got := ""
			if dist, ok := d.Contains(lon, lat); ok {
				got = dist.Slug
			}
			if got != want {
				t.Errorf("(%.4f, %.4f): Contains = %q, orb says %q", lon, lat, got, want)
			}
			checked++
			if want != "" {
				inside++
			}
		}
	}
	if inside < checked/10 {
		t.Fatalf("only %d of %d grid points inside a district", inside, checked)
	}
}
