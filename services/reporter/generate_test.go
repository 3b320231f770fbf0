package reporter

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestGenerateGolden(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	seed(t, pool)
	r, err := Generate(context.Background(), pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Render(r, f, &buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", fixtureWeek+"."+f)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s; run go test -run TestGenerateGolden -update and review the diff", f, path)
			}
		})
	}
}

func TestGenerateCountsMatchSeedAndSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	fx := seed(t, pool)
	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}

	// Direct SQL counts over the week.
	var sqlTotal, sqlPrev int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE received_at >= $1), count(*) FILTER (WHERE received_at < $1)
		FROM complaints WHERE received_at >= $1::timestamptz - interval '7 days' AND received_at < $2`, r.Start, r.End).Scan(&sqlTotal, &sqlPrev); err != nil {
		t.Fatal(err)
	}
	sqlCat := map[string]int{}
	rows, err := pool.Query(ctx, `SELECT l.category, count(*) FROM complaints c JOIN locations l ON l.complaint_id = c.id
		WHERE c.received_at >= $1 AND c.received_at < $2 AND l.category IS NOT NULL GROUP BY 1`, r.Start, r.End)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			t.Fatal(err)
		}
		sqlCat[c] += n
	}
	rows.Close()
	sqlDist := map[string]int{}
	rows, err = pool.Query(ctx, `SELECT l.district, count(*) FROM locations l JOIN complaints c ON c.id = l.complaint_id
		WHERE l.located AND c.received_at >= $1 AND c.received_at < $2 GROUP BY 1`, r.Start, r.End)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			t.Fatal(err)
		}
		sqlDist[d] = n
	}
	rows.Close()
	var signDue, signOK, resDue, resOK, overdue int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM cases WHERE sign_due >= $1 AND sign_due < $2),
		(SELECT count(*) FROM cases WHERE sign_due >= $1 AND sign_due < $2 AND accepted_at <= sign_due),
		(SELECT count(*) FROM cases WHERE resolve_due >= $1 AND resolve_due < $2),
		(SELECT count(*) FROM cases WHERE resolve_due >= $1 AND resolve_due < $2 AND COALESCE(resolved_at, closed_at) <= resolve_due),
		(SELECT count(*) FROM cases WHERE resolve_due < $2 AND (COALESCE(resolved_at, closed_at) IS NULL OR COALESCE(resolved_at, closed_at) > $2))`,
		r.Start, r.End).Scan(&signDue, &signOK, &resDue, &resOK, &overdue); err != nil {
		t.Fatal(err)
	}

	checks := []struct {
		name           string
		got, seed, sql int
	}{
		{"total", r.Total, fx.total, sqlTotal},
		{"previous total", r.PreviousTotal, fx.prevTotal, sqlPrev},
		{"sign due", r.Timeliness.Sign.Due, 3, signDue},
		{"signed on time", r.Timeliness.Sign.OnTime, 1, signOK},
		{"resolve due", r.Timeliness.Resolve.Due, 3, resDue},
		{"resolved on time", r.Timeliness.Resolve.OnTime, 2, resOK},
		{"overdue", r.Timeliness.OverdueTotal, 2, overdue},
		{"escalations", len(r.Timeliness.Escalations), 2, 2},
		{"extensions", len(r.Timeliness.Extensions), 1, 1},
		{"in hotspots", r.Repeat.InHotspots, fx.inHotspots, fx.inHotspots},
		{"repeats", r.Repeat.Repeats, fx.repeats, fx.repeats},
	}
	for _, c := range report.Categories {
		checks = append(checks, struct {
			name           string
			got, seed, sql int
		}{"category " + c, r.ByCategory[c], fx.byCategory[c], sqlCat[c]})
	}
	for _, d := range []string{"siming", "haicang", "huli", "jimei", "tongan", "xiangan"} {
		checks = append(checks, struct {
			name           string
			got, seed, sql int
		}{"district " + d, r.ByDistrict[d], fx.byDistrict[d], sqlDist[d]})
	}
	for _, c := range checks {
		if c.got != c.seed || c.got != c.sql {
			t.Errorf("%s: report %d, seeded %d, SQL %d", c.name, c.got, c.seed, c.sql)
		}
	}
	// An extension says by how much: the deadline replaced and the one granted.
	if len(r.Timeliness.Extensions) == 1 {
		e := r.Timeliness.Extensions[0]
		wantBefore, wantAfter := at(t, fixtureWeek, 4, 17), at(t, "2024-W12", 1, 17)
		if e.CaseID != "case-2" || e.DueBefore == nil || !e.DueBefore.Equal(wantBefore) || e.DueAfter == nil || !e.DueAfter.Equal(wantAfter) {
			t.Errorf("extension %+v, want case-2 moved from %s to %s", e, wantBefore, wantAfter)
		}
	}
	// An escalation says which deadline passed, and when.
	wantEscalations := map[string]struct {
		deadline string
		due      time.Time
	}{
		"case-3": {"resolve", at(t, "2024-W10", 4, 17)},
		"case-5": {"sign", at(t, fixtureWeek, 3, 17)},
	}
	for _, e := range r.Timeliness.Escalations {
		want, ok := wantEscalations[e.CaseID]
		if !ok || e.Deadline != want.deadline || e.DueBefore == nil || !e.DueBefore.Equal(want.due) || e.DueAfter != nil {
			t.Errorf("escalation %+v, want the %s deadline of %s", e, want.deadline, want.due)
		}
	}
	if r.Total == 0 || r.Unclassified == 0 || r.Unlocated == 0 {
		t.Fatalf("fixture too thin: total %d, unclassified %d, unlocated %d", r.Total, r.Unclassified, r.Unlocated)
	}
	sumCat, sumDist := r.Unclassified, r.Unlocated
	for _, n := range r.ByCategory {
		sumCat += n
	}
	for _, n := range r.ByDistrict {
		sumDist += n
	}
	if sumCat != r.Total || sumDist != r.Total || r.Unclassified != fx.unclassified || r.Unlocated != fx.unlocated {
		t.Errorf("categories %d + unclassified %d and districts %d + unlocated %d do not add up to total %d",
			sumCat-r.Unclassified, r.Unclassified, sumDist-r.Unlocated, r.Unlocated, r.Total)
	}
	daySum := 0
	for _, d := range r.Daily {
		if d.InWeek {
			daySum += d.Total
		}
	}
	if len(r.Daily) != TrendDays || daySum != r.Total {
		t.Errorf("daily: %d days summing to %d in the week, want %d days summing to %d", len(r.Daily), daySum, TrendDays, r.Total)
	}

	// Category × district with the change from the week before; the
	// category's complaints in no district have their own row.
	for _, cs := range r.Categories {
		k := [2]string{cs.Category, ""}
		if cs.Unlocated.Count != fx.catDistrict[k] || cs.Unlocated.Previous != fx.prevCatDist[k] {
			t.Errorf("%s unlocated: %d (previous %d), seeded %d (previous %d)", cs.Category,
				cs.Unlocated.Count, cs.Unlocated.Previous, fx.catDistrict[k], fx.prevCatDist[k])
		}
		for _, d := range cs.Districts {
			k := [2]string{cs.Category, d.District}
			if d.Count.Count != fx.catDistrict[k] || d.Previous != fx.prevCatDist[k] || d.Change != fx.catDistrict[k]-fx.prevCatDist[k] {
				t.Errorf("%s in %s: %d (previous %d, change %d), seeded %d (previous %d)", cs.Category, d.District,
					d.Count.Count, d.Previous, d.Change, fx.catDistrict[k], fx.prevCatDist[k])
			}
		}
	}

	// Hotspots: trend, counts, and the merged and quiet ones left out.
	wantTrend := map[string]string{
		"hs-growing": report.TrendGrowing, "hs-new": report.TrendNew, "hs-persistent": report.TrendPersistent,
		"hs-cooled": report.TrendResolved, "hs-resolved": report.TrendResolved,
	}
	got := map[string]report.Hotspot{}
	for _, h := range r.Hotspots {
		got[h.ID] = h
	}
	if len(got) != len(wantTrend) {
		t.Errorf("hotspots %v, want exactly %v", keys(got), wantTrend)
	}
	for id, trend := range wantTrend {
		h, ok := got[id]
		if !ok {
			continue
		}
		if h.Trend != trend || h.WeekCount != fx.hotspotWeek[id] {
			t.Errorf("hotspot %s: trend %s, %d this week; want %s, %d", id, h.Trend, h.WeekCount, trend, fx.hotspotWeek[id])
		}
	}
	if h := got["hs-growing"]; h.CaseID != "case-1" || h.TeamName != "思明区城市管理综合执法大队" || h.TotalCount != 15 || h.PreviousCount != 3 {
		t.Errorf("hs-growing: case %q team %q total %d previous %d", h.CaseID, h.TeamName, h.TotalCount, h.PreviousCount)
	}
	// The plan's priority kinds in their districts first (hs-new, road
	// dust in Xiang'an; hs-persistent, social-life noise in Huli), then
	// the others, each by this week's count.
	for i := 1; i < len(r.Hotspots); i++ {
		a, b := r.Hotspots[i-1], r.Hotspots[i]
		if b.Priority && !a.Priority || a.Priority == b.Priority && b.WeekCount > a.WeekCount {
			t.Errorf("hotspots not ordered priority first, then by this week's count: %s after %s", b.ID, a.ID)
		}
	}
	var order []string
	for _, h := range r.Hotspots {
		order = append(order, h.ID)
	}
	if want := []string{"hs-new", "hs-persistent", "hs-growing"}; len(order) < 3 || !slices.Equal(order[:3], want) {
		t.Errorf("hotspots in order %v, want %v first", order, want)
	}
	for _, h := range r.Hotspots {
		if want := h.ID == "hs-new" || h.ID == "hs-persistent"; h.Priority != want {
			t.Errorf("hotspot %s marked priority %v, want %v", h.ID, h.Priority, want)
		}
	}

	// Priority districts first, in the plan's order.
	wantOrder := map[string][]string{
		"noise":         {"siming", "huli", "jimei"},
		"dust":          {"xiangan", "tongan", "jimei"},
		"cooking_smoke": {"siming", "haicang", "huli"},
	}
	for _, cs := range r.Categories {
		for i, d := range wantOrder[cs.Category] {
			if cs.Districts[i].District != d || cs.Districts[i].Priority != (cs.Category != "cooking_smoke") {
				t.Errorf("%s: district %d is %s (priority %v), want %s", cs.Category, i, cs.Districts[i].District, cs.Districts[i].Priority, d)
			}
		}
	}

	// The planted noise hotspot is a significant Gi* cell.
	foundCell := false
	for _, g := range r.Gistar {
		if g.Category != "noise" {
			continue
		}
		for _, c := range g.Cells {
			if c.Count >= 7 {
				foundCell = true
			}
		}
	}
	if !foundCell {
		t.Errorf("no significant noise Gi* cell with the planted hotspot's complaints: %+v", r.Gistar)
	}

	// Overdue at the week's end: case-3 (since last week) and case-4
	// (resolved only next week, shown as it stood then).
	if len(r.Timeliness.Overdue) != 2 || r.Timeliness.Overdue[0].CaseID != "case-3" || r.Timeliness.Overdue[1].CaseID != "case-4" ||
		r.Timeliness.Overdue[1].Status != "accepted" {
		t.Errorf("overdue %+v, want case-3 then case-4 (accepted)", r.Timeliness.Overdue)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestGenerateOutputsValidAndPrivate(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	seed(t, pool)
	r, err := Generate(context.Background(), pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range report.Formats {
		var buf bytes.Buffer
		if err := Render(r, f, &buf); err != nil {
			t.Fatal(err)
		}
		out[f] = buf.Bytes()
		for _, secret := range []string{callerName, callerPhone, "来电人", "回访"} {
			if bytes.Contains(buf.Bytes(), []byte(secret)) {
				t.Errorf("%s output contains personal data %q", f, secret)
			}
		}
	}
	sch, err := schemas.Get("report.weekly.v1")
	if err != nil {
		t.Fatal(err)
	}
	fe, err := schemas.Validate(sch, out["json"])
	if err != nil || fe != nil {
		t.Errorf("JSON report does not validate: %v %v", err, fe)
	}
	var doc map[string]any
	if err := json.Unmarshal(out["json"], &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"week", "total", "by_category", "by_district", "hotspots", "timeliness"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out["csv"], []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(r.Hotspots)+1 || recs[0][1] != "hotspot_id" {
		t.Errorf("CSV has %d rows, want a header and %d hotspots", len(recs), len(r.Hotspots))
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			ID       string `json:"id"`
			Geometry struct {
				Type        string     `json:"type"`
				Coordinates [2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(out["geojson"], &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != len(r.Hotspots) {
		t.Fatalf("GeoJSON %s with %d features, want %d hotspots", fc.Type, len(fc.Features), len(r.Hotspots))
	}
	for i, f := range fc.Features {
		h := r.Hotspots[i]
		if f.ID != h.ID || f.Geometry.Type != "Point" || f.Geometry.Coordinates[0] != *h.Lon || f.Geometry.Coordinates[1] != *h.Lat {
			t.Errorf("feature %d: %+v, want hotspot %s at %v,%v", i, f, h.ID, *h.Lon, *h.Lat)
		}
	}
	html := string(out["html"])
	for _, want := range []string{"size: A4", "<svg", "湖滨南路工地", "思明区", "办结及时率", fixtureWeek[:4] + "年第11周"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<link", "src=\"http", "url(http"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML is not self-contained: has %q", bad)
		}
	}
}

func TestGenerateRejectsBadInput(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	for _, week := range []string{"2024-11", "2024-W54", "week"} {
		if _, err := Generate(context.Background(), pool, week, fixtureNow); fault.KindOf(err) != fault.Invalid {
			t.Errorf("Generate(%q): %v, want an invalid-input error", week, err)
		}
	}
	if err := Render(&report.Report{Week: fixtureWeek}, "pdf", &bytes.Buffer{}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Render(pdf): %v, want an invalid-input error", err)
	}
}

// TestHotspotCasesAreEveryOpenSite checks that a hotspot lists every case
// open during the week, at every site and from the hotspots merged into
// it, latest first, and leaves out the cases finished before the week or
// opened after it.
func TestHotspotCasesAreEveryOpenSite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	w := func(day, hour int) time.Time { return at(t, fixtureWeek, day, hour) }
	prev := func(day, hour int) time.Time { return at(t, "2024-W10", day, hour) }
	next := func(day, hour int) time.Time { return at(t, "2024-W12", day, hour) }
	if _, err := pool.Exec(ctx, `INSERT INTO hotspots (id, category, district, status, merged_into, complaint_count, first_at, last_at, lon, lat)
		VALUES ('hs-absorbed', 'noise', 'siming', 'merged', 'hs-growing', 3, $1, $1, 118.1300, 24.4700)`, prev(1, 9)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, hotspot, status, place string
		opened                     time.Time
		resolved                   *time.Time
	}{
		// Another site of the hotspot, open since last week.
		{"case-7", "hs-growing", "accepted", "湖滨南路东段", prev(1, 9), nil},
		// Resolved before the week: not listed.
		{"case-8", "hs-growing", "resolved", "湖滨南路西段", prev(0, 8), ptr(prev(3, 9))},
		// Opened after the week: not listed.
		{"case-9", "hs-growing", "assigned", "湖滨南路工地", next(0, 9), nil},
		// The case of a hotspot merged into it, the latest opened.
		{"case-10", "hs-absorbed", "assigned", "湖滨北路", w(1, 9), nil},
	} {
		if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, hotspot_id, place, opened_at, resolved_at)
			VALUES ($1, 'noise', 'siming', 'siming-urban', $2, $3, $4, $5, $6)`, c.id, c.status, c.hotspot, c.place, c.opened, c.resolved); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	var h *report.Hotspot
	for i := range r.Hotspots {
		if r.Hotspots[i].ID == "hs-growing" {
			h = &r.Hotspots[i]
		}
		if r.Hotspots[i].ID == "hs-absorbed" {
			t.Error("the merged hotspot is reported on its own")
		}
	}
	if h == nil {
		t.Fatal("hs-growing is not in the report")
	}
	var ids []string
	for _, c := range h.Cases {
		ids = append(ids, c.CaseID)
	}
	if want := []string{"case-10", "case-1", "case-7"}; !slices.Equal(ids, want) || h.CaseCount != 3 {
		t.Errorf("hs-growing's cases %v (%d), want %v (3)", ids, h.CaseCount, want)
	}
	if h.CaseID != "case-10" || h.CaseStatus != "assigned" {
		t.Errorf("hs-growing's latest case %s (%s), want case-10 (assigned)", h.CaseID, h.CaseStatus)
	}
	if c := h.Cases[len(h.Cases)-1]; c.Place != "湖滨南路东段" || c.Status != "accepted" || c.TeamName != "思明区城市管理综合执法大队" || !c.OpenedAt.Equal(prev(1, 9)) {
		t.Errorf("case-7 listed as %+v", c)
	}
	for _, o := range r.Hotspots {
		if o.ID != "hs-growing" && o.CaseCount != len(o.Cases) {
			t.Errorf("%s: %d cases listed, case_count %d", o.ID, len(o.Cases), o.CaseCount)
		}
	}

	var csvOut, htmlOut bytes.Buffer
	if err := Render(r, "csv", &csvOut); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(csvOut.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	found := false
	for _, rec := range recs[1:] {
		if rec[col["hotspot_id"]] == "hs-growing" {
			found = true
			if rec[col["case_count"]] != "3" || rec[col["case_ids"]] != "case-10;case-1;case-7" {
				t.Errorf("CSV row of hs-growing: case_count %q case_ids %q", rec[col["case_count"]], rec[col["case_ids"]])
			}
		}
	}
	if !found {
		t.Error("no CSV row for hs-growing")
	}
	if err := Render(r, "html", &htmlOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(htmlOut.String(), "本周涉及 3 件") {
		t.Error("the HTML report does not say that hs-growing has 3 cases")
	}
}
