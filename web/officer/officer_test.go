package officer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/seeds"
)

func get(t *testing.T, h http.Handler, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// versioned returns the ?v= URLs the page links to, by file name.
func versioned(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?:src|href)="([a-z]+\.[a-z]+)\?v=([0-9a-f]{16})"`).FindAllStringSubmatch(page, -1) {
		out[m[1]] = m[1] + "?v=" + m[2]
	}
	return out
}

func TestServesConsoleFiles(t *testing.T) {
	t.Parallel()
	h := Handler()
	page := body(t, get(t, h, "/officer/", nil))
	links := versioned(t, page)
	for _, name := range []string{"app.js", "app.css", "icon.svg"} {
		if links[name] == "" {
			t.Fatalf("the page does not link %s with its content hash:\n%s", name, page)
		}
	}
	tests := []struct {
		path, ctype, cache string
		status             int
		contains           string
	}{
		{"/officer/", "text/html; charset=utf-8", "no-cache", 200, "执法工作台"},
		{"/officer/index.html", "text/html; charset=utf-8", "no-cache", 200, `lang="zh-CN"`},
		{"/officer/" + links["app.js"], "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200, "EventSource"},
		{"/officer/app.js", "text/javascript; charset=utf-8", "no-cache", 200, "access_token"},
		{"/officer/app.js?v=0000000000000000", "text/javascript; charset=utf-8", "no-cache", 200, "access_token"},
		{"/officer/" + links["app.css"], "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200, "@media"},
		{"/officer/" + links["icon.svg"], "image/svg+xml", "public, max-age=31536000, immutable", 200, "<svg"},
		{"/officer/districts.json", "application/geo+json", "public, max-age=3600", 200, "FeatureCollection"},
		{"/officer/teams.json", "application/json", "public, max-age=3600", 200, "思明区城市管理综合执法大队"},
		{"/officer/missing.js", "application/problem+json", "", 404, "missing.js"},
		{"/officer/static/app.js", "application/problem+json", "", 404, ""},
		{"/elsewhere", "application/problem+json", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			res := get(t, h, tt.path, nil)
			b := body(t, res)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if got := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") || strings.Contains(got, "unsafe") {
				t.Errorf("Content-Security-Policy %q is not strict", got)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if !strings.Contains(b, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestConditionalAndCompressed(t *testing.T) {
	t.Parallel()
	h := Handler()
	plain := get(t, h, "/officer/app.js", nil)
	want := body(t, plain)
	tag := plain.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	if res := get(t, h, "/officer/app.js", map[string]string{"If-None-Match": tag}); res.StatusCode != http.StatusNotModified || body(t, res) != "" {
		t.Errorf("If-None-Match with the current tag: status %d, want 304 without body", res.StatusCode)
	}
	if res := get(t, h, "/officer/app.js", map[string]string{"If-None-Match": `"stale"`}); res.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with a stale tag: status %d, want 200", res.StatusCode)
	}
	zres := get(t, h, "/officer/app.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if zres.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", zres.Header.Get("Content-Encoding"))
	}
	if zres.Header.Get("ETag") == tag {
		t.Error("the gzip representation shares the plain one's ETag")
	}
	zr, err := gzip.NewReader(zres.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("the gzip body does not decode to the plain body")
	}
	if res := get(t, h, "/officer/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 still got gzip")
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=0.8", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"br", false},
		{"xgzip", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestNothingFromOutside keeps the console self-contained: no URL with a
// scheme or a protocol-relative URL is loaded by the page, the script or
// the style sheet (a phone in the field may reach nothing else).
func TestNothingFromOutside(t *testing.T) {
	t.Parallel()
	h := Handler()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, p := range []string{"/officer/", "/officer/app.js", "/officer/app.css", "/officer/icon.svg"} {
		b := body(t, get(t, h, p, nil))
		for _, m := range external.FindAllString(b, -1) {
			if m == "http://www.w3.org" { // the SVG namespace, a name not a load
				continue
			}
			if m == "https://uri.amap.com" && p == "/officer/app.js" { // 导航: a link the officer follows to Amap, not a load
				continue
			}
			t.Errorf("%s refers to %s", p, m)
		}
		if p == "/officer/" && (strings.Contains(b, "<script>") || strings.Contains(b, "style=")) {
			t.Errorf("%s has inline script or style the CSP would block", p)
		}
	}
}

func TestRoutesMountConsole(t *testing.T) {
	t.Parallel()
	mux := httpx.NewRecordingMux()
	Routes(mux)
	got := strings.Join(mux.Patterns(), ",")
	if got != "GET /officer/,GET /officer/districts.json,GET /officer/teams.json" {
		t.Fatalf("patterns %s", got)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/officer")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/officer/" {
		t.Errorf("GET /officer: status %d at %s, want the page at /officer/", res.StatusCode, res.Request.URL.Path)
	}
}

func TestDistrictOutlines(t *testing.T) {
	t.Parallel()
	raw, err := seeds.FS.ReadFile("districts.geojson")
	if err != nil {
		t.Fatal(err)
	}
	var orig featureCollection
	if err := json.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	out := body(t, get(t, Handler(), "/officer/districts.json", nil))
	var fc featureCollection
	if err := json.Unmarshal([]byte(out), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 6 {
		t.Fatalf("type %q with %d features, want a FeatureCollection of the 6 districts", fc.Type, len(fc.Features))
	}
	if len(out) >= len(raw) {
		t.Errorf("served outlines are %d bytes, the seed %d: not simplified", len(out), len(raw))
	}
	for i, f := range fc.Features {
		o := orig.Features[i]
		if f.Properties["slug"] != o.Properties["slug"] || f.Properties["name"] != o.Properties["name"] {
			t.Errorf("feature %d is %v, want %v", i, f.Properties, o.Properties)
		}
		if len(f.Geometry.Coordinates) != len(o.Geometry.Coordinates) {
			t.Errorf("%s: %d polygons, the seed has %d", o.Properties["slug"], len(f.Geometry.Coordinates), len(o.Geometry.Coordinates))
			continue
		}
		for j, poly := range f.Geometry.Coordinates {
			ring, seedRing := poly[0], o.Geometry.Coordinates[j][0]
			if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
				t.Errorf("%s polygon %d: ring of %d points, not closed", o.Properties["slug"], j, len(ring))
				continue
			}
			// Every seed vertex stays within the tolerance (plus rounding)
			// of the simplified outline.
			for _, p := range seedRing {
				d := 1.0
				for k := 1; k < len(ring); k++ {
					d = min(d, segmentDistance(p, ring[k-1], ring[k]))
				}
				if d > outlineTolerance+2e-5 {
					t.Errorf("%s polygon %d: seed vertex %v is %.6f° from the outline", o.Properties["slug"], j, p, d)
					break
				}
			}
		}
	}
}

func TestSimplifyRing(t *testing.T) {
	t.Parallel()
	square := [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}
	// A square with extra vertices on its edges and a small wobble.
	noisy := [][2]float64{{0, 0}, {0.5, 0.00001}, {1, 0}, {1, 0.5}, {1, 1}, {0.5, 1}, {0, 1}, {0, 0.5}, {0, 0}}
	// A notch far larger than the tolerance must stay.
	notch := [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0.5, 1}, {0.5, 0.5}, {0.4, 1}, {0, 1}, {0, 0}}
	tests := []struct {
		name string
		in   [][2]float64
		want int
	}{
		{"square", square, 5},
		{"collinear and wobble", noisy, 5},
		{"notch", notch, 8},
		{"degenerate", [][2]float64{{0, 0}, {1, 1}, {0, 0}}, 0},
		{"tiny", [][2]float64{{0, 0}, {0.00001, 0}, {0.00001, 0.00001}, {0, 0}}, 0},
	}
	for _, tt := range tests {
		got := simplifyRing(tt.in, 1e-4)
		if tt.want == 0 {
			if len(got) >= 4 {
				t.Errorf("%s: kept %v, want it dropped", tt.name, got)
			}
			continue
		}
		if len(got) != tt.want || got[0] != got[len(got)-1] {
			t.Errorf("%s: %v, want a closed ring of %d points", tt.name, got, tt.want)
		}
	}
}

func TestHeadHasNoBody(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodHead, "/officer/", nil)
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	if !bytes.Contains([]byte(rec.Header().Get("Content-Type")), []byte("text/html")) {
		t.Errorf("HEAD: Content-Type %q", rec.Header().Get("Content-Type"))
	}
}
