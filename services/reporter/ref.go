package reporter

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// ref is the reference data a report is written with: district names and
// order, the 2024 plan's priority districts, the teams, the routing
// rules (for the quiet communities) and the hotspot detector's minimum
// count.
type ref struct {
	districts []string          // slugs in the plan's order
	names     map[string]string // slug -> 思明区
	priority  map[string][]string
	// prioritySubs are the subcategories the plan's priority rules name,
	// by category.
	prioritySubs map[string][]string
	teams        map[string]routing.Team
	// router marks the quiet communities of the work orders no case
	// holds, as it marks those of cases.
	router   *routing.Router
	minCount map[string]int
	// cooling is how long a hotspot of the category goes without a
	// complaint before it cools.
	cooling map[string]time.Duration
}

// prioritySeed is the part of seeds/priority.json the report reads.
type prioritySeed struct {
	Districts     []string `json:"districts"`
	DistrictRules []struct {
		Category      string   `json:"category"`
		Subcategories []string `json:"subcategories"`
		Districts     []string `json:"districts"`
	} `json:"district_rules"`
}

// hotspotSeed is the part of seeds/hotspots.json the report reads.
type hotspotSeed struct {
	Categories map[string]struct {
		MinCount    int     `json:"min_count"`
		CoolingDays float64 `json:"cooling_days"`
	} `json:"categories"`
}

var loadRef = sync.OnceValues(func() (*ref, error) {
	r := &ref{names: map[string]string{}, priority: map[string][]string{}, prioritySubs: map[string][]string{}, teams: map[string]routing.Team{}, minCount: map[string]int{}, cooling: map[string]time.Duration{}}
	var ps prioritySeed
	if err := readSeed("priority.json", &ps); err != nil {
		return nil, err
	}
	r.districts = ps.Districts
	for _, rule := range ps.DistrictRules {
		for _, sub := range rule.Subcategories {
			if !slices.Contains(r.prioritySubs[rule.Category], sub) {
				r.prioritySubs[rule.Category] = append(r.prioritySubs[rule.Category], sub)
			}
		}
		for _, d := range rule.Districts {
			if !slices.Contains(r.priority[rule.Category], d) {
				r.priority[rule.Category] = append(r.priority[rule.Category], d)
			}
		}
	}
	ds, err := geo.LoadDistricts()
	if err != nil {
		return nil, err
	}
	for _, d := range ds.List() {
		r.names[d.Slug] = d.Name
	}
	for _, d := range r.districts {
		if r.names[d] == "" {
			return nil, fmt.Errorf("priority seed names district %q that has no outline", d)
		}
	}
	router, err := routing.Load()
	if err != nil {
		return nil, err
	}
	for _, t := range router.Teams() {
		r.teams[t.ID] = t
	}
	r.router = router
	var hs hotspotSeed
	if err := readSeed("hotspots.json", &hs); err != nil {
		return nil, err
	}
	for _, c := range report.Categories {
		r.minCount[c] = max(hs.Categories[c].MinCount, 1)
		r.cooling[c] = time.Duration(hs.Categories[c].CoolingDays * float64(24*time.Hour))
	}
	return r, nil
})

func readSeed(name string, v any) error {
	b, err := seeds.FS.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read seed %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read seed %s: %w", name, err)
	}
	return nil
}

// districtName names a district slug, or returns the slug itself.
func (r *ref) districtName(slug string) string {
	if n, ok := r.names[slug]; ok {
		return n
	}
	return slug
}

// teamName names a team id, or returns the id itself.
func (r *ref) teamName(id string) string {
	if t, ok := r.teams[id]; ok {
		return t.Name
	}
	return id
}

// orderedDistricts lists the districts for a category: its priority
// districts in the plan's order, then the others.
func (r *ref) orderedDistricts(category string) []string {
	out := slices.Clone(r.priority[category])
	for _, d := range r.districts {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
