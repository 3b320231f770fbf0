package locate

import (
	"math"
	"sync"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/geo"
)

var (
	sharedOnce sync.Once
	shared     *Locator
	sharedErr  error
)

// setup returns a Locator built from the embedded seeds, shared by the
// package's tests since it is read-only.
func setup(t testing.TB) *Locator {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func ptr(v float64) *float64 { return &v }

// gcj converts a WGS-84 point to GCJ-02, the hotline's default system.
func gcj(lon, lat float64) (*float64, *float64) {
	x, y := geo.WGS84ToGCJ02(lon, lat)
	return &x, &y
}

// offSiming returns a point meters south of Siming's southernmost vertex,
// which has open sea to its south.
func offSiming(t *testing.T, l *Locator, meters float64) (float64, float64) {
	t.Helper()
	dist, ok := l.districts.BySlug("siming")
	if !ok {
		t.Fatal("no siming")
	}
	south := dist.Shape[0][0][0]
	for _, poly := range dist.Shape {
		for _, p := range poly[0] {
			if p[1] < south[1] {
				south = p
			}
		}
	}
	return south[0], south[1] - meters/111195
}

func TestLocate(t *testing.T) {
	t.Parallel()
	l := setup(t)
	// 厦门大学附属第一医院 in the gazetteer, WGS-84.
	hospLon, hospLat := 118.082436, 24.453072
	seaLon, seaLat := offSiming(t, l, 500)
	farLon, farLat := offSiming(t, l, 3000)
	fzLon, fzLat := ptr(119.2960), ptr(26.0740) // Fuzhou, GCJ-02
	hLon, hLat := gcj(hospLon, hospLat)
	sLon, sLat := gcj(seaLon, seaLat)
	xLon, xLat := gcj(farLon, farLat)
	huliLon, huliLat := ptr(118.1330), ptr(24.5370) // Gaoqi airport, GCJ-02

	tests := []struct {
		name         string
		in           Input
		district     string
		method       string
		subdistrict  string
		approx       bool
		place        string
		point        bool
		disagreement string
		reason       string
	}{
		{"gcj02 point", Input{Lon: hLon, Lat: hLat}, "siming", MethodCoordinates, "", true, "", true, "", ""},
		{"wgs84 point", Input{Lon: ptr(hospLon), Lat: ptr(hospLat), CRS: "wgs84"}, "siming", MethodCoordinates, "", true, "", true, "", ""},
		{"point and named sub-district", Input{Address: "思明区鹭江街道某小区", Lon: hLon, Lat: hLat}, "siming", MethodCoordinates, "鹭江街道", false, "", true, "", ""},
		{"point and named place", Input{Address: "厦门大学附属第一医院门诊楼", Lon: hLon, Lat: hLat}, "siming", MethodCoordinates, "", true, "厦门大学附属第一医院", true, "", ""},
		{"point and address disagree", Input{Address: "思明区厦港街道", Lon: huliLon, Lat: huliLat}, "huli", MethodCoordinates, "", true, "", true, "coordinates in huli, address names siming", ""},
		{"place only", Input{Address: "福建省厦门市厦门大学附属第一医院"}, "siming", MethodAddressPlace, "", true, "厦门大学附属第一医院", true, "", ""},
		{"sub-district only", Input{Address: "夏港街道沙坡尾12号"}, "siming", MethodAddressSubdistrict, "厦港街道", false, "", false, "", ""},
		{"district only", Input{Address: "翔安区某工地"}, "xiangan", MethodAddressDistrict, "", false, "", false, "", ""},
		{"sea point snapped", Input{Lon: sLon, Lat: sLat}, "siming", MethodSnapped, "", true, "", true, "", ""},
		{"far at sea", Input{Lon: xLon, Lat: xLat}, "", "", "", false, "", false, "", ReasonOutside},
		{"fuzhou", Input{Lon: fzLon, Lat: fzLat}, "", "", "", false, "", false, "", ReasonOutside},
		{"fuzhou point, xiamen address", Input{Address: "湖里区禾山街道", Lon: fzLon, Lat: fzLat}, "huli", MethodAddressSubdistrict, "禾山街道", false, "", false, "coordinates outside Xiamen, address names huli", ""},
		{"nothing", Input{}, "", "", "", false, "", false, "", ReasonNoLocation},
		{"unknown address", Input{Address: "某某路88号"}, "", "", "", false, "", false, "", ReasonUnknownAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := l.Locate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.District != tt.district || r.Method != tt.method || r.Reason != tt.reason {
				t.Fatalf("got %q by %q (reason %q), want %q by %q (reason %q)", r.District, r.Method, r.Reason, tt.district, tt.method, tt.reason)
			}
			if r.Located() != (tt.district != "") {
				t.Errorf("Located() = %v", r.Located())
			}
			if !r.Located() {
				return
			}
			if r.DistrictName == "" {
				t.Error("no district name")
			}
			if tt.subdistrict != "" && r.Subdistrict != tt.subdistrict {
				t.Errorf("sub-district %q, want %q", r.Subdistrict, tt.subdistrict)
			}
			if r.SubdistrictApprox != tt.approx || (tt.approx && r.Subdistrict == "") {
				t.Errorf("sub-district %q approx %v, want approx %v", r.Subdistrict, r.SubdistrictApprox, tt.approx)
			}
			if r.Place != tt.place {
				t.Errorf("place %q, want %q", r.Place, tt.place)
			}
			if (r.Lon != nil) != tt.point || (r.Lat != nil) != tt.point {
				t.Errorf("point %v/%v, want one: %v", r.Lon, r.Lat, tt.point)
			}
			if r.Disagreement != tt.disagreement {
				t.Errorf("disagreement %q, want %q", r.Disagreement, tt.disagreement)
			}
			if r.Confidence <= 0 || r.Confidence > 1 {
				t.Errorf("confidence %v out of (0, 1]", r.Confidence)
			}
		})
	}
}

