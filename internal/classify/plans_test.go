package classify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// plan2026 is an operator's 2026 plan: construction and social-life noise
// in 海沧 alone, no dust districts, the night rule kept.
const plan2026 = `{
  "plans": [
    {
      "year": 2026,
      "source": "2026 年点题整治计划",
      "district_rules": [
        {"category": "noise", "subcategories": ["construction", "social_life"], "districts": ["haicang"], "reason": "priority district for noise"}
      ],
      "night_rules": [
        {"category": "noise", "subcategories": ["construction"], "from": "22:00", "to": "06:00", "reason": "construction noise at night"}
      ]
    }
  ]
}`

func writePlans(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "priority.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A complaint of a year without a plan of its own is ranked by the latest
// plan before it, and its reason says so; a complaint of the plan's year
// names the plan. The year is Asia/Shanghai's.
func TestPrioritiseLatestPlan(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct {
		at         time.Time
		wantPrefix string
	}{
		{time.Date(2024, 3, 12, 12, 0, 0, 0, shanghai), "2024 plan: "},
		{time.Date(2024, 12, 31, 15, 59, 0, 0, time.UTC), "2024 plan: "},         // 23:59 on 31 December in Xiamen
		{time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC), "2024 plan (latest): "}, // 2025 in Xiamen
		{time.Date(2026, 3, 12, 12, 0, 0, 0, shanghai), "2024 plan (latest): "},
	}
	for _, tt := range tests {
		got := c.Prioritise("noise", "social_life", "siming", tt.at)
		if !got.Priority || !strings.HasPrefix(got.Reason, tt.wantPrefix) || !strings.Contains(got.Reason, "priority district") {
			t.Errorf("%s: got %+v, want a priority whose reason starts %q", tt.at.Format(time.RFC3339), got, tt.wantPrefix)
		}
		if got := c.Prioritise("noise", "social_life", "haicang", tt.at); got != (Priority{}) {
			t.Errorf("%s in haicang: got %+v, want none", tt.at.Format(time.RFC3339), got)
		}
	}
	night := c.Prioritise("noise", "construction", "haicang", time.Date(2026, 3, 12, 23, 0, 0, 0, shanghai))
	if !night.Urgent || night.Reason != "2024 plan (latest): construction noise at night (22:00-06:00)" {
		t.Errorf("2026 night work in haicang: got %+v", night)
	}
}

// Before the earliest plan no plan was in force: nothing is a priority.
func TestPrioritiseBeforeEarliestPlan(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, at := range []time.Time{
		time.Date(2023, 6, 1, 12, 0, 0, 0, shanghai),
		time.Date(2023, 12, 31, 15, 59, 0, 0, time.UTC), // 23:59 in Xiamen, construction at night
	} {
		if got := c.Prioritise("noise", "construction", "siming", at); got != (Priority{}) {
			t.Errorf("%s: got %+v, want none", at.Format(time.RFC3339), got)
		}
	}
	if _, ok := c.Plans().ForYear(2023); ok {
		t.Error("ForYear(2023) found a plan")
	}
}

