package classify

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Plans are the bureau's yearly priority plans (点题整治): each year's
// priority districts by kind of nuisance and its night-time rules. The
// plan of a year is that year's, or when the bureau has adopted none yet
// the latest plan before it, so a new year keeps being prioritised until
// its plan is installed. Before the earliest plan nothing is a priority:
// no plan the system knows was in force.
type Plans struct {
	loc       *time.Location
	districts []string // every district, in the seed's order
	plans     []plan   // by year, ascending
}

type plan struct {
	year          int
	source        string
	districtRules []rule
	nightRules    []rule
	// rules are the district rules by name, for the report.
	rules []PlanRule
}

// Plan is the plan a complaint or a week is prioritised by, as the
// weekly report states it.
type Plan struct {
	// Year is the plan's year.
	Year int
	// Latest is set when the plan is not of the year asked for but the
	// latest before it: the bureau's plan of that year is not installed.
	Latest bool
	// Source names the bureau's document.
	Source string
	// Rules are the plan's district rules one by one, in the seed's
	// order: merged by category they would no longer tell which kinds
	// each district is a priority for.
	Rules []PlanRule
}

// Targets reports whether the plan makes a kind of nuisance a priority in
// a district, as Prioritise ranks a complaint: one of its district rules
// names both.
func (p Plan) Targets(category, subcategory, district string) bool {
	for _, r := range p.Rules {
		if r.Category == category && slices.Contains(r.Districts, district) &&
			(len(r.Subcategories) == 0 || slices.Contains(r.Subcategories, subcategory)) {
			return true
		}
	}
	return false
}

// PlanRule is one of a plan's district rules: its priority districts
// for the kinds of one category it names, every kind when none.
type PlanRule struct {
	Category      string
	Subcategories []string
	Districts     []string
}

// Location is the zone a complaint's year and time of day are read in.
func (p *Plans) Location() *time.Location { return p.loc }

// Districts lists every district slug in the seed's order.
func (p *Plans) Districts() []string { return slices.Clone(p.districts) }

// Years lists the years that have a plan, ascending.
func (p *Plans) Years() []int {
	out := make([]int, len(p.plans))
	for i, pl := range p.plans {
		out[i] = pl.year
	}
	return out
}

// ForYear is the plan that applies in a year: its own, else the latest
// before it (Latest set); false before the earliest plan.
func (p *Plans) ForYear(year int) (Plan, bool) {
	pl, latest := p.find(year)
	if pl == nil {
		return Plan{}, false
	}
	out := Plan{Year: pl.year, Latest: latest, Source: pl.source}
	for _, r := range pl.rules {
		out.Rules = append(out.Rules, PlanRule{Category: r.Category, Subcategories: slices.Clone(r.Subcategories), Districts: slices.Clone(r.Districts)})
	}
	return out, true
}

// find returns the plan of year or the latest before it (latest set), or
// nil before the earliest.
func (p *Plans) find(year int) (pl *plan, latest bool) {
	for i := len(p.plans) - 1; i >= 0; i-- {
		if p.plans[i].year <= year {
			return &p.plans[i], p.plans[i].year != year
		}
	}
	return nil, false
}

// Plans returns the priority plans the classifier ranks complaints by.
func (c *Classifier) Plans() *Plans { return c.plans }

// Prioritise ranks a classified complaint by the plan of its year in
// Asia/Shanghai (see Plans): a complaint of a kind the plan targets in its
// district is a priority, and the plan's night rules (construction noise
// at night) make it urgent in every district they name. The reason starts
// with the plan's year, and says "(latest)" when the complaint's year has
// no plan of its own. An unknown category or district is simply not a
// priority.
func (c *Classifier) Prioritise(category, subcategory, districtSlug string, at time.Time) Priority {
	ci, ok := c.catIndex[category]
	if !ok {
		return Priority{}
	}
	li := -1
	if subcategory != "" {
		if li, ok = c.labelIndex[category+"/"+subcategory]; !ok {
			return Priority{}
		}
	}
	local := at.In(c.plans.loc)
	pl, latest := c.plans.find(local.Year())
	if pl == nil {
		return Priority{}
	}
	var p Priority
	var reasons []string
	for i := range pl.districtRules {
		if r := &pl.districtRules[i]; r.matches(ci, li, districtSlug) {
			p.Priority = true
			reasons = append(reasons, r.reasonAfter(len(reasons), latest))
		}
	}
	minute := local.Hour()*60 + local.Minute()
	for i := range pl.nightRules {
		if r := &pl.nightRules[i]; r.matches(ci, li, districtSlug) && r.covers(minute) {
			p.Priority, p.Urgent = true, true
			reasons = append(reasons, r.reasonAfter(len(reasons), latest))
		}
	}
	p.Reason = strings.Join(reasons, "; ")
	return p
}

// planReasons are a rule's reason as the first of a complaint's: after
// "2024 plan: ", or "2024 plan (latest): " for a later year's complaint.
func planReasons(year int, reason string) (string, string) {
	y := strconv.Itoa(year)
	return y + " plan: " + reason, y + " plan (latest): " + reason
}

// reasonAfter is the rule's reason after n others: the first carries its
// plan's year, precomputed so that one rule's reason costs no allocation.
func (r *rule) reasonAfter(n int, latest bool) string {
	switch {
	case n > 0:
		return r.reason
	case latest:
		return r.latestReason
	}
	return r.planReason
}

// matches reports whether the rule applies to a complaint of category ci,
// label li (-1 when unknown) in a district.
func (r rule) matches(ci, li int, district string) bool {
	if r.cat != ci {
		return false
	}
	if len(r.labels) > 0 && !r.labels[li] {
		return false
	}
	return len(r.districts) == 0 || r.districts[district]
}

// covers reports whether a minute of the day falls in [from, to), across
// midnight when from is later than to.
func (r rule) covers(minute int) bool {
	if r.from < r.to {
		return minute >= r.from && minute < r.to
	}
	return minute >= r.from || minute < r.to
}

// LoadPlans reads the priority plans alone, for a service that ranks no
// complaint but states the plans (the weekly report): the embedded plans
// with those of the operator's file at path added, checked as NewWith
// checks them. The file has the layout of seeds/priority.json; its
// timezone and districts may be left out, and each of its plans replaces
// the embedded plan of that year or adds to them.
func LoadPlans(path string) (*Plans, error) {
	c, err := NewWith(path)
	if err != nil {
		return nil, err
	}
	return c.plans, nil
}
