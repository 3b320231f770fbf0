package reporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// operatorPlan2026 is an operator's 2026 plan: noise in 海沧 alone, no
// dust district.
const operatorPlan2026 = `{"plans": [{"year": 2026, "source": "2026 年点题整治计划",
  "district_rules": [{"category": "noise", "subcategories": ["construction", "social_life"], "districts": ["haicang"], "reason": "priority district for noise"}],
  "night_rules": []}]}`

// priorityRows lists a category's districts up to its last priority one,
// and reports whether every priority district comes first.
func priorityRows(t *testing.T, r *report.Report, category string) []string {
	t.Helper()
	var prio []string
	for _, cs := range r.Categories {
		if cs.Category != category {
			continue
		}
		for i, d := range cs.Districts {
			if d.Priority {
				if i != len(prio) {
					t.Errorf("%s: priority district %s at row %d, after others", category, d.District, i)
				}
				prio = append(prio, d.District)
			}
		}
	}
	return prio
}

// validJSON checks the report's JSON against its schema.
func validJSON(t *testing.T, r *report.Report) {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(r, "json", &buf); err != nil {
		t.Fatal(err)
	}
	sch, err := schemas.Get("report.weekly.v1")
	if err != nil {
		t.Fatal(err)
	}
	if fe, err := schemas.Validate(sch, buf.Bytes()); err != nil || fe != nil {
		t.Errorf("%s: JSON report does not validate: %v %v", r.Week, err, fe)
	}
}

