package classify

import (
	"strings"
	"time"
)

// Prioritise ranks a classified complaint by the 2024 plan: a complaint of
// a kind the plan targets in its district is a priority, and construction
// noise at night (Asia/Shanghai, whatever zone at is in) is urgent in every
// district. An unknown category or district is simply not a priority.
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
	var p Priority
	var reasons []string
	for _, r := range c.districtRules {
		if r.matches(ci, li, districtSlug) {
			p.Priority = true
			reasons = append(reasons, r.reason)
		}
	}
	local := at.In(c.loc)
	minute := local.Hour()*60 + local.Minute()
	for _, r := range c.nightRules {
		if r.matches(ci, li, districtSlug) && r.covers(minute) {
			p.Priority, p.Urgent = true, true
			reasons = append(reasons, r.reason)
		}
	}
	p.Reason = strings.Join(reasons, "; ")
	return p
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
