package geocoder_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

// An operator's 2026 plan (NUISANCE_PRIORITY) ranks 2026 complaints:
// construction noise in 海沧 becomes a priority, in 思明 it no longer is,
// and a 2024 complaint keeps the 2024 plan.
func TestOperatorsPlanRanksItsYear(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "priority.json")
	plan := `{"plans": [{"year": 2026, "source": "2026 年点题整治计划",
	  "district_rules": [{"category": "noise", "subcategories": ["construction"], "districts": ["haicang"], "reason": "priority district for construction noise"}]}]}`
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	e := setup(t, func(c *geocoder.Config) { c.PriorityFile = file })
	const construction = "工地白天一直在打桩，混凝土泵车轰隆隆"
	day2026 := time.Date(2026, 3, 10, 10, 0, 0, 0, shanghai)
	cases := []struct {
		id       string
		at       time.Time
		point    [2]float64
		priority bool
		reason   string
	}{
		{"plan-haicang-2026", day2026, haicangInland, true, "2026 plan: priority district for construction noise"},
		{"plan-siming-2026", day2026, simingNearHuli, false, "<null>"},
		{"plan-siming-2024", at(10, 0), simingNearHuli, true, "2024 plan: priority district for construction and social-life noise"},
		{"plan-haicang-2024", at(10, 0), haicangInland, false, "<null>"},
	}
	var ids []string
	for _, c := range cases {
		e.receive(t, complaint(c.id, c.at, construction, &c.point, geo.GCJ02, ""))
		ids = append(ids, c.id)
	}
	e.waitLocated(t, ids...)
	for _, c := range cases {
		var priority bool
		var reason *string
		if err := e.pool.QueryRow(context.Background(), `SELECT priority, priority_reason FROM locations WHERE complaint_id = $1`, c.id).Scan(&priority, &reason); err != nil {
			t.Fatal(err)
		}
		if priority != c.priority || str(reason) != c.reason {
			t.Errorf("%s: priority %v reason %q, want %v %q", c.id, priority, str(reason), c.priority, c.reason)
		}
	}
}

// A bad operator's file refuses the geocoder's start, naming the problem.
func TestGeocoderRefusesABadPlan(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "priority.json")
	if err := os.WriteFile(file, []byte(`{"plans": [{"year": 2026, "district_rules": [{"category": "noise", "districts": ["gulangyu"], "reason": "x"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := geocoder.DefaultConfig()
	cfg.PriorityFile = file
	_, err := geocoder.New(cfg, nil, nil, testenv.Log(t))
	if err == nil {
		t.Fatal("the geocoder started with an unknown district in its plan")
	}
	for _, w := range []string{file, "plan 2026", "district_rules[0].districts", `"gulangyu"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}
