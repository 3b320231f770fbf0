package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/place"
)

func setup(t *testing.T, opts ...Option) (*Engine, *MemStore) {
	t.Helper()
	s := NewMemStore()
	return NewEngine(testConfig(30*day, 48*time.Hour), s, opts...), s
}

func kinds(cs []Change) []ChangeKind {
	var out []ChangeKind
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

func TestJoin(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	r1 := mustAdd(t, e, s, at("c1", 0, 0, days0(0)))
	r2 := mustAdd(t, e, s, at("c2", 60, 0, days0(1)))
	if r1.HotspotID != "" || r2.HotspotID != "" || len(r2.Changes) != 0 {
		t.Fatalf("two complaints made a hotspot: %+v", r2)
	}
	r3 := mustAdd(t, e, s, at("c3", 0, 70, days0(2)))
	if r3.HotspotID != "hs_c1" {
		t.Fatalf("third complaint: hotspot %q, want hs_c1 (the earliest core)", r3.HotspotID)
	}
	if got := kinds(r3.Changes); !slices.Equal(got, []ChangeKind{ChangeOpened}) {
		t.Fatalf("changes %v, want opened", got)
	}
	if len(r3.Members) != 3 {
		t.Fatalf("members %d, want all three labelled", len(r3.Members))
	}
	h := r3.Hotspots[0]
	if h.Count != 3 || h.Status != StatusEmerging || !h.FirstAt.Equal(days0(0)) || !h.LastAt.Equal(days0(2)) || h.Lon == nil {
		t.Fatalf("hotspot record %+v", h)
	}
	r4 := mustAdd(t, e, s, at("c4", 30, 30, days0(3)))
	if r4.HotspotID != "hs_c1" || r4.Hotspots[0].Status != StatusActive || r4.Hotspots[0].Count != 4 {
		t.Fatalf("fourth complaint: %+v", r4)
	}
	if got := kinds(r4.Changes); !slices.Equal(got, []ChangeKind{ChangeUpdated}) {
		t.Fatalf("changes %v, want updated", got)
	}
	// Far away in space or time: no neighbour.
	if r := mustAdd(t, e, s, at("far", 2000, 0, days0(3))); r.HotspotID != "" {
		t.Fatalf("far complaint joined %s", r.HotspotID)
	}
	if r := mustAdd(t, e, s, at("old", 0, 0, days0(-40))); r.HotspotID != "" {
		t.Fatalf("complaint 40 days before joined %s", r.HotspotID)
	}
}

func TestBorderPointSparseChain(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	// A chain 140 m apart: every point has two neighbours at most, so with
	// min count 3 only the inner ones are core and they link; a chain of
	// points 200 m apart makes no hotspot at all.
	for i := range 6 {
		mustAdd(t, e, s, at(string(rune('a'+i)), float64(i)*200, 0, days0(float64(i))))
	}
	if got := storePartition(s); len(got) != 0 {
		t.Fatalf("sparse chain made hotspots %v", got)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for i, p := range []Point{
		at("a1", 0, 0, days0(0)), at("a2", 20, 0, days0(1)), at("a3", 0, 20, days0(2)),
		at("b1", 260, 0, days0(0.5)), at("b2", 280, 0, days0(1.5)), at("b3", 260, 20, days0(2.5)),
	} {
		if r := mustAdd(t, e, s, p); i%3 == 2 && len(r.Changes) != 1 {
			t.Fatalf("%s: changes %+v", p.ID, r.Changes)
		}
	}
	if got := storePartition(s); len(got) != 2 {
		t.Fatalf("before the bridge: %v, want two hotspots", got)
	}
	r := mustAdd(t, e, s, at("x", 130, 0, days0(3)))
	if r.HotspotID != "hs_a1" {
		t.Fatalf("bridge joined %q, want the survivor hs_a1 (sizes equal: earliest member)", r.HotspotID)
	}
	var merged *Change
	for i := range r.Changes {
		if r.Changes[i].Kind == ChangeMerged {
			merged = &r.Changes[i]
		}
	}
	if merged == nil || merged.HotspotID != "hs_a1" || !slices.Equal(merged.Absorbed, []string{"hs_b1"}) || merged.Count != 7 {
		t.Fatalf("merge change %+v in %+v", merged, r.Changes)
	}
	moved := 0
	for _, m := range r.Members {
		if m.ID[0] == 'b' && m.HotspotID == "hs_a1" {
			moved++
		}
	}
	if moved != 3 {
		t.Fatalf("%d absorbed members relabelled, want 3: %+v", moved, r.Members)
	}
	var absorbed Hotspot
	for _, h := range r.Hotspots {
		if h.ID == "hs_b1" {
			absorbed = h
		}
	}
	if absorbed.Status != StatusMerged || absorbed.MergedInto != "hs_a1" {
		t.Fatalf("absorbed record %+v", absorbed)
	}
	if got := storePartition(s); len(got) != 1 {
		t.Fatalf("after the bridge: %v, want one hotspot", got)
	}
}

// TestMergeKeepsTheLargerHotspot bridges a small early hotspot and a larger
// later one: the larger survives, and only the smaller one's members are
// relabelled, in the Result and in the store.
func TestMergeKeepsTheLargerHotspot(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for _, p := range []Point{
		at("a1", 0, 0, days0(0)), at("a2", 20, 0, days0(1)), at("a3", 0, 20, days0(2)),
		at("b1", 260, 0, days0(0.5)), at("b2", 280, 0, days0(1.5)), at("b3", 260, 20, days0(2.5)),
		at("b4", 270, 10, days0(2.6)), at("b5", 280, 20, days0(2.7)),
	} {
		mustAdd(t, e, s, p)
	}
	r := mustAdd(t, e, s, at("x", 130, 0, days0(3)))
	if r.HotspotID != "hs_b1" {
		t.Fatalf("bridge joined %q, want the larger hs_b1", r.HotspotID)
	}
	relabelled := map[string]bool{}
	for _, m := range r.Members {
		if m.ID != "x" {
			relabelled[m.ID] = true
		}
		if m.HotspotID != "hs_b1" {
			t.Errorf("member %s in %q", m.ID, m.HotspotID)
		}
	}
	if want := map[string]bool{"a1": true, "a2": true, "a3": true}; !maps.Equal(relabelled, want) {
		t.Fatalf("relabelled %v, want only the smaller hotspot's %v", relabelled, want)
	}
	var merged *Change
	for i := range r.Changes {
		if r.Changes[i].Kind == ChangeMerged {
			merged = &r.Changes[i]
		}
	}
	if merged == nil || merged.HotspotID != "hs_b1" || !slices.Equal(merged.Absorbed, []string{"hs_a1"}) || merged.Count != 9 {
		t.Fatalf("merge change %+v in %+v", merged, r.Changes)
	}
	if h, ok := e.Hotspot("hs_b1"); !ok || !h.FirstAt.Equal(days0(0)) {
		t.Fatalf("survivor %+v: want the absorbed hotspot's first complaint", h)
	}
	if got := storePartition(s); len(got) != 1 {
		t.Fatalf("after the bridge: %v, want one hotspot", got)
	}
}

// unlocated is a noise complaint in Siming whose address gave no point.
func unlocated(id, key string, d float64) Point {
	return Point{ID: id, Category: "noise", District: "siming", PlaceKey: key, At: days0(d)}
}

func TestPlaceKeyWithoutCoordinates(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	mustAdd(t, e, s, unlocated("k1", "思明区湖滨南路100号", 0))
	mustAdd(t, e, s, unlocated("k2", "思明区湖滨南路100号", 1))
	mustAdd(t, e, s, unlocated("x1", "思明区湖滨南路102号", 1))
	located := at("k3", 0, 0, days0(2))
	located.PlaceKey = "思明区湖滨南路100号"
	r := mustAdd(t, e, s, located)
	// The complaints without a point count towards the place's density,
	// and the one with a point is its core: for the complaints without a
	// point, only each other count (see
	// TestAComplaintWithoutAPointBridgesNoSites).
	if r.HotspotID != "hs_k3" || r.Hotspots[0].Count != 3 {
		t.Fatalf("same place key: %+v", r)
	}
	for _, m := range s.Members() {
		if m.ID == "x1" && m.HotspotID != "" {
			t.Fatalf("another address joined the hotspot")
		}
	}
}

// One place key can name two places: the rest of "集美街道旁的在建工地" and
// of "后溪镇旁的在建工地" is the same "旁的在建工地". Complaints with points
// farther apart than place.KeyReach are not at the same place by their
// key, and their sites stay two hotspots; nearer, the key joins them.
func TestOnePlaceKeyFarApartIsTwoPlaces(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	site := func(id string, east float64, d float64) Point {
		p := at(id, east, 0, days0(d))
		p.PlaceKey = "旁的在建工地"
		return p
	}
	for i, east := range []float64{0, 5000, 0, 5000, 0, 5000} {
		mustAdd(t, e, s, site(fmt.Sprintf("k%d", i+1), east+float64(i), float64(i)))
	}
	if got := storePartition(s); len(got) != 2 || !equalParts(got, []string{"k1,k3,k5", "k2,k4,k6"}) {
		t.Fatalf("sites 5 km apart with one key: %v, want two hotspots of three", got)
	}
	near := site("k7", place.KeyReach-100, 7)
	near2 := site("k8", place.KeyReach-100, 8)
	mustAdd(t, e, s, near)
	r := mustAdd(t, e, s, near2)
	if r.HotspotID != "hs_k1" {
		t.Fatalf("complaints %.0f m from a site with its key: hotspot %q, want hs_k1", place.KeyReach-100, r.HotspotID)
	}
}

// keyed is a complaint east metres from the origin on day d, naming key.
func keyed(id, key string, east, d float64) Point {
	p := at(id, east, 0, days0(d))
	p.PlaceKey = key
	return p
}

// recorder adds complaints to engines over the store s and keeps every
// hotspot's latest record, for an engine to restore from.
func recorder(t *testing.T, s *MemStore) (add func(*Engine, Point), recs func() []Hotspot) {
	t.Helper()
	m := map[string]Hotspot{}
	add = func(e *Engine, p Point) {
		for _, h := range mustAdd(t, e, s, p).Hotspots {
			m[h.ID] = h
		}
	}
	return add, func() []Hotspot { return slices.Collect(maps.Values(m)) }
}

// A complaint without a point is at every place its key names: "地铁3号线
// 施工工地" is a site on each stretch of the line. It counts towards the
// density of each, and joins one; the sites' complaints with points do
// not count for it, so it does not become a core point through which the
// sites would become one hotspot.
func TestAComplaintWithoutAPointBridgesNoSites(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	const key = "地铁3号线施工工地"
	site := func(id string, east float64, d float64) Point { return keyed(id, key, east, d) }
	add, recs := recorder(t, s)
	for i, east := range []float64{0, 5000, 0, 5000} {
		add(e, site(fmt.Sprintf("k%d", i+1), east+float64(i), float64(i)))
	}
	add(e, unlocated("n1", key, 4))
	add(e, unlocated("n2", key, 5))
	apart := func(when string, want int) {
		t.Helper()
		parts := storePartition(s)
		if len(parts) != 2 {
			t.Fatalf("%s: two sites 5 km apart and two complaints naming both without a point: %v, want two hotspots", when, parts)
		}
		for _, part := range parts {
			if strings.Contains(part, "k1") == strings.Contains(part, "k2") {
				t.Fatalf("%s: hotspots %v: want the sites apart", when, parts)
			}
		}
		if n := len(strings.Split(parts[0], ",")) + len(strings.Split(parts[1], ",")); n != want {
			t.Fatalf("%s: hotspots %v hold %d complaints, want all %d", when, parts, n, want)
		}
	}
	apart("as they came", 6)
	// An engine restored from the store judges them by the same rule:
	// the next complaint at each site joins its own.
	e2 := NewEngine(e.cfg, s)
	if err := e2.Restore(s.Members(), recs()); err != nil {
		t.Fatal(err)
	}
	add(e2, site("k5", 10, 6))
	add(e2, site("k6", 5010, 7))
	apart("after a restore", 8)
}

// A key that describes a place from a road or a sub-district ("a
// construction site beside Guankou town") fits sites kilometres apart: it
// links complaints without a point to each other, and nothing else.
func TestAVagueKeyLinksNoSites(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	const key = "jimei/灌口镇旁的在建工地"
	site := func(id string, east float64, d float64) Point { return keyed(id, key, east, d) }
	add, recs := recorder(t, s)
	// Two sites 1.5 km apart: one key within place.KeyReach would make
	// them one place.
	add(e, site("a1", 0, 0))
	add(e, site("b1", 1500, 1))
	add(e, site("a2", 5, 2))
	add(e, site("b2", 1505, 3))
	if got := storePartition(s); len(got) != 0 {
		t.Fatalf("two complaints at each of two sites named alike: hotspots %v, want none", got)
	}
	add(e, site("a3", 10, 4))
	for i := range 3 {
		add(e, unlocated(fmt.Sprintf("n%d", i+1), key, float64(5+i)))
	}
	if got, want := storePartition(s), []string{"a1,a2,a3", "n1,n2,n3"}; !equalParts(got, want) {
		t.Fatalf("hotspots %v, want %v: the site, and the complaints without a point apart from it", got, want)
	}
	// An engine restored from the store judges them by the same rule.
	e2 := NewEngine(e.cfg, s)
	if err := e2.Restore(s.Members(), recs()); err != nil {
		t.Fatal(err)
	}
	add(e2, site("b3", 1510, 8))
	if got, want := storePartition(s), []string{"a1,a2,a3", "b1,b2,b3", "n1,n2,n3"}; !equalParts(got, want) {
		t.Fatalf("after a restore: hotspots %v, want %v", got, want)
	}
}

// A place that only complaints without a point name is a hotspot once
// enough of them name it: they count for each other.
func TestAPlaceNamedOnlyWithoutPointsIsAHotspot(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for i, p := range []Point{
		unlocated("a1", "思明区湖滨南路100号", 0),
		unlocated("a2", "思明区湖滨南路100号", 1),
		unlocated("b1", "思明区湖滨南路102号", 1),
	} {
		if r := mustAdd(t, e, s, p); r.HotspotID != "" {
			t.Fatalf("complaint %d of an address without a point is in hotspot %s", i+1, r.HotspotID)
		}
	}
	r := mustAdd(t, e, s, unlocated("a3", "思明区湖滨南路100号", 2))
	if r.HotspotID != "hs_a1" || len(r.Hotspots) != 1 || r.Hotspots[0].Count != 3 {
		t.Fatalf("three complaints naming one address without a point: %+v", r)
	}
	if got := storePartition(s); !equalParts(got, []string{"a1,a2,a3"}) {
		t.Fatalf("hotspots %v, want a1,a2,a3", got)
	}
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for _, p := range []Point{at("c1", 0, 0, days0(0)), at("c2", 10, 0, days0(1)), at("c3", 0, 10, days0(2))} {
		mustAdd(t, e, s, p)
	}
	before := storePartition(s)
	h, _ := e.Hotspot("hs_c1")
	r := mustAdd(t, e, s, at("c2", 10, 0, days0(1)))
	if r.HotspotID != "hs_c1" || len(r.Members) != 0 || len(r.Changes) != 0 || len(r.Hotspots) != 0 {
		t.Fatalf("second add changed something: %+v", r)
	}
	after, _ := e.Hotspot("hs_c1")
	if h.Count != after.Count || !equalParts(before, storePartition(s)) {
		t.Fatalf("count %d -> %d", h.Count, after.Count)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	status := func() Status {
		h, ok := e.Hotspot("hs_c0")
		if !ok {
			t.Fatal("hotspot hs_c0 missing")
		}
		return h.Status
	}
	for i := range 3 {
		mustAdd(t, e, s, at("c"+string(rune('0'+i)), float64(i)*10, 0, days0(float64(i)*3)))
	}
	if st := status(); st != StatusEmerging {
		t.Fatalf("at min count: %s", st)
	}
	mustAdd(t, e, s, at("c3", 0, 5, days0(9)))
	if st := status(); st != StatusActive {
		t.Fatalf("next complaint: %s", st)
	}
	steps := []struct {
		now  float64
		want Status
		kind ChangeKind
	}{
		{12, StatusActive, ""},
		{16, StatusCooling, ChangeCooled},
		{17, StatusCooling, ""},
		{39, StatusClosed, ChangeClosed},
		{50, StatusClosed, ""},
	}
	for _, st := range steps {
		cs := e.Tick(days0(st.now))
		if got := status(); got != st.want {
			t.Fatalf("tick day %v: %s, want %s", st.now, got, st.want)
		}
		if (st.kind == "") != (len(cs) == 0) || (len(cs) > 0 && (cs[0].Kind != st.kind || cs[0].HotspotID != "hs_c0")) {
			t.Fatalf("tick day %v: changes %+v", st.now, cs)
		}
	}
	// A complaint wakes a cooling hotspot: start again from cooling.
	mustAdd(t, e, s, at("c4", 5, 5, days0(20)))
	e.Tick(days0(28))
	if st := status(); st != StatusCooling {
		t.Fatalf("before waking: %s", st)
	}
	r := mustAdd(t, e, s, at("c5", 5, 0, days0(29)))
	if st := status(); st != StatusActive || !slices.Equal(kinds(r.Changes), []ChangeKind{ChangeUpdated}) {
		t.Fatalf("woken: %s %v", st, kinds(r.Changes))
	}
	// Six complaints within seven days escalate: c5 and five more.
	var last Result
	for i := range 5 {
		last = mustAdd(t, e, s, at("e"+string(rune('0'+i)), 0, float64(i), days0(30+float64(i))))
		if st := status(); i < 4 && st != StatusActive {
			t.Fatalf("%d complaints in a week: %s", i+2, st)
		}
	}
	if st := status(); st != StatusEscalated || !slices.Contains(kinds(last.Changes), ChangeEscalated) {
		t.Fatalf("burst: %s %v", st, kinds(last.Changes))
	}
}

func TestRepeatAfterResolved(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for i := range 4 {
		mustAdd(t, e, s, at("c"+string(rune('0'+i)), float64(i)*10, 0, days0(float64(i)*3)))
	}
	if err := e.MarkResolved("hs_c0", days0(10)); err != nil {
		t.Fatal(err)
	}
	if err := e.MarkResolved("hs_nope", days0(10)); !errors.Is(err, ErrUnknownHotspot) {
		t.Fatalf("unknown hotspot: %v", err)
	}
	r := mustAdd(t, e, s, at("repeat", 5, 5, days0(12)))
	if !slices.Equal(kinds(r.Changes), []ChangeKind{ChangeEscalated}) || r.Hotspots[0].Status != StatusEscalated {
		t.Fatalf("repeat after close-out: %+v", r.Changes)
	}
}

func TestDistricts(t *testing.T) {
	t.Parallel()
	e, s := setup(t, WithDistricts("siming"))
	p := at("h1", 0, 0, days0(0))
	p.District = "huli"
	if _, err := e.Add(context.Background(), p); !errors.Is(err, ErrOtherDistrict) {
		t.Fatalf("other district: %v", err)
	}
	// Same spot, two districts: never one hotspot.
	all, s2 := setup(t)
	for i := range 4 {
		q := at("p"+string(rune('0'+i)), float64(i), 0, days0(float64(i)))
		if i%2 == 1 {
			q.District = "huli"
		}
		mustAdd(t, all, s2, q)
	}
	if got := storePartition(s2); len(got) != 0 {
		t.Fatalf("hotspot across districts: %v", got)
	}
	_ = s
}

func TestInvalidPoints(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	lon := 118.1
	cases := map[string]Point{
		"no id":        {Category: "noise", At: t0},
		"no time":      {ID: "x", Category: "noise"},
		"unknown cat":  {ID: "x", Category: "smell", At: t0},
		"half a point": {ID: "x", Category: "noise", At: t0, Lon: &lon},
	}
	for name, p := range cases {
		if _, err := e.Add(context.Background(), p); !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSeedConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	for cat, r := range map[string]float64{"noise": 150, "cooking_smoke": 100, "dust": 300} {
		cc := cfg.Categories[cat]
		if cc.RadiusM != r || cc.Window != 30*day || cc.MinCount != 3 || cc.Cooling != 7*day || cc.Close != 30*day {
			t.Errorf("%s: %+v", cat, cc.Params)
		}
	}
	// The seed spaces every subcategory like its category: wider radii
	// turned chance coincidences into hotspots (see eval_test.go).
	for cat, cc := range cfg.Categories {
		if len(cc.Subcategories) != 0 {
			t.Errorf("%s: seed overrides subcategories %v", cat, cc.Subcategories)
		}
	}
	over, err := ParseConfig([]byte(`{"categories":{"noise":{"radius_m":150,"window_days":30,"min_count":3,"escalate_count":6,"escalate_days":7,"cooling_days":7,"close_days":30,"subcategories":{"construction":{"radius_m":200}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := over.Categories["noise"].Sub("construction"); got.RadiusM != 200 || got.MinCount != 3 || got.Window != 30*day {
		t.Errorf("construction override: %+v", got)
	}
	if got := over.Categories["noise"].Sub("traffic"); got.RadiusM != 150 {
		t.Errorf("subcategory without override: %+v", got)
	}
	bad := []string{
		`{"categories":{}}`,
		`{"categories":{"noise":{"radius_m":0,"window_days":30,"min_count":3,"escalate_count":6,"escalate_days":7,"cooling_days":7,"close_days":30}}}`,
		`{"categories":{"noise":{"radius_m":100,"window_days":30,"min_count":3,"escalate_count":6,"escalate_days":7,"cooling_days":30,"close_days":7}}}`,
		`{"categories":{"noise":{"radius_m":100,"window_days":30,"min_count":3,"escalate_count":6,"escalate_days":7,"cooling_days":7,"close_days":30,"subcategories":{"x":{"min_count":1}}}}}`,
		`{"typo":1}`,
	}
	for _, b := range bad {
		if _, err := ParseConfig([]byte(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
}

func TestDueTransitionsApplyOnlyToTheRecordTheyJudged(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for i := range 4 {
		mustAdd(t, e, s, at("c"+string(rune('0'+i)), float64(i)*10, 0, days0(float64(i)*3)))
	}
	before, _ := e.Hotspot("hs_c0")
	due := e.Due(days0(16))
	if len(due) != 1 || due[0].Kind != ChangeCooled || due[0].From.Status != StatusActive || due[0].From.Count != 4 {
		t.Fatalf("due at day 16: %+v", due)
	}
	if h, _ := e.Hotspot("hs_c0"); h.Status != before.Status {
		t.Fatalf("Due changed the status: %s, was %s", h.Status, before.Status)
	}
	// A complaint comes before the transition is applied: it no longer
	// applies, and the hotspot stays as the complaint left it.
	mustAdd(t, e, s, at("c4", 5, 5, days0(15)))
	if e.Apply(due[0]) {
		t.Fatal("a transition applied to a hotspot a complaint changed since it was judged")
	}
	if h, _ := e.Hotspot("hs_c0"); h.Status != StatusActive || h.Count != 5 {
		t.Fatalf("after the refused transition: %s with %d", h.Status, h.Count)
	}
	// Judged again, it applies.
	due = e.Due(days0(23))
	if len(due) != 1 || !e.Apply(due[0]) {
		t.Fatalf("due at day 23: %+v", due)
	}
	if h, _ := e.Hotspot("hs_c0"); h.Status != StatusCooling {
		t.Fatalf("after the transition: %s", h.Status)
	}
	if e.Apply(due[0]) {
		t.Error("a transition applied twice")
	}
}

// A late complaint at a hotspot the engine has forgotten (closed, and
// quiet for longer than it keeps) joins the stored record: the loaded
// members are only those near the complaint in space and time, and a
// record rebuilt from them alone would lose the others.
func TestLateComplaintAtAForgottenHotspotKeepsItsRecord(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	var hs string
	for i := 0; i <= 30; i++ {
		hs = mustAdd(t, e, s, at(fmt.Sprintf("a%02d", i), float64(i%3)*10, 0, days0(float64(i*5)))).HotspotID
	}
	stored, _ := e.Hotspot(hs)
	if stored.Count != 31 || !stored.LastAt.Equal(days0(150)) {
		t.Fatalf("hotspot before: %d complaints, last %v", stored.Count, stored.LastAt)
	}
	for d := 300; d <= 420; d++ {
		mustAdd(t, e, s, at(fmt.Sprintf("far%03d", d), 50000, float64(d%7)*3000, days0(float64(d))))
		if d == 300 {
			s.ApplyChanges(e.Tick(days0(300)))
		}
	}
	if _, ok := e.Hotspot(hs); ok {
		t.Fatal("the hotspot is still in memory; the test needs it forgotten")
	}
	r := mustAdd(t, e, s, at("late", 5, 0, days0(3)))
	if r.HotspotID != hs {
		t.Fatalf("the late complaint joined %q, want %s", r.HotspotID, hs)
	}
	var got Hotspot
	for _, h := range r.Hotspots {
		if h.ID == hs {
			got = h
		}
	}
	if got.Count != 32 || !got.FirstAt.Equal(days0(0)) || !got.LastAt.Equal(days0(150)) || got.Status != StatusClosed {
		t.Errorf("record after the late complaint: %s, %d complaints, %v to %v; want closed, 32, %v to %v",
			got.Status, got.Count, got.FirstAt, got.LastAt, days0(0), days0(150))
	}
}
