// Package report is the weekly hotspot report the bureau's leadership reads
// on Monday morning: the Report a generator fills from the pipeline's
// tables, and its renderings as a self-contained Chinese HTML page for A4
// (with an SVG map and an SVG daily trend chart), CSV, GeoJSON and JSON.
//
// The package is pure rendering: it reads no database and nothing of the
// environment, so the service, the command line and the tests render the
// same bytes from the same Report. A Report carries no personal data: it
// holds counts, places, teams and case ids, never a caller's name or phone.
package report

import (
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on hosts without a zoneinfo database.
)

// Categories are the nuisance categories in the order every table and
// chart shows them.
var Categories = []string{"noise", "dust", "cooking_smoke"}

// categoryNames are the categories' names as the bureau writes them.
var categoryNames = map[string]string{
	"noise":         "噪声",
	"dust":          "扬尘",
	"cooking_smoke": "油烟",
}

// CategoryName returns the Chinese name of a category code, or the code
// itself when it is unknown, so a new category still shows up legibly.
func CategoryName(code string) string {
	if n, ok := categoryNames[code]; ok {
		return n
	}
	return code
}

// The trends of a hotspot over the report week, decided by the generator.
const (
	// TrendNew is a hotspot that became one in the report week: before it,
	// it had fewer complaints than its category's minimum (it may have had
	// some, even the week before).
	TrendNew = "new"
	// TrendGrowing drew more complaints in the report week than the week before.
	TrendGrowing = "growing"
	// TrendPersistent drew complaints in the report week, not more than the week before.
	TrendPersistent = "persistent"
	// TrendResolved drew no complaint in the report week and was resolved
	// or cooled down.
	TrendResolved = "resolved"
)

// Trends lists the hotspot trends in the order the report summarises them.
var Trends = []string{TrendNew, TrendGrowing, TrendPersistent, TrendResolved}