func TestLocateConvertsToWGS84(t *testing.T) {
	t.Parallel()
	l := setup(t)
	wLon, wLat := 118.0896, 24.4795
	for _, crs := range []geo.CRS{geo.WGS84, geo.GCJ02, geo.BD09} {
		lon, lat := geo.FromWGS84(crs, wLon, wLat)
		r, err := l.Locate(Input{Lon: &lon, Lat: &lat, CRS: string(crs)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Lon == nil || geo.DistanceMeters(*r.Lon, *r.Lat, wLon, wLat) > 0.01 {
			t.Errorf("%s: result point %v,%v, want %v,%v", crs, r.Lon, r.Lat, wLon, wLat)
		}
	}
}

func TestLocateConfidenceOrder(t *testing.T) {
	t.Parallel()
	l := setup(t)
	conf := func(in Input) float64 {
		t.Helper()
		r, err := l.Locate(in)
		if err != nil || !r.Located() {
			t.Fatalf("Locate(%+v) = %+v, %v", in, r, err)
		}
		return r.Confidence
	}
	hLon, hLat := gcj(118.082436, 24.453072)
	near := func(m float64) float64 {
		lon, lat := offSiming(t, l, m)
		x, y := gcj(lon, lat)
		return conf(Input{Lon: x, Lat: y})
	}
	inside := conf(Input{Lon: hLon, Lat: hLat})
	snap200, snap800 := near(200), near(800)
	place := conf(Input{Address: "厦门大学附属第一医院"})
	district := conf(Input{Address: "思明区某小区"})
	if !(inside > snap200 && snap200 > snap800) {
		t.Errorf("inside %v, snapped 200 m %v, 800 m %v: want decreasing", inside, snap200, snap800)
	}
	if !(inside > place && place > district) {
		t.Errorf("coordinates %v, place %v, district %v: want decreasing", inside, place, district)
	}
}

func TestLocatePlaceKey(t *testing.T) {
	t.Parallel()
	l := setup(t)
	key := func(in Input) string {
		t.Helper()
		r, err := l.Locate(in)
		if err != nil {
			t.Fatal(err)
		}
		return r.PlaceKey
	}
	a := key(Input{Address: "思明区厦港街道沙坡尾12号"})
	b := key(Input{Address: "福建省厦门市 厦港街道 沙坡尾１２号"})
	c := key(Input{Address: "思明区厦港街道沙坡尾14号"})
	if a == "" || a != b {
		t.Errorf("same place, keys %q and %q", a, b)
	}
	if a == c {
		t.Errorf("different places, same key %q", a)
	}
	p1 := key(Input{Address: "厦门大学附属第一医院门口"})
	hLon, hLat := gcj(118.082436, 24.453072)
	p2 := key(Input{Address: "福建省厦门市厦门大学附属第一医院", Lon: hLon, Lat: hLat})
	if p1 == "" || p1 != p2 {
		t.Errorf("same named place, keys %q and %q", p1, p2)
	}
}

func TestLocateRejectsBadInput(t *testing.T) {
	t.Parallel()
	l := setup(t)
	tests := []struct {
		name string
		in   Input
	}{
		{"unknown crs", Input{Lon: ptr(118.1), Lat: ptr(24.5), CRS: "epsg:3857"}},
		{"lon without lat", Input{Lon: ptr(118.1)}},
		{"lat without lon", Input{Lat: ptr(24.5), Address: "思明区"}},
		{"nan", Input{Lon: ptr(math.NaN()), Lat: ptr(24.5)}},
		{"out of range", Input{Lon: ptr(200), Lat: ptr(24.5)}},
	}
	for _, tt := range tests {
		if r, err := l.Locate(tt.in); err == nil {
			t.Errorf("%s: no error, got %+v", tt.name, r)
		}
	}
}

func BenchmarkLocateCoordinates(b *testing.B) {
	l := setup(b)
	lon, lat := gcj(118.082436, 24.453072)
	in := Input{Address: "思明区厦港街道沙坡尾12号", Lon: lon, Lat: lat}
	for b.Loop() {
		if _, err := l.Locate(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocateAddress(b *testing.B) {
	l := setup(b)
	in := Input{Address: "福建省厦门市湖里区殿前街道殿前一路536号附近工地"}
	for b.Loop() {
		if _, err := l.Locate(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocateEval locates the evaluation set's addresses in turn.
func BenchmarkLocateEval(b *testing.B) {
	l := setup(b)
	ev := loadEval(b)
	i := 0
	for b.Loop() {
		a := ev.Addresses[i%len(ev.Addresses)]
		if _, err := l.Locate(Input{Address: a.Text}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// An address in another city is not in Xiamen, whatever sub-district
// names it shares with Xiamen's (开元街道 is in Quanzhou's 鲤城区 too): it
// is outside, with or without a point there; with a point in Xiamen, the
// point decides and the disagreement is reported.
func TestAnAddressInAnotherCityIsOutside(t *testing.T) {
	t.Parallel()
	l := setup(t)
	qzLon, qzLat := gcj(118.587, 24.908) // Quanzhou
	hLon, hLat := gcj(118.082436, 24.453072)
	for _, tc := range []struct {
		address  string
		lon, lat *float64
		district string
		reason   string
	}{
		{"福建省泉州市鲤城区开元街道中山路", nil, nil, "", ReasonOutside},
		{"福建省泉州市鲤城区开元街道中山路", qzLon, qzLat, "", ReasonOutside},
		{"福州市仓山区金山街道", nil, nil, "", ReasonOutside},
		{"广东省深圳市南山区", nil, nil, "", ReasonOutside},
		{"漳州市龙海区角美镇", hLon, hLat, "siming", ""},
		{"思明区开元街道中山路", nil, nil, "siming", ""},
		{"湖里区金山街道", nil, nil, "huli", ""},
	} {
		r, err := l.Locate(Input{Address: tc.address, Lon: tc.lon, Lat: tc.lat})
		if err != nil {
			t.Fatal(err)
		}
		if r.District != tc.district || r.Reason != tc.reason {
			t.Errorf("%s (point %v): %q, reason %q; want %q, reason %q", tc.address, tc.lon != nil, r.District, r.Reason, tc.district, tc.reason)
		}
		if tc.district != "" && tc.lon != nil && r.Disagreement == "" {
			t.Errorf("%s with a point in Xiamen: no disagreement reported", tc.address)
		}
	}
}

// An address naming two districts is placed in one, and says it named both.
func TestAnAddressNamingTwoDistrictsSaysSo(t *testing.T) {
	t.Parallel()
	r, err := setup(t).Locate(Input{Address: "湖里区江头街道与思明区莲前街道交界处的工地"})
	if err != nil {
		t.Fatal(err)
	}
	if r.District == "" || r.Disagreement == "" {
		t.Errorf("located in %q with disagreement %q; want a district and both named", r.District, r.Disagreement)
	}
}
