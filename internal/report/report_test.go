package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func fp(v float64) *float64 { return &v }

func TestNewCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count, previous, change int
		pct                     *float64
	}{
		{12, 10, 2, fp(20)},
		{5, 10, -5, fp(-50)},
		{3, 0, 3, nil},
		{0, 0, 0, nil},
		{2, 3, -1, fp(-33.3333)},
	}
	for _, tt := range tests {
		c := NewCount(tt.count, tt.previous)
		if c.Count != tt.count || c.Previous != tt.previous || c.Change != tt.change || (c.ChangePct == nil) != (tt.pct == nil) ||
			(c.ChangePct != nil && *c.ChangePct != *tt.pct) {
			t.Errorf("NewCount(%d, %d) = %+v (pct %v), want change %d pct %v", tt.count, tt.previous, c, deref(c.ChangePct), tt.change, deref(tt.pct))
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestNewRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		due, onTime int
		want        *float64
	}{
		{4, 3, fp(0.75)}, {3, 1, fp(0.3333)}, {0, 0, nil}, {2, 2, fp(1)},
	}
	for _, tt := range tests {
		r := NewRate(tt.due, tt.onTime)
		if (r.Rate == nil) != (tt.want == nil) || (r.Rate != nil && *r.Rate != *tt.want) {
			t.Errorf("NewRate(%d, %d) = %v, want %v", tt.due, tt.onTime, deref(r.Rate), deref(tt.want))
		}
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want float64 }{
		{0, 1}, {1, 1}, {3, 5}, {7, 10}, {12, 20}, {20, 20}, {41, 50}, {51, 100}, {1234, 2000},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{weekLabel("2024-W11"), "2024年第11周"},
		{weekLabel("2025-W01"), "2025年第1周"},
		{change(NewCount(12, 10)), "+2（+20.0%）"},
		{change(NewCount(3, 0)), "+3（新增）"},
		{change(NewCount(5, 5)), "0（+0.0%）"},
		{change(NewCount(0, 4)), "-4（-100.0%）"},
		{CategoryName("dust"), "扬尘"},
		{CategoryName("other"), "other"},
		{pct100(fp(0.254)), "25.4%"},
		{pct100(nil), "—"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// sample is a small report with the cases the renderings must handle: a
// hotspot without coordinates and text that needs escaping.
func sample() *Report {
	start := time.Date(2024, 3, 11, 0, 0, 0, 0, shanghai)
	r := &Report{
		Week: "2024-W11", Start: start, End: start.AddDate(0, 0, 7), PreviousWeek: "2024-W10",
		GeneratedAt: start.AddDate(0, 0, 7).Add(5 * time.Minute),
		Total:       9, PreviousTotal: 4,
		ByCategory:    map[string]int{"noise": 6, "dust": 3, "cooking_smoke": 0},
		ByDistrict:    map[string]int{"siming": 9},
		HotspotTrends: map[string]int{"new": 1, "growing": 1, "persistent": 0, "resolved": 1},
	}
	for i := range 14 {
		d := start.AddDate(0, 0, i-7)
		r.Daily = append(r.Daily, Day{Date: d.Format("2006-01-02"), Total: i, ByCategory: map[string]int{"noise": i / 2}, InWeek: i >= 7})
	}
	r.Hotspots = []Hotspot{
		{ID: "hs-a", Category: "noise", District: "siming", DistrictName: "思明区", Place: `<script>alert("x")</script> 工地`,
			Lon: fp(118.11), Lat: fp(24.48), WeekCount: 25, TotalCount: 30, Trend: TrendGrowing, Status: "active",
			FirstAt: start, LastAt: start.Add(time.Hour), Team: "siming-urban", TeamName: "思明区城市管理综合执法大队", CaseID: "k1", CaseStatus: "accepted"},
		{ID: "hs-b", Category: "dust", District: "siming", DistrictName: "思明区", Place: "沙坡尾, \"码头\"",
			Lon: fp(118.09), Lat: fp(24.45), WeekCount: 1, TotalCount: 3, Trend: TrendNew, Status: "emerging", FirstAt: start, LastAt: start},
		{ID: "hs-c", Category: "dust", District: "siming", DistrictName: "思明区", Subdistrict: "中华街道",
			WeekCount: 0, TotalCount: 4, Trend: TrendResolved, Status: "closed", FirstAt: start, LastAt: start},
	}
	return r
}

func render(t *testing.T, r *Report, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(r, format, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRenderCSV(t *testing.T) {
	t.Parallel()
	r := sample()
	out := render(t, r, "csv")
	if !bytes.HasPrefix(out, []byte("\ufeff")) {
		t.Error("CSV has no byte order mark for spreadsheet programs")
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(r.Hotspots) {
		t.Fatalf("%d rows, want a header and %d hotspots", len(recs), len(r.Hotspots))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, h := range r.Hotspots {
		row := recs[i+1]
		if row[col["hotspot_id"]] != h.ID || row[col["place"]] != h.Place || row[col["week_count"]] != strconv.Itoa(h.WeekCount) ||
			row[col["trend_name"]] != trendNames[h.Trend] || row[col["category_name"]] != CategoryName(h.Category) {
			t.Errorf("row %d = %v, want hotspot %+v", i+1, row, h)
		}
	}
	if recs[3][col["lon"]] != "" {
		t.Errorf("hotspot without coordinates has lon %q", recs[3][col["lon"]])
	}
}

func TestRenderGeoJSON(t *testing.T) {
	t.Parallel()
	r := sample()
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string          `json:"type"`
			ID         string          `json:"id"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties map[string]any  `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(render(t, r, "geojson"), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 3 {
		t.Fatalf("%s with %d features", fc.Type, len(fc.Features))
	}
	if string(fc.Features[0].Geometry) != `{"type":"Point","coordinates":[118.11,24.48]}` {
		t.Errorf("geometry %s", fc.Features[0].Geometry)
	}
	if string(fc.Features[2].Geometry) != "null" {
		t.Errorf("hotspot without coordinates has geometry %s, want null", fc.Features[2].Geometry)
	}
	if p := fc.Features[0].Properties; p["week_count"] != 25.0 || p["trend"] != "growing" || p["category_name"] != "噪声" {
		t.Errorf("properties %v", p)
	}
}

func TestRenderJSONRoundTrips(t *testing.T) {
	t.Parallel()
	r := sample()
	out := render(t, r, "json")
	var back Report
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if again := render(t, &back, "json"); !bytes.Equal(out, again) {
		t.Errorf("JSON does not round-trip:\n%s\n%s", out, again)
	}
}

func TestRenderHTML(t *testing.T) {
	t.Parallel()
	html := string(render(t, sample(), "html"))
	for _, want := range []string{`<html lang="zh-CN">`, "@page { size: A4", "2024年第11周", "3月11日—3月17日", "思明区城市管理综合执法大队", "&lt;script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(html, `<script>alert`) {
		t.Error("a place name reached the page unescaped")
	}
	if n := strings.Count(html, "<svg"); n != 2 {
		t.Errorf("%d SVG figures, want the map and the trend chart", n)
	}
}

// TestRenderHTMLWeekAcrossNewYear: a week holding the new year is dated
// with both years, in Xiamen time, however its times arrive: the days
// "12月28日—1月3日" under "2026年第53周" would read as a week of 2026 alone,
// and those of 2026-W01 as a week of December 2026.
func TestRenderHTMLWeekAcrossNewYear(t *testing.T) {
	t.Parallel()
	tests := []struct {
		week, prev string
		start      time.Time
		label      string
		dates      string
	}{
		{"2026-W53", "2026-W52", time.Date(2026, 12, 27, 16, 0, 0, 0, time.UTC), "2026年第53周", "2026年12月28日—2027年1月3日"},
		{"2026-W01", "2025-W52", time.Date(2025, 12, 29, 0, 0, 0, 0, shanghai), "2026年第1周", "2025年12月29日—2026年1月4日"},
		{"2027-W01", "2026-W53", time.Date(2027, 1, 4, 0, 0, 0, 0, shanghai), "2027年第1周", "（1月4日—1月10日）"},
		{"2026-W52", "2026-W51", time.Date(2026, 12, 21, 0, 0, 0, 0, shanghai), "2026年第52周", "（12月21日—12月27日）"},
	}
	for _, tt := range tests {
		r := sample()
		r.Week, r.PreviousWeek, r.Start, r.End = tt.week, tt.prev, tt.start, tt.start.AddDate(0, 0, 7)
		html := string(render(t, r, "html"))
		for _, want := range []string{tt.label, tt.dates} {
			if !strings.Contains(html, want) {
				t.Errorf("%s: HTML lacks %q", tt.week, want)
			}
		}
	}
}

var circle = regexp.MustCompile(`<circle cx="[0-9.]+" cy="[0-9.]+" r="([0-9.]+)" fill="(#[0-9a-f]+|none)"[^>]*><title>([^<]*)</title>`)

func TestMapMarkersSizedByCount(t *testing.T) {
	t.Parallel()
	svg, err := mapSVG(sample())
	if err != nil {
		t.Fatal(err)
	}
	radius := map[string]float64{}
	for _, m := range circle.FindAllStringSubmatch(svg, -1) {
		r, _ := strconv.ParseFloat(m[1], 64)
		radius[m[3]] = r
	}
	var big, small float64
	for title, r := range radius {
		switch {
		case strings.Contains(title, "本周 25 件"):
			big = r
		case strings.Contains(title, "本周 1 件"):
			small = r
		}
	}
	if big == 0 || small == 0 || big <= small {
		t.Errorf("markers: 25 complaints r=%v, 1 complaint r=%v; want the busier one larger (%v)", big, small, radius)
	}
	if len(radius) != 2 {
		t.Errorf("%d markers, want the two hotspots with coordinates", len(radius))
	}
	if strings.Contains(svg, "<script") || strings.Contains(svg, "http://tile") {
		t.Error("map is not self-contained or escapes badly")
	}
}

func TestMarkerRadiusGrowsWithArea(t *testing.T) {
	t.Parallel()
	prev := 0.0
	for _, n := range []int{1, 2, 4, 9, 16, 25} {
		r := markerRadius(n)
		if r <= prev {
			t.Errorf("markerRadius(%d) = %v, not above %v", n, r, prev)
		}
		prev = r
	}
	if markerRadius(100000) > 22 || math.IsNaN(markerRadius(0)) {
		t.Error("marker radius is not capped")
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	t.Parallel()
	if err := Render(sample(), "pdf", &bytes.Buffer{}); !errors.Is(err, ErrFormat) {
		t.Errorf("Render(pdf) = %v, want ErrFormat", err)
	}
}