// Report is one ISO week's report. Its JSON form is the report's JSON
// format (schemas/report.weekly.v1.json); times are RFC 3339 in
// Asia/Shanghai.
type Report struct {
	// Week is the ISO week, e.g. "2024-W11"; Start and End are its Monday
	// 00:00 and the next Monday 00:00 in Asia/Shanghai (End exclusive).
	Week         string    `json:"week"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	PreviousWeek string    `json:"previous_week"`
	GeneratedAt  time.Time `json:"generated_at"`
	// Revision, in a stored report generated again after the week was
	// first stored, says when it was first generated and why its figures
	// changed; nil in a report generated once.
	Revision *Revision `json:"revision,omitempty"`

	// Total counts the complaints received in the week; PreviousTotal
	// those of the week before.
	Total         int `json:"total"`
	PreviousTotal int `json:"previous_total"`
	// ByCategory and ByDistrict count the week's complaints by category
	// code and district slug, every known key present. Unclassified and
	// Unlocated are the complaints missing from each, so each map's sum
	// plus its remainder is Total.
	ByCategory   map[string]int `json:"by_category"`
	ByDistrict   map[string]int `json:"by_district"`
	Unclassified int            `json:"unclassified"`
	Unlocated    int            `json:"unlocated"`

	// PriorityPlan is the bureau's plan (点题整治) whose priority
	// districts the categories put first: the plan of the week's year, or
	// the latest before it; nil before the earliest plan, when no
	// district is a priority.
	PriorityPlan *PriorityPlan `json:"priority_plan"`
	// Categories breaks each category down by district with the change
	// from the week before, the priority districts first.
	Categories []CategorySummary `json:"categories"`
	// Daily counts complaints per day over the trend chart's days, the
	// report week last.
	Daily []Day `json:"daily"`

	// Hotspots are the repeat-complaint hotspots of the week: those of a
	// kind the plan makes a priority in their district first (Priority),
	// then the others, the busiest first in each; HotspotTrends counts
	// them by trend.
	Hotspots      []Hotspot      `json:"hotspots"`
	HotspotTrends map[string]int `json:"hotspot_trends"`
	// Gistar holds, per category, the week's statistically significant
	// Getis-Ord Gi* cells and the cells that cooled down.
	Gistar []GistarCategory `json:"gistar"`

	Timeliness Timeliness `json:"timeliness"`
	Repeat     Repeat     `json:"repeat"`
	// QuietCommunities are the quiet residential communities (宁静小区)
	// that complaints of the week came from, the most complaints first.
	QuietCommunities []QuietCommunity `json:"quiet_communities"`
}

// PriorityPlan tells the report's readers which year's plan marks the
// priority districts: a plan is adopted each year, and a week of a year
// whose plan is not installed yet is ranked by the latest one.
type PriorityPlan struct {
	// Year is the plan's year; ForYear the year of the report's week
	// (its ISO week-numbering year, that of its Thursday).
	Year    int `json:"year"`
	ForYear int `json:"for_year"`
	// Latest is set when Year is not ForYear: ForYear has no plan of its
	// own and the latest plan before it applies.
	Latest bool   `json:"latest"`
	Source string `json:"source"`
	// Rules are the plan's rules of priority districts, one by one,
	// with the kinds of nuisance each is a priority for.
	Rules []PriorityRule `json:"rules"`
}

// PriorityRule is one rule of a plan: its priority districts for the
// kinds of one category it names, with their names for the page.
type PriorityRule struct {
	Category         string   `json:"category"`
	Subcategories    []string `json:"subcategories"`
	SubcategoryNames []string `json:"subcategory_names"`
	Districts        []string `json:"districts"`
	DistrictNames    []string `json:"district_names"`
}

// Revision tells the readers of a revised report what changed since it
// was first generated: the figures they read then differ now, and they
// must not find that out by comparing printouts.
type Revision struct {
	FirstGeneratedAt time.Time `json:"first_generated_at"`
	// Revisions counts the times the week was generated again since.
	Revisions int `json:"revisions"`
	// Corrected counts the week's complaints a supervisor corrected from
	// triage (district or category) since the first generation, the
	// latest of those corrections at LastCorrectedAt.
	Corrected       int        `json:"corrected"`
	LastCorrectedAt *time.Time `json:"last_corrected_at,omitempty"`
	// Late counts the week's complaints that reached the system after
	// the first generation.
	Late int `json:"late"`
	// PreviousWeekChanged is set when the week before changed since the
	// report was last stored (complaints of it arrived late or were
	// backfilled, or were corrected from triage): its previous-week
	// figures, changes and hotspot trends depend on it.
	PreviousWeekChanged bool `json:"previous_week_changed,omitempty"`
}

// QuietCommunity is one quiet residential community (宁静小区) of the
// 2024 pilot with the week's complaints inside it.
type QuietCommunity struct {
	Name         string `json:"name"`
	District     string `json:"district"`
	DistrictName string `json:"district_name"`
	// Complaints counts the week's complaints in the community; Cases
	// the cases that hold them, Open those unresolved at the week's end.
	Complaints int `json:"complaints"`
	Cases      int `json:"cases"`
	Open       int `json:"open"`
}

// Count is a number this week beside the week before.
type Count struct {
	Count    int `json:"count"`
	Previous int `json:"previous"`
	Change   int `json:"change"`
	// ChangePct is the relative change in percent, null when the week
	// before had none.
	ChangePct *float64 `json:"change_pct"`
}

// NewCount fills the change fields from the two counts.
func NewCount(count, previous int) Count {
	c := Count{Count: count, Previous: previous, Change: count - previous}
	if previous > 0 {
		c.ChangePct = Ratio(100*float64(count-previous), float64(previous))
	}
	return c
}

// Ratio returns a/b rounded to four decimals, or nil when b is zero, so
// rates and percentages compare equal across runs and renderings.
func Ratio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	v := round(a/b, 4)
	return &v
}

// CategorySummary is one category's week with its districts.
type CategorySummary struct {
	Category string `json:"category"`
	Name     string `json:"name"`
	Count
	// Districts lists every district, the plan's priority districts for
	// this category first, in the plan's order. Unlocated counts the
	// category's complaints in no district (awaiting triage), so the
	// districts and Unlocated add up to Count, in both weeks.
	Districts []DistrictCount `json:"districts"`
	Unlocated Count           `json:"unlocated"`
}

// DistrictCount is one district's complaints of a category.
type DistrictCount struct {
	District string `json:"district"`
	Name     string `json:"name"`
	// Priority marks a priority district of the report's plan
	// (Report.PriorityPlan) for the category.
	Priority bool `json:"priority"`
	Count
	// PriorityCount, in a priority district only, counts the complaints of
	// the kinds the plan names (in 2024 construction and social-life
	// noise; construction-site and road dust): Count holds every kind.
	PriorityCount *Count `json:"priority_count,omitempty"`
}

// Day is one day's complaints in Asia/Shanghai.
type Day struct {
	Date       string         `json:"date"` // 2024-03-11
	Total      int            `json:"total"`
	ByCategory map[string]int `json:"by_category"`
	// InWeek marks the days of the report week.
	InWeek bool `json:"in_week"`
}

// Hotspot is a repeat-complaint hotspot as the week saw it.
type Hotspot struct {
	ID          string `json:"id"`
	Category    string `json:"category"`
	Subcategory string `json:"subcategory,omitempty"`
	// SubcategoryName names Subcategory (建筑施工噪声).
	SubcategoryName string `json:"subcategory_name,omitempty"`
	// Priority marks a hotspot of a kind the report's plan makes a
	// priority in its district (重点): the report lists them first.
	Priority     bool     `json:"priority"`
	District     string   `json:"district"`
	DistrictName string   `json:"district_name"`
	Subdistrict  string   `json:"subdistrict,omitempty"`
	Place        string   `json:"place,omitempty"`
	Lon          *float64 `json:"lon"` // WGS-84; null when no member has coordinates
	Lat          *float64 `json:"lat"`
	// WeekCount, PreviousCount and TotalCount are its complaints in the
	// report week, the week before, and up to the end of the report week.
	WeekCount     int    `json:"week_count"`
	PreviousCount int    `json:"previous_count"`
	TotalCount    int    `json:"total_count"`
	Trend         string `json:"trend"` // new|growing|persistent|resolved
	// Status is the hotspot's lifecycle status at the week's end, empty
	// when none was on record then (found later, or unchanged since
	// before statuses were recorded and last written after the week).
	Status  string    `json:"status"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
	// Team and CaseID name the hotspot's case, opened before the week's
	// end, that holds most of its complaints of the week (on a tie, one of
	// the hotspot's own category, then the latest), empty when none; Team
	// and CaseStatus are the case's at the week's end, or, for a case
	// whose record begins after the week's end (opened from a backlog),
	// as the report's generation found them.
	Team       string `json:"team,omitempty"`
	TeamName   string `json:"team_name,omitempty"`
	CaseID     string `json:"case_id,omitempty"`
	CaseStatus string `json:"case_status,omitempty"`
	// Cases are the hotspot's cases that were open during the week: a
	// hotspot spread over several sites has a case at each, and the cases
	// of the hotspots merged into it count as its own. Latest opened
	// first, at most MaxHotspotCases; CaseCount counts them all.
	Cases     []HotspotCase `json:"cases"`
	CaseCount int           `json:"case_count"`
}