func renderHTML(t *testing.T, r *report.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(r, "html", &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A week of a year without a plan of its own (2026) puts the latest
// plan's (2024's) priority districts first and says it follows that plan
// as the latest; a week before the earliest plan marks none.
func TestReportFollowsTheLatestPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	r, err := Generate(ctx, pool, "2026-W11", at(t, "2026-W12", 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := priorityRows(t, r, "noise"); !slices.Equal(got, []string{"siming", "huli", "jimei"}) {
		t.Errorf("2026 noise priority districts %v, want the 2024 plan's", got)
	}
	if p := r.PriorityPlan; p == nil || p.Year != 2024 || p.ForYear != 2026 || !p.Latest {
		t.Errorf("priority plan %+v, want 2024's as the latest for 2026", p)
	}
	if html := renderHTML(t, r); !strings.Contains(html, "重点区域依 2024 年点题整治计划（2026 年计划未录入，沿用最新计划）") {
		t.Error("the 2026 report does not say it follows the 2024 plan as the latest")
	}

	r, err = Generate(ctx, pool, "2023-W20", at(t, "2023-W21", 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := priorityRows(t, r, "noise"); len(got) != 0 || r.PriorityPlan != nil {
		t.Errorf("2023: priority districts %v, plan %+v; want none before the earliest plan", got, r.PriorityPlan)
	}
	validJSON(t, r)
	if html := renderHTML(t, r); !strings.Contains(html, "不标重点区域") {
		t.Error("the 2023 report does not say it marks no priority district")
	}
}

// An operator's 2026 plan orders a 2026 week's report and counts its
// kinds, and leaves a 2024 week to the 2024 plan.
func TestReportFollowsTheOperatorsPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	file := filepath.Join(t.TempDir(), "priority.json")
	if err := os.WriteFile(file, []byte(operatorPlan2026), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, sub := range []string{"social_life", "social_life", "traffic"} {
		id := fmt.Sprintf("cmp-plan-%d", i)
		when := at(t, "2026-W11", i, 10)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address) VALUES ($1, $1, $2, '投诉', '厦门')`, id, when); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, subcategory, received_at)
			VALUES ($1, true, 'haicang', 'noise', $2, $3)`, id, sub, when); err != nil {
			t.Fatal(err)
		}
	}
	r, err := GenerateWith(ctx, pool, "2026-W11", at(t, "2026-W12", 0, 1), file)
	if err != nil {
		t.Fatal(err)
	}
	if got := priorityRows(t, r, "noise"); !slices.Equal(got, []string{"haicang"}) {
		t.Errorf("2026 noise priority districts %v, want [haicang]", got)
	}
	if got := priorityRows(t, r, "dust"); len(got) != 0 {
		t.Errorf("2026 dust priority districts %v, want none", got)
	}
	for _, cs := range r.Categories {
		if cs.Category == "noise" {
			if d := cs.Districts[0]; d.Count.Count != 3 || d.PriorityCount == nil || d.PriorityCount.Count != 2 {
				t.Errorf("haicang noise: %+v, want 3 complaints of which 2 of the plan's kinds", d)
			}
		}
	}
	validJSON(t, r)
	if p := r.PriorityPlan; p == nil || p.Year != 2026 || p.Latest {
		t.Errorf("priority plan %+v, want 2026's", p)
	}
	if html := renderHTML(t, r); !strings.Contains(html, "重点区域依 2026 年点题整治计划：建筑施工噪声、社会生活噪声为海沧区。") {
		t.Error("the 2026 report does not state the operator's 2026 plan")
	}

	r, err = GenerateWith(ctx, pool, "2024-W11", at(t, "2024-W12", 0, 1), file)
	if err != nil {
		t.Fatal(err)
	}
	if got := priorityRows(t, r, "noise"); !slices.Equal(got, []string{"siming", "huli", "jimei"}) {
		t.Errorf("2024 noise priority districts %v, want the 2024 plan's", got)
	}
	if got := priorityRows(t, r, "dust"); !slices.Equal(got, []string{"xiangan", "tongan", "jimei"}) {
		t.Errorf("2024 dust priority districts %v, want the 2024 plan's", got)
	}
	if p := r.PriorityPlan; p == nil || p.Year != 2024 || p.Latest {
		t.Errorf("priority plan %+v, want 2024's", p)
	}
}

// A bad operator's file refuses the reporter's start, naming the file,
// the plan and the field.
func TestReporterRefusesABadPlan(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "priority.json")
	if err := os.WriteFile(file, []byte(strings.Replace(operatorPlan2026, `"haicang"`, `"gulangyu"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(func(*http.Request) (string, error) { return "admin", nil })
	cfg.PriorityFile = file
	_, err := New(cfg, testenv.DB(t), testenv.Log(t))
	if err == nil {
		t.Fatal("the reporter started with an unknown district in its plan")
	}
	for _, w := range []string{file, "plan 2026", "district_rules[0].districts", `"gulangyu"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

// A plan may make one kind a priority in one district and another kind in
// another: each district's "of the plan's kinds" counts the kinds the plan
// names for that district, as the classifier ranks them, not every kind
// it names for the category somewhere.
func TestPriorityKindsAreTheDistricts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	file := filepath.Join(t.TempDir(), "priority.json")
	const plan = `{"plans": [{"year": 2026, "source": "2026 年点题整治计划", "district_rules": [
	  {"category": "noise", "subcategories": ["construction"], "districts": ["siming"], "reason": "construction noise in siming"},
	  {"category": "noise", "subcategories": ["social_life"], "districts": ["huli"], "reason": "social-life noise in huli"}]}]}`
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ district, sub string }{
		{"siming", "construction"}, {"siming", "social_life"}, {"siming", "social_life"},
		{"huli", "construction"}, {"huli", "social_life"},
	} {
		id := fmt.Sprintf("cmp-kinds-%d", i)
		when := at(t, "2026-W11", i, 10)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address) VALUES ($1, $1, $2, '投诉', '厦门')`, id, when); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, subcategory, received_at)
			VALUES ($1, true, $2, 'noise', $3, $4)`, id, c.district, c.sub, when); err != nil {
			t.Fatal(err)
		}
	}
	r, err := GenerateWith(ctx, pool, "2026-W11", at(t, "2026-W12", 0, 1), file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"siming": {3, 1}, "huli": {2, 1}}
	for _, cs := range r.Categories {
		if cs.Category != "noise" {
			continue
		}
		for _, d := range cs.Districts {
			w, ok := want[d.District]
			if !ok {
				continue
			}
			if d.PriorityCount == nil || d.Count.Count != w[0] || d.PriorityCount.Count != w[1] {
				t.Errorf("%s noise: %d complaints, of the plan's kinds %+v; want %d of which %d", d.District, d.Count.Count, d.PriorityCount, w[0], w[1])
			}
		}
	}
	// The plan is stated rule by rule: not each kind in both districts.
	if got := priorityRows(t, r, "noise"); !slices.Equal(got, []string{"siming", "huli"}) {
		t.Errorf("noise priority districts %v, want [siming huli]", got)
	}
	if p := r.PriorityPlan; p == nil || len(p.Rules) != 2 || !slices.Equal(p.Rules[0].Districts, []string{"siming"}) || !slices.Equal(p.Rules[1].Subcategories, []string{"social_life"}) {
		t.Errorf("priority plan %+v, want its two rules", p)
	}
	validJSON(t, r)
	if html := renderHTML(t, r); !strings.Contains(html, "重点区域依 2026 年点题整治计划：建筑施工噪声为思明区；社会生活噪声为湖里区。") {
		t.Error("the report does not state the plan's two rules")
	}
}
