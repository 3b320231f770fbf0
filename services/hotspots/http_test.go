package hotspots

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// tokens are the fake token store of the API tests.
var tokens = map[string]auth.Principal{
	"admin":        {ID: "a1", Name: "管理员", Role: auth.RoleAdmin},
	"sup-siming":   {ID: "s1", Name: "思明督导", District: "siming", Role: auth.RoleSupervisor},
	"officer-eco":  {ID: "o1", Name: "执法员甲", Team: "siming-eco", District: "siming", Role: auth.RoleOfficer},
	"officer-cg":   {ID: "o2", Name: "执法员乙", Team: "huli-cg", District: "huli", Role: auth.RoleOfficer},
	"officer-none": {ID: "o3", Name: "执法员丙", Team: "jimei-eco", District: "jimei", Role: auth.RoleOfficer},
}

func fakeAuthorize(r *http.Request) (auth.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p, known := tokens[tok]
	if !ok || !known {
		return auth.Principal{}, fault.Errorf(fault.Unauthorized, "unknown token")
	}
	return p, nil
}

// seedHotspots stores hotspots and cases directly, as the detector and the
// router would have.
func seedHotspots(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO hotspots (id, category, subcategory, district, status, complaint_count, first_at, last_at, lon, lat, place, merged_into, place_key) VALUES
		('hs_siming_noise', 'noise', 'construction', 'siming', 'active', 5, '2024-03-01T08:00:00Z', '2024-03-10T08:00:00Z', 118.0894, 24.4798, '中山路', NULL, NULL),
		('hs_huli_dust', 'dust', 'road', 'huli', 'escalated', 9, '2024-03-05T08:00:00Z', '2024-03-12T08:00:00Z', 118.1200, 24.5100, NULL, NULL, 'huli/殿前一路5号电话王先生13800138000'),
		('hs_siming_merged', 'noise', NULL, 'siming', 'merged', 3, '2024-03-02T08:00:00Z', '2024-03-04T08:00:00Z', 118.0900, 24.4800, NULL, 'hs_siming_noise', NULL),
		('hs_siming_old', 'cooking_smoke', 'restaurant', 'siming', 'closed', 4, '2024-01-01T08:00:00Z', '2024-01-10T08:00:00Z', NULL, NULL, '曾厝垵', NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	// The eco team holds the case of the hotspot that merged away; the
	// urban-management team holds Huli's dust case.
	openCase(t, pool, "case-eco", "hs_siming_merged", "siming-eco", "siming")
	openCase(t, pool, "case-cg", "hs_huli_dust", "huli-cg", "huli")
}

func TestListHotspotsByRoleAndFilter(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	seedHotspots(t, pool)
	cfg := DefaultConfig()
	cfg.Authorize = fakeAuthorize
	s, err := New(cfg, pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, token, query string
		want               []string
	}{
		{"admin sees every live hotspot", "admin", "", []string{"hs_huli_dust", "hs_siming_noise", "hs_siming_old"}},
		{"supervisor sees the district", "sup-siming", "", []string{"hs_siming_noise", "hs_siming_old"}},
		{"supervisor cannot widen to another district", "sup-siming", "district=huli", nil},
		{"officer sees the team's hotspot, merged ones followed", "officer-eco", "", []string{"hs_siming_noise"}},
		{"other team's officer", "officer-cg", "", []string{"hs_huli_dust"}},
		{"officer of a team without cases", "officer-none", "", nil},
		{"category", "admin", "category=dust", []string{"hs_huli_dust"}},
		{"district", "admin", "district=siming", []string{"hs_siming_noise", "hs_siming_old"}},
		{"status list", "admin", "status=closed,escalated", []string{"hs_huli_dust", "hs_siming_old"}},
		{"merged only on request", "admin", "status=merged", []string{"hs_siming_merged"}},
		{"from a date", "admin", "from=2024-03-11", []string{"hs_huli_dust"}},
		{"to a date, inclusive", "admin", "to=2024-01-01", []string{"hs_siming_old"}},
		{"an RFC 3339 window", "admin", "from=2024-02-01T00:00:00%2B08:00&to=2024-03-04T12:00:00Z", []string{"hs_siming_noise"}},
		{"limit", "admin", "limit=1", []string{"hs_huli_dust"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := getCollection(t, srv.URL+"/api/v1/hotspots?"+tc.query, tc.token)
			var got []string
			for _, f := range fc.Features {
				got = append(got, f.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A hotspot without a named place is shown by its key less the
	// district's slug, made of an address: a phone number and a caller's
	// name with a title in a key stored before addresses lost theirs are
	// masked.
	t.Run("a place key shows no slug, no phone and no name", func(t *testing.T) {
		t.Parallel()
		fc := getCollection(t, srv.URL+"/api/v1/hotspots?district=huli", "admin")
		if len(fc.Features) != 1 || fc.Features[0].Properties.Place != "殿前一路5号电话王**138****8000" {
			t.Errorf("features %+v, want the dust hotspot by its address, its phone and name masked", fc.Features)
		}
	})

	t.Run("feature properties", func(t *testing.T) {
		t.Parallel()
		fc := getCollection(t, srv.URL+"/api/v1/hotspots?district=siming", "admin")
		f := fc.Features[0]
		p := f.Properties
		if fc.Type != "FeatureCollection" || f.Type != "Feature" || f.Geometry == nil || f.Geometry.Type != "Point" {
			t.Fatalf("not GeoJSON: %+v", fc)
		}
		coords, _ := f.Geometry.Coordinates.([]any)
		if p.ID != "hs_siming_noise" || p.Category != "noise" || p.Subcategory != "construction" || p.District != "siming" ||
			p.ComplaintCount != 5 || p.Status != "active" || p.Place != "中山路" ||
			!p.FirstAt.Equal(time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)) || !p.LastAt.Equal(time.Date(2024, 3, 10, 8, 0, 0, 0, time.UTC)) ||
			len(coords) != 2 || coords[0] != 118.0894 || coords[1] != 24.4798 {
			t.Errorf("feature %+v geometry %+v", p, f.Geometry)
		}
		if old := fc.Features[1]; old.Geometry != nil {
			t.Errorf("a hotspot without coordinates has geometry %+v, want null", old.Geometry)
		}
	})

	bad := []struct{ query, param string }{
		{"category=odour", "category"},
		{"district=xiamen", "district"},
		{"status=open", "status"},
		{"from=yesterday", "from"},
		{"to=2024-13-01", "to"},
		{"from=2024-03-10&to=2024-03-01", "to"},
		{"limit=0", "limit"},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.query, func(t *testing.T) {
			t.Parallel()
			resp := get(t, srv.URL+"/api/v1/hotspots?"+tc.query, "admin")
			defer resp.Body.Close()
			var p httpx.Problem
			_ = json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" ||
				len(p.Errors) != 1 || p.Errors[0].Field != tc.param {
				t.Errorf("status %d %s, problem %+v; want 400 naming %s", resp.StatusCode, resp.Header.Get("Content-Type"), p, tc.param)
			}
		})
	}

	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		resp := get(t, srv.URL+"/api/v1/hotspots", "")
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("status %d, challenge %q; want 401 with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestListShowsAPlaceNotItsKey is the officers' console's hotspot card
// (湖里区 · 禾山街道 · place): a hotspot is shown by its named place, and
// without one (NULL or empty) by its key as the weekly report shows it,
// less the district's slug and with the callers' names and phones a key
// stored before addresses lost them holds masked; never by the internal
// key "huli/…". Each answer is held to the served OpenAPI.
func TestListShowsAPlaceNotItsKey(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	_, err := pool.Exec(context.Background(), `
		INSERT INTO hotspots (id, category, district, subdistrict, status, complaint_count, first_at, last_at, place, place_key) VALUES
		('hs_empty', 'noise', 'huli', 'heshan', 'active', 4, '2024-03-01T08:00:00Z', '2024-03-10T08:00:00Z', '', 'huli/华昌路鹭港苑'),
		('hs_named', 'noise', 'huli', 'heshan', 'active', 4, '2024-03-01T08:00:00Z', '2024-03-09T08:00:00Z', '鹭港苑', 'huli/华昌路鹭港苑2号'),
		('hs_contact', 'dust', 'huli', NULL, 'active', 3, '2024-03-01T08:00:00Z', '2024-03-08T08:00:00Z', NULL, 'huli/殿前一路5号联系人王小明13812345678'),
		('hs_bare', 'dust', 'huli', NULL, 'emerging', 3, '2024-03-01T08:00:00Z', '2024-03-07T08:00:00Z', NULL, 'huli/华昌路3栋2单元陈建国'),
		('hs_none', 'dust', 'huli', NULL, 'emerging', 3, '2024-03-01T08:00:00Z', '2024-03-06T08:00:00Z', NULL, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	openCase(t, pool, "case-huli", "hs_empty", "huli-cg", "huli")
	cfg := DefaultConfig()
	cfg.Authorize = fakeAuthorize
	s, err := New(cfg, pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	list := func(t *testing.T, token string) map[string]string {
		t.Helper()
		resp := get(t, srv.URL+"/api/v1/hotspots?district=huli", token)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate("GET /api/v1/hotspots", resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
			t.Errorf("against the OpenAPI: %v", err)
		}
		var fc FeatureCollection
		if err := json.Unmarshal(body, &fc); err != nil {
			t.Fatal(err)
		}
		places := map[string]string{}
		for _, f := range fc.Features {
			places[f.ID] = f.Properties.Place
		}
		return places
	}

	want := map[string]string{
		"hs_empty":   "华昌路鹭港苑",
		"hs_named":   "鹭港苑",
		"hs_contact": "殿前一路5号联系人王**138****5678",
		"hs_bare":    "华昌路3栋2单元陈**",
		"hs_none":    "",
	}
	got := list(t, "admin")
	if !maps.Equal(got, want) {
		t.Errorf("places %v, want %v", got, want)
	}
	for id, p := range got {
		if strings.Contains(p, "/") || strings.Contains(p, "王小明") || strings.Contains(p, "陈建国") || strings.Contains(p, "13812345678") {
			t.Errorf("%s shown at %q: a key's slug or a caller's name or phone", id, p)
		}
	}
	// The officer whose team holds the case sees the same card.
	if got := list(t, "officer-cg"); !maps.Equal(got, map[string]string{"hs_empty": "华昌路鹭港苑"}) {
		t.Errorf("the Huli officer sees %v, want hs_empty at 华昌路鹭港苑", got)
	}
}

func get(t *testing.T, u, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func getCollection(t *testing.T, u, token string) FeatureCollection {
	t.Helper()
	resp := get(t, u, token)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var fc FeatureCollection
	if err := json.NewDecoder(resp.Body).Decode(&fc); err != nil {
		t.Fatal(err)
	}
	return fc
}

func TestWeeklyCellsOfStoredComplaints(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cfg := DefaultConfig()
	cfg.Authorize = fakeAuthorize
	s, err := New(cfg, e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// A burst at one place in the week of 2024-03-11, over a thin
	// background at the corners of a 10 km square in every week.
	var evs []event.ComplaintLocated
	week := time.Date(2024, 3, 11, 2, 0, 0, 0, time.UTC)
	for i := range 12 {
		evs = append(evs, located("burst"+string(rune('a'+i)), float64(i), 0, week.Add(hours(i))))
	}
	for w := range 9 {
		for k := range 4 {
			evs = append(evs, located("bg"+string(rune('a'+w))+string(rune('a'+k)), float64(k%2)*10000-5000, float64(k/2)*10000-5000, week.AddDate(0, 0, -7*w).Add(hours(30))))
		}
	}
	e.handle(t, evs...)
	// The weekly hot spots are of the complaints where the geocoder
	// located them, as the weekly report's are.
	for _, ev := range evs {
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO locations (complaint_id, located, district, lon, lat, category, received_at)
			VALUES ($1, true, $2, $3, $4, $5, $6)`, ev.ComplaintID, ev.District, ev.Lon, ev.Lat, ev.Category, ev.ReceivedAt); err != nil {
			t.Fatal(err)
		}
	}

	resp := get(t, srv.URL+"/api/v1/hotspots/weekly?week=2024-W11&category=noise", "sup-siming")
	defer resp.Body.Close()
	var wc WeeklyCollection
	if err := json.NewDecoder(resp.Body).Decode(&wc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	if wc.Week != "2024-W11" || wc.Points != 16 || len(wc.Weeks) != 9 {
		t.Errorf("week %s with %d points over %d weeks, want 2024-W11, 16 points, 9 weeks", wc.Week, wc.Points, len(wc.Weeks))
	}
	var hot *CellFeature
	for i, f := range wc.Features {
		if f.Properties.Significant && f.Properties.Count >= 12 {
			hot = &wc.Features[i]
		}
	}
	if hot == nil || hot.Geometry.Type != "Polygon" || hot.Properties.Z <= 0 || hot.Properties.Q > 0.05 {
		t.Errorf("no significant cell holding the burst: %+v", wc.Features)
	}

	resp = get(t, srv.URL+"/api/v1/hotspots/weekly?week=2024-W99&category=noise", "admin")
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("week 2024-W99: status %d, want 400", resp.StatusCode)
	}
}

// The weekly grid is the city's analysis, but a supervisor or an officer
// sees only the cells of their own district; an admin sees the city's. A
// token of no district, or of another role, is refused 403.
func TestWeeklyCellsOfTheTokensDistrict(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cfg := DefaultConfig()
	cfg.Authorize = func(r *http.Request) (auth.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer sup-none":
			return auth.Principal{ID: "s9", Role: auth.RoleSupervisor}, nil
		case "Bearer visitor":
			return auth.Principal{ID: "v1", District: "siming", Role: "visitor"}, nil
		}
		return fakeAuthorize(r)
	}
	s, err := New(cfg, e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// A burst in Siming and one in Huli in the week of 2024-03-11, over a
	// thin background in every week.
	week := time.Date(2024, 3, 11, 2, 0, 0, 0, time.UTC)
	var evs []event.ComplaintLocated
	for i := range 12 {
		evs = append(evs, located(fmt.Sprintf("sm%d", i), float64(i), 0, week.Add(hours(i))),
			inHuli(located(fmt.Sprintf("hl%d", i), float64(i), 0, week.Add(hours(i)))))
	}
	for w := range 9 {
		for k := range 4 {
			evs = append(evs, located(fmt.Sprintf("bg%d-%d", w, k), float64(k%2)*6000-3000, float64(k/2)*6000-3000, week.AddDate(0, 0, -7*w).Add(hours(30))))
		}
	}
	addComplaints(t, e.pool, evs...)
	ds, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if hit, ok := ds.Locate(*ev.Lon, *ev.Lat); ok {
			ev.District = hit.District.Slug
		}
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO locations (complaint_id, located, district, lon, lat, category, received_at)
			VALUES ($1, true, $2, $3, $4, $5, $6)`, ev.ComplaintID, ev.District, ev.Lon, ev.Lat, ev.Category, ev.ReceivedAt); err != nil {
			t.Fatal(err)
		}
	}

	cells := func(token string) map[string]CellFeature {
		t.Helper()
		resp := get(t, srv.URL+"/api/v1/hotspots/weekly?week=2024-W11&category=noise", token)
		defer resp.Body.Close()
		var wc WeeklyCollection
		if err := json.NewDecoder(resp.Body).Decode(&wc); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %v", token, resp.StatusCode, err)
		}
		if wc.Points != 28 {
			t.Errorf("%s: %d points, want the city's 28 of the week", token, wc.Points)
		}
		out := map[string]CellFeature{}
		for _, f := range wc.Features {
			out[f.ID] = f
		}
		return out
	}
	// hot returns the ids of the significant cells with the burst in them.
	hot := func(cs map[string]CellFeature) []string {
		var out []string
		for id, c := range cs {
			if c.Properties.Significant && c.Properties.Count >= 12 {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	city := cells("admin")
	if len(hot(city)) != 2 {
		t.Fatalf("admin sees the burst cells %v, want Siming's and Huli's", hot(city))
	}
	siming, huli := cells("sup-siming"), cells("officer-cg")
	for name, cs := range map[string]map[string]CellFeature{"Siming's supervisor": siming, "Huli's officer": huli} {
		if len(hot(cs)) != 1 {
			t.Errorf("%s sees the burst cells %v, want their district's only", name, hot(cs))
		}
		for id := range cs {
			if _, ok := city[id]; !ok {
				t.Errorf("%s sees cell %s, which the city has not", name, id)
			}
		}
	}
	if hs, hh := hot(siming), hot(huli); len(hs) == 1 && len(hh) == 1 && hs[0] == hh[0] {
		t.Errorf("Siming and Huli see the same burst cell %s", hs[0])
	}
	if got := cells("officer-eco"); !maps.Equal(mapKeys(got), mapKeys(siming)) {
		t.Errorf("Siming's officer sees cells %v, want Siming's supervisor's %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(siming)))
	}

	for _, token := range []string{"sup-none", "visitor"} {
		resp := get(t, srv.URL+"/api/v1/hotspots/weekly?week=2024-W11&category=noise", token)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: status %d %s, want 403 problem+json", token, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func mapKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