// MaxHotspotCases caps the cases a report lists for one hotspot.
const MaxHotspotCases = 20

// HotspotCase is one case of a hotspot, with its status and team at the
// week's end.
type HotspotCase struct {
	CaseID   string    `json:"case_id"`
	Team     string    `json:"team,omitempty"`
	TeamName string    `json:"team_name,omitempty"`
	Status   string    `json:"status"`
	Place    string    `json:"place,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
}

// GistarCategory is the Gi* analysis of one category.
type GistarCategory struct {
	Category string `json:"category"`
	// CellMeters is the side of the grid cells.
	CellMeters float64 `json:"cell_meters"`
	// Points counts the week's complaints analysed.
	Points int `json:"points"`
	// Cells are the week's significant hot spots, strongest first; Cooled
	// the cells hot in most earlier weeks but not in this one. A hot spot
	// holds at least MinCount complaints of the week (a repeat): Omitted
	// counts the cells with fewer that Gi* found significant, mostly
	// through their neighbours, left out.
	Cells    []Cell `json:"cells"`
	Cooled   []Cell `json:"cooled"`
	Omitted  int    `json:"omitted"`
	MinCount int    `json:"min_count"`
}

// Cell is one Gi* grid cell.
type Cell struct {
	ID       string       `json:"id"`
	Lon      float64      `json:"lon"`
	Lat      float64      `json:"lat"`
	Polygon  [][2]float64 `json:"polygon"`
	Count    int          `json:"count"`
	Z        float64      `json:"z"`
	Q        float64      `json:"q"`
	Class    string       `json:"class"`
	HotWeeks int          `json:"hot_weeks"`
}

// Timeliness is how fast the teams handled their cases. A case counts for
// signing when its sign-for deadline fell in the week and for resolving
// when its resolve deadline did, judged at the end of the week, so a
// week's figures never change once the week is over.
type Timeliness struct {
	Sign       Rate           `json:"sign"`
	Resolve    Rate           `json:"resolve"`
	ByTeam     []TeamRate     `json:"by_team"`
	ByDistrict []DistrictRate `json:"by_district"`
	// Overdue lists cases past their resolve deadline and unresolved at
	// the end of the week, the longest overdue first; OverdueTotal counts
	// them all when the list is cut short.
	Overdue      []OverdueCase `json:"overdue"`
	OverdueTotal int           `json:"overdue_total"`
	// Escalations lists the cases escalated (督办) during the week, and
	// Extensions the resolve deadlines extended (延期) in it.
	Escalations []Escalation `json:"escalations"`
	Extensions  []Escalation `json:"extensions"`
}

// Rate is how many cases met a deadline out of those that had it.
type Rate struct {
	Due    int      `json:"due"`
	OnTime int      `json:"on_time"`
	Rate   *float64 `json:"rate"` // null when none was due
}

// NewRate fills Rate.
func NewRate(due, onTime int) Rate {
	return Rate{Due: due, OnTime: onTime, Rate: Ratio(float64(onTime), float64(due))}
}

// TeamRate is one team's timeliness.
type TeamRate struct {
	Team     string `json:"team"`
	Name     string `json:"name"`
	District string `json:"district"`
	Sign     Rate   `json:"sign"`
	Resolve  Rate   `json:"resolve"`
}

// DistrictRate is one district's timeliness.
type DistrictRate struct {
	District string `json:"district"`
	Name     string `json:"name"`
	Sign     Rate   `json:"sign"`
	Resolve  Rate   `json:"resolve"`
}

// OverdueCase is a case past its resolve deadline at the end of the week.
type OverdueCase struct {
	CaseID       string    `json:"case_id"`
	Category     string    `json:"category"`
	District     string    `json:"district"`
	DistrictName string    `json:"district_name"`
	Team         string    `json:"team,omitempty"`
	TeamName     string    `json:"team_name,omitempty"`
	Place        string    `json:"place,omitempty"`
	Status       string    `json:"status"`
	ResolveDue   time.Time `json:"resolve_due"`
	// DaysOverdue is the time past the deadline at the end of the week.
	DaysOverdue float64 `json:"days_overdue"`
	Escalated   bool    `json:"escalated"`
}

// Escalation is one escalation of a case during the week (in Extensions,
// one extension of its deadline).
type Escalation struct {
	CaseID       string    `json:"case_id"`
	At           time.Time `json:"at"`
	Category     string    `json:"category"`
	District     string    `json:"district"`
	DistrictName string    `json:"district_name"`
	Team         string    `json:"team,omitempty"`
	TeamName     string    `json:"team_name,omitempty"`
	// Deadline is the kind of deadline ("sign" or "resolve") concerned:
	// for an escalation the one that passed, at DueBefore; for an
	// extension the resolve deadline, moved from DueBefore to DueAfter.
	Deadline  string     `json:"deadline,omitempty"`
	DueBefore *time.Time `json:"due_before,omitempty"`
	DueAfter  *time.Time `json:"due_after,omitempty"`
}

// Repeat is the repeat-complaint rate: complaints of the week that joined
// a hotspot that already had an earlier complaint, out of all the week's
// complaints.
type Repeat struct {
	Complaints int      `json:"complaints"`
	InHotspots int      `json:"in_hotspots"`
	Repeats    int      `json:"repeats"`
	Rate       *float64 `json:"rate"`
}

// shanghai is the zone the report's dates are written in.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}()
