package geocoder

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/locate"
)

// newPure builds a Service for its pure decisions: no database, no NATS.
func newPure(t *testing.T) *Service {
	t.Helper()
	s, err := New(DefaultConfig(), nil, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	shanghai  = time.FixedZone("Asia/Shanghai", 8*3600)
	night     = time.Date(2024, 3, 12, 23, 0, 0, 0, shanghai)
	day       = time.Date(2024, 3, 12, 10, 0, 0, 0, shanghai)
	inSiming  = [2]float64{118.13560, 24.48620} // WGS-84
	inHuli    = [2]float64{118.15100, 24.48550}
	inHaicang = [2]float64{118.0330, 24.5240}
)

func at(p [2]float64, crs string) *event.Location {
	return &event.Location{Lon: p[0], Lat: p[1], CRS: crs}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	s := newPure(t)
	cases := []struct {
		name             string
		ev               event.ComplaintReceived
		district, method string
		category, sub    string
		classifyMethod   string
		priority, urgent bool
		kind, reason     string // triage
		disagreement     string // contained
		codeIgnored      bool
	}{
		{name: "hotline code wins over the words",
			ev:       event.ComplaintReceived{Category: "dust", Subcategory: "road", Description: "楼下KTV太吵", Location: at(inSiming, "wgs84"), ReceivedAt: day},
			district: "siming", method: "coordinates", category: "dust", sub: "road", classifyMethod: "code"},
		{name: "unknown subcategory keeps the category",
			ev:       event.ComplaintReceived{Category: "noise", Subcategory: "thunder", Description: "工地夜间打桩", Address: "湖里区江头街道", ReceivedAt: night},
			district: "huli", method: "address_subdistrict", category: "noise", sub: "construction", classifyMethod: "code",
			priority: true, urgent: true, codeIgnored: true},
		{name: "a subcategory of another category contradicts the category: the words decide",
			ev:       event.ComplaintReceived{Category: "noise", Subcategory: "restaurant", Description: "楼下饭店油烟直排，熏得没法开窗", Address: "集美区", ReceivedAt: day},
			district: "jimei", method: "address_district", category: "cooking_smoke", sub: "restaurant", classifyMethod: "description", codeIgnored: true},
		{name: "contradicting codes and words that decide nothing go to triage",
			ev:       event.ComplaintReceived{Category: "noise", Subcategory: "restaurant", Description: "请尽快处理", Address: "集美区", ReceivedAt: day},
			district: "jimei", method: "address_district", classifyMethod: "description", codeIgnored: true,
			kind: kindUnclassified, reason: reasonUnclassified},
		{name: "unknown category falls back to the words",
			ev:       event.ComplaintReceived{Category: "smell", Description: "饭店油烟直排，熏得没法开窗", Address: "集美区", ReceivedAt: day},
			district: "jimei", method: "address_district", category: "cooking_smoke", sub: "restaurant", classifyMethod: "description", codeIgnored: true},
		{name: "hotline path",
			ev:       event.ComplaintReceived{HotlineCategory: "生态环境>大气污染>扬尘污染>施工扬尘", Description: "有灰", Location: at(inHaicang, "wgs84"), ReceivedAt: day},
			district: "haicang", method: "coordinates", category: "dust", sub: "construction_site", classifyMethod: "hotline_category"},
		{name: "rejected coordinates fall back to the address",
			ev:       event.ComplaintReceived{Description: "广场舞音响", Location: &event.Location{Lon: 118.1, Lat: 24.5, CRS: "epsg3857"}, Address: "思明区", ReceivedAt: day},
			district: "siming", method: "address_district", category: "noise", sub: "social_life", classifyMethod: "description",
			priority: true, disagreement: "coordinates rejected: unknown crs"},
		{name: "rejected coordinates and no address",
			ev:       event.ComplaintReceived{Description: "广场舞音响", Location: &event.Location{Lon: 181, Lat: 24.5, CRS: "wgs84"}, ReceivedAt: day},
			category: "noise", sub: "social_life", classifyMethod: "description",
			kind: kindUnlocated, reason: "coordinates rejected: coordinates (181, 24.5) out of range"},
		{name: "no location at all, night construction still urgent",
			ev:       event.ComplaintReceived{Description: "夜间施工打桩噪声", ReceivedAt: night},
			category: "noise", sub: "construction", classifyMethod: "description", priority: true, urgent: true,
			kind: kindUnlocated, reason: locate.ReasonNoLocation},
		{name: "neither located nor classified",
			ev:             event.ComplaintReceived{Description: "咨询公积金提取", Location: at([2]float64{121.47, 31.23}, "gcj02"), ReceivedAt: day},
			classifyMethod: "description",
			kind:           kindUnlocated, reason: locate.ReasonOutside + "; " + reasonUnclassified},
		{name: "located, not classified",
			ev:       event.ComplaintReceived{Description: "咨询公积金提取", Location: at(inHuli, "wgs84"), ReceivedAt: day},
			district: "huli", method: "coordinates", classifyMethod: "description",
			kind: kindUnclassified, reason: reasonUnclassified},
		{name: "coordinates win, disagreement kept",
			ev:       event.ComplaintReceived{Description: "工地扬尘", Location: at(inSiming, "wgs84"), Address: "翔安区马巷街道", ReceivedAt: day},
			district: "siming", method: "coordinates", category: "dust", sub: "construction_site", classifyMethod: "description",
			disagreement: "address names xiangan"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.ev.ComplaintID = "c1"
			d, err := s.decide(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			if d.loc.District != c.district || d.loc.Method != c.method {
				t.Errorf("located in %q by %q, want %q by %q", d.loc.District, d.loc.Method, c.district, c.method)
			}
			if d.cls.Category != c.category || d.cls.Subcategory != c.sub || d.cls.Method != c.classifyMethod {
				t.Errorf("classified %q/%q by %q, want %q/%q by %q", d.cls.Category, d.cls.Subcategory, d.cls.Method, c.category, c.sub, c.classifyMethod)
			}
			if d.prio.Priority != c.priority || d.prio.Urgent != c.urgent {
				t.Errorf("priority %v urgent %v, want %v %v", d.prio.Priority, d.prio.Urgent, c.priority, c.urgent)
			}
			if d.kind != c.kind || d.reason != c.reason {
				t.Errorf("triage %q %q, want %q %q", d.kind, d.reason, c.kind, c.reason)
			}
			if !strings.Contains(d.loc.Disagreement, c.disagreement) || (c.disagreement == "" && d.loc.Disagreement != "") {
				t.Errorf("disagreement %q, want it to contain %q", d.loc.Disagreement, c.disagreement)
			}
			if d.codeIgnored != c.codeIgnored {
				t.Errorf("code ignored %v, want %v", d.codeIgnored, c.codeIgnored)
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }

func TestCorrect(t *testing.T) {
	t.Parallel()
	s := newPure(t)
	unlocated := current{category: "noise", subcategory: "construction"}
	locatedSiming := current{
		loc: locate.Result{District: "siming", DistrictName: "思明区", Subdistrict: "厦港街道", SubdistrictCode: "350203001",
			SubdistrictApprox: true, Lon: ptr(inSiming[0]), Lat: ptr(inSiming[1]), Method: "coordinates", Confidence: 0.95,
			Place: "某大厦", PlaceKey: "siming/某大厦"},
		category: "dust", subcategory: "road",
	}
	unclassified := current{loc: locate.Result{District: "huli", DistrictName: "湖里区", Method: "address_district"}}
	cases := []struct {
		name        string
		cur         current
		ev          event.TriageCorrected
		invalid     bool
		district    string
		subdistrict string
		approx      bool
		keepsPoint  bool
		placeKey    string
		category    string
		sub         string
		note        string // contained in the disagreement
	}{
		{name: "district and old sub-district name", cur: unlocated,
			ev:       event.TriageCorrected{District: "xiangan", Subdistrict: "马巷镇"},
			district: "xiangan", subdistrict: "马巷街道", category: "noise", sub: "construction"},
		{name: "unknown sub-district name kept as given", cur: unlocated,
			ev:       event.TriageCorrected{District: "xiangan", Subdistrict: "某某社区"},
			district: "xiangan", subdistrict: "某某社区", category: "noise", sub: "construction"},
		{name: "a point names its district", cur: unlocated,
			ev:       event.TriageCorrected{Lon: ptr(inHuli[0]), Lat: ptr(inHuli[1])},
			district: "huli", approx: true, keepsPoint: true, category: "noise", sub: "construction"},
		{name: "explicit district wins over the point", cur: unlocated,
			ev:       event.TriageCorrected{District: "siming", Lon: ptr(inHuli[0]), Lat: ptr(inHuli[1])},
			district: "siming", keepsPoint: true, category: "noise", sub: "construction", note: "corrected point in huli"},
		{name: "moving district drops the old point, place and sub-district", cur: locatedSiming,
			ev:       event.TriageCorrected{District: "huli"},
			district: "huli", placeKey: "huli/某大厦", category: "dust", sub: "road"},
		{name: "category only keeps the location", cur: unclassified,
			ev:       event.TriageCorrected{Category: "cooking_smoke"},
			district: "huli", category: "cooking_smoke", sub: "restaurant"},
		{name: "subcategory only names its category", cur: unclassified,
			ev:       event.TriageCorrected{Subcategory: "yard"},
			district: "huli", category: "dust", sub: "yard"},
		{name: "point outside Xiamen and no district", cur: unlocated,
			ev: event.TriageCorrected{Lon: ptr(116.4), Lat: ptr(39.9)}, invalid: true},
		{name: "still no district", cur: unlocated,
			ev: event.TriageCorrected{Category: "dust"}, invalid: true},
		{name: "still no category", cur: unclassified,
			ev: event.TriageCorrected{Subdistrict: "江头街道"}, invalid: true},
		{name: "unknown district", cur: unlocated,
			ev: event.TriageCorrected{District: "gulangyu"}, invalid: true},
		{name: "unknown category", cur: unclassified,
			ev: event.TriageCorrected{Category: "smell"}, invalid: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.ev.ComplaintID, c.ev.Officer = "c1", "off-1"
			got, err := s.correct(c.cur, c.ev)
			if c.invalid {
				if err == nil || fault.KindOf(err) != fault.Invalid {
					t.Fatalf("error %v, want an invalid correction", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := got.loc
			d, _ := s.districts.BySlug(c.district)
			if l.District != c.district || l.DistrictName != d.Name || l.Method != MethodCorrected || l.Confidence != 1 {
				t.Errorf("district %q %q by %q (%v), want %q corrected", l.District, l.DistrictName, l.Method, l.Confidence, c.district)
			}
			if c.subdistrict != "" && l.Subdistrict != c.subdistrict {
				t.Errorf("sub-district %q, want %q", l.Subdistrict, c.subdistrict)
			}
			if c.subdistrict == "" && !c.approx && l.Subdistrict != "" {
				t.Errorf("sub-district %q kept from the old district", l.Subdistrict)
			}
			if l.SubdistrictApprox != c.approx || (c.approx && l.Subdistrict == "") {
				t.Errorf("sub-district %q approx %v, want approx %v", l.Subdistrict, l.SubdistrictApprox, c.approx)
			}
			if c.keepsPoint != (l.Lon != nil) {
				t.Errorf("point %v, want one: %v", l.Lon, c.keepsPoint)
			}
			if c.keepsPoint && c.ev.Lon != nil && (*l.Lon != *c.ev.Lon || *l.Lat != *c.ev.Lat) {
				t.Errorf("point %v,%v is not the corrected one", *l.Lon, *l.Lat)
			}
			if c.placeKey != "" && l.PlaceKey != c.placeKey {
				t.Errorf("place key %q, want %q", l.PlaceKey, c.placeKey)
			}
			if c.cur.loc.District != "" && c.cur.loc.District != l.District && l.Place != "" {
				t.Errorf("place %q of the old district kept", l.Place)
			}
			if got.category != c.category || got.subcategory != c.sub {
				t.Errorf("category %q/%q, want %q/%q", got.category, got.subcategory, c.category, c.sub)
			}
			if !strings.Contains(l.Disagreement, c.note) || (c.note == "" && l.Disagreement != "") {
				t.Errorf("disagreement %q, want %q", l.Disagreement, c.note)
			}
		})
	}
}

func TestLocatedSubjectAndRescope(t *testing.T) {
	t.Parallel()
	ev := event.ComplaintLocated{District: "tongan", Category: "cooking_smoke"}
	if got := locatedSubject(ev); got != "complaint.located.tongan.cooking_smoke" {
		t.Errorf("subject %q", got)
	}
	cases := []struct{ key, from, to, want string }{
		{"siming/中山路", "siming", "huli", "huli/中山路"},
		{"中山路", "", "huli", "中山路"},
		{"", "siming", "huli", ""},
		{"simingx/a", "siming", "huli", "simingx/a"},
	}
	for _, c := range cases {
		if got := rescope(c.key, c.from, c.to); got != c.want {
			t.Errorf("rescope(%q, %q, %q) = %q, want %q", c.key, c.from, c.to, got, c.want)
		}
	}
}

// BenchmarkDecide measures the geocoder's own work per complaint, without
// the database: locating and classifying.
func BenchmarkDecide(b *testing.B) {
	s, err := New(DefaultConfig(), nil, nil, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	evs := []event.ComplaintReceived{
		{ComplaintID: "a", Description: "工地夜里还在打桩，混凝土泵车轰隆隆，吵得睡不着", Location: at(inSiming, "gcj02"), Address: "思明区莲前街道", ReceivedAt: night},
		{ComplaintID: "b", Description: "楼下烧烤店油烟直排，窗户都不敢开", Address: "厦门市湖里区江头街道", ReceivedAt: day},
		{ComplaintID: "c", HotlineCategory: "生态环境>大气污染>扬尘污染", Description: "渣土车沿路撒土", Location: at(inHaicang, "bd09"), ReceivedAt: day},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.decide(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
}
