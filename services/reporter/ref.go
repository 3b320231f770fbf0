package reporter

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// ref is the reference data a report is written with: district names and
// order, the bureau's yearly priority plans, the teams, the routing
// rules (for the quiet communities) and the hotspot detector's minimum
// count.
type ref struct {
	districts []string          // slugs in the plans' order
	names     map[string]string // slug -> 思明区
	plans     *classify.Plans
	// kindName names a subcategory (建筑施工噪声).
	kindName func(category, subcategory string) string
	teams    map[string]routing.Team
	// router marks the quiet communities of the work orders no case
	// holds, as it marks those of cases.
	router   *routing.Router
	minCount map[string]int
	// cooling is how long a hotspot of the category goes without a
	// complaint before it cools.
	cooling map[string]time.Duration
}

// hotspotSeed is the part of seeds/hotspots.json the report reads.
type hotspotSeed struct {
	Categories map[string]struct {
		MinCount    int     `json:"min_count"`
		CoolingDays float64 `json:"cooling_days"`
	} `json:"categories"`
}

// refs caches the reference data by the operator's priority file ("" for
// the built-in plans alone): it is read once, at start.
var refs = struct {
	sync.Mutex
	byFile map[string]*ref
}{byFile: map[string]*ref{}}

// loadRef returns the reference data with the priority plans of the
// operator's file priorityFile added (NUISANCE_PRIORITY; "" for none).
func loadRef(priorityFile string) (*ref, error) {
	refs.Lock()
	defer refs.Unlock()
	if r, ok := refs.byFile[priorityFile]; ok {
		return r, nil
	}
	r, err := readRef(priorityFile)
	if err != nil {
		return nil, err
	}
	refs.byFile[priorityFile] = r
	return r, nil
}

func readRef(priorityFile string) (*ref, error) {
	r := &ref{names: map[string]string{}, teams: map[string]routing.Team{}, minCount: map[string]int{}, cooling: map[string]time.Duration{}}
	cls, err := classify.NewWith(priorityFile)
	if err != nil {
		return nil, err
	}
	r.plans = cls.Plans()
	r.kindName = cls.Name
	r.districts = r.plans.Districts()
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
}

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

// weekPlan is the priority plan of a report's week: the plan of the
// week's ISO year (that of its Thursday, the year the week is numbered
// in), or the latest before it.
type weekPlan struct {
	plan *report.PriorityPlan // nil: no plan, no priority district
	p    classify.Plan
	// districts are the priority districts by category, in the plan's
	// order.
	districts map[string][]string
}

// planOf returns the plan of the week that starts at start.
func (r *ref) planOf(start time.Time) *weekPlan {
	wp := &weekPlan{districts: map[string][]string{}}
	year := start.In(r.plans.Location()).AddDate(0, 0, 3).Year()
	p, ok := r.plans.ForYear(year)
	if !ok {
		return wp
	}
	wp.p = p
	wp.plan = &report.PriorityPlan{Year: p.Year, ForYear: year, Latest: p.Latest, Source: p.Source, Rules: []report.PriorityRule{}}
	for _, rule := range p.Rules {
		pr := report.PriorityRule{Category: rule.Category, Subcategories: rule.Subcategories, Districts: rule.Districts}
		for _, sub := range rule.Subcategories {
			pr.SubcategoryNames = append(pr.SubcategoryNames, r.kindName(rule.Category, sub))
		}
		if len(rule.Subcategories) == 0 {
			pr.Subcategories = []string{}
			pr.SubcategoryNames = []string{r.kindName(rule.Category, "")}
		}
		for _, d := range rule.Districts {
			pr.DistrictNames = append(pr.DistrictNames, r.districtName(d))
		}
		wp.plan.Rules = append(wp.plan.Rules, pr)
		for _, d := range rule.Districts {
			if !slices.Contains(wp.districts[rule.Category], d) {
				wp.districts[rule.Category] = append(wp.districts[rule.Category], d)
			}
		}
	}
	return wp
}

// priorityKind reports whether the plan makes a kind of nuisance a
// priority in a district.
func (wp *weekPlan) priorityKind(category, subcategory, district string) bool {
	return wp.plan != nil && wp.p.Targets(category, subcategory, district)
}

// orderedDistricts lists the districts for a category: its priority
// districts in the plan's order, then the others.
func (r *ref) orderedDistricts(wp *weekPlan, category string) []string {
	out := slices.Clone(wp.districts[category])
	for _, d := range r.districts {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