// An operator's 2026 plan ranks 2026 complaints and the years after, and
// leaves 2024 to the built-in plan.
func TestOperatorPlan(t *testing.T) {
	t.Parallel()
	c, err := NewWith(writePlans(t, plan2026))
	if err != nil {
		t.Fatal(err)
	}
	y2024 := time.Date(2024, 3, 12, 12, 0, 0, 0, shanghai)
	y2026 := time.Date(2026, 3, 12, 12, 0, 0, 0, shanghai)
	y2027 := time.Date(2027, 3, 12, 12, 0, 0, 0, shanghai)
	tests := []struct {
		cat, sub, district string
		at                 time.Time
		want               Priority
	}{
		{"noise", "social_life", "haicang", y2026, Priority{Priority: true, Reason: "2026 plan: priority district for noise"}},
		{"noise", "social_life", "siming", y2026, Priority{}},
		{"dust", "road", "xiangan", y2026, Priority{}},
		{"noise", "social_life", "haicang", y2027, Priority{Priority: true, Reason: "2026 plan (latest): priority district for noise"}},
		{"noise", "social_life", "siming", y2024, Priority{Priority: true, Reason: "2024 plan: priority district for construction and social-life noise"}},
		{"noise", "social_life", "haicang", y2024, Priority{}},
		{"dust", "road", "xiangan", y2024, Priority{Priority: true, Reason: "2024 plan: priority district for construction and road dust"}},
		// 2025 has no plan: the built-in 2024 plan is still the latest.
		{"noise", "social_life", "siming", y2024.AddDate(1, 0, 0), Priority{Priority: true, Reason: "2024 plan (latest): priority district for construction and social-life noise"}},
	}
	for _, tt := range tests {
		if got := c.Prioritise(tt.cat, tt.sub, tt.district, tt.at); got != tt.want {
			t.Errorf("%s/%s in %s, %d: got %+v, want %+v", tt.cat, tt.sub, tt.district, tt.at.Year(), got, tt.want)
		}
	}
	if got := c.Plans().Years(); !slices.Equal(got, []int{2024, 2026}) {
		t.Errorf("years %v, want [2024 2026]", got)
	}
	p, ok := c.Plans().ForYear(2027)
	if !ok || p.Year != 2026 || !p.Latest || len(p.Rules) != 1 || !slices.Equal(p.Rules[0].Districts, []string{"haicang"}) {
		t.Errorf("ForYear(2027) = %+v, %v", p, ok)
	}
}

// A year in both the built-in plans and the operator's takes the
// operator's.
func TestOperatorPlanReplacesYear(t *testing.T) {
	t.Parallel()
	c, err := NewWith(writePlans(t, strings.ReplaceAll(plan2026, "2026", "2024")))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 12, 12, 0, 0, 0, shanghai)
	if got := c.Prioritise("noise", "social_life", "siming", at); got != (Priority{}) {
		t.Errorf("siming in 2024: got %+v, want none by the operator's 2024 plan", got)
	}
	if got := c.Prioritise("noise", "social_life", "haicang", at); !got.Priority {
		t.Errorf("haicang in 2024: got %+v, want a priority", got)
	}
}

// A bad operator's file refuses the start, the error naming the file, the
// plan's year and the field.
func TestOperatorPlanInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"unknown district", `["haicang"]`, `["gulangyu"]`, []string{"plan 2026", "district_rules[0].districts", `"gulangyu"`}},
		{"unknown category", `"category": "noise", "subcategories": ["construction", "social_life"]`, `"category": "noize", "subcategories": ["construction", "social_life"]`, []string{"plan 2026", "district_rules[0].category", `"noize"`}},
		{"unknown subcategory", `["construction"], "from"`, `["piling"], "from"`, []string{"plan 2026", "night_rules[0].subcategories", `"piling"`}},
		{"subcategory of another category", `["construction", "social_life"]`, `["construction", "road"]`, []string{"plan 2026", "district_rules[0].subcategories", `"road"`}},
		{"bad clock", `"22:00"`, `"22h"`, []string{"plan 2026", "night_rules[0].from"}},
		{"no reason", `"reason": "priority district for noise"`, `"reason": ""`, []string{"plan 2026", "district_rules[0].reason"}},
		{"bad year", `"year": 2026`, `"year": 26`, []string{"plan 1", "year 26"}},
		{"unknown field", `"district_rules"`, `"district_rule"`, []string{"unknown field"}},
		{"other timezone", `"plans"`, `"timezone": "UTC", "plans"`, []string{"timezone"}},
		// The layout before plans by year: its fields are unknown to
		// version 2, the version is what is wrong.
		{"version 1", `"plans"`, `"version": 1, "source": "2024 年工作计划", "district_rules": [], "plans"`, []string{"version 1, want 2"}},
		// A second object, pasted after the first, would be ignored.
		{"content after the plans", `]
}`, `]
}
{"plans": []}`, []string{"after the end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(plan2026, tt.old) {
				t.Fatalf("plan2026 does not contain %q", tt.old)
			}
			path := writePlans(t, strings.Replace(plan2026, tt.old, tt.new, 1))
			_, err := NewWith(path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := NewWith(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: got %v", err)
	}
	empty := writePlans(t, "")
	if _, err := NewWith(empty); err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: got %v", err)
	}
	path := writePlans(t, `{"plans": []}`)
	if _, err := NewWith(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no plans") {
		t.Errorf("empty file: got %v", err)
	}
}
