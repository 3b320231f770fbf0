// Package routing decides which team handles a located complaint, how
// (on site or a remote check first), at what priority, and by when it must
// be signed for and resolved. The rules, teams, special places and
// deadlines are seed configuration; this package holds no state.
package routing

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/workday"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// ErrNoRule is matched (errors.Is) by every NoRouteError: the complaint
// goes to triage instead of to a guessed team.
var ErrNoRule = errors.New("no routing rule")

// ErrInvalidRequest marks a request the router cannot judge at all, such
// as one without the time of the call; it is the caller's bug, not triage.
var ErrInvalidRequest = errors.New("invalid routing request")

// Reason says why a complaint has no route, for the triage queue.
type Reason string

// Reasons a complaint has no route.
const (
	ReasonUnknownCategory    Reason = "unknown_category"
	ReasonUnknownSubcategory Reason = "unknown_subcategory"
	ReasonUnknownDistrict    Reason = "unknown_district"
	ReasonNoMatchingRule     Reason = "no_matching_rule"
	ReasonAllTeamsExcluded   Reason = "all_teams_excluded"
)

// NoRouteError names why no team was chosen. It carries no personal data
// and can be shown to a triage supervisor as it is.
type NoRouteError struct {
	Reason      Reason
	Category    string
	Subcategory string
	District    string
	Excluded    []string // teams that returned the case, for ReasonAllTeamsExcluded
}

// Error describes the missing route without any personal data.
func (e *NoRouteError) Error() string {
	s := fmt.Sprintf("no route for %s/%s in %q: %s", e.Category, e.Subcategory, e.District, e.Reason)
	if len(e.Excluded) > 0 {
		s += " (returned by " + strings.Join(e.Excluded, ", ") + ")"
	}
	return s
}

// Unwrap makes every NoRouteError match ErrNoRule.
func (e *NoRouteError) Unwrap() error { return ErrNoRule }

// Request is what the router needs to know about a located complaint.
type Request struct {
	Category    string
	Subcategory string
	// Detail is a finer kind within the subcategory when the classifier
	// knows it, e.g. "bar_ktv" or "neighbour"; rules may match on it.
	Detail string
	// Neighbour marks social-life noise between neighbours; it is the same
	// as Detail "neighbour".
	Neighbour bool
	District  string
	Lon, Lat  *float64 // WGS-84, optional
	Place     string   // named place or normalised address, optional
	At        time.Time
	// Priority marks a priority district or a repeat complaint; Urgent
	// takes the urgent deadlines whatever else applies.
	Priority, Urgent bool
	// ExcludeTeams are teams that returned the case (退单); they are never
	// chosen again.
	ExcludeTeams []string
}

// Decision is where a complaint goes and by when it must be handled.
type Decision struct {
	Team           Team
	CoTeams        []Team // departments acting with Team, recorded on the case
	Mode           string // ModeOnSite or ModeNonSite
	Rule           string // id of the rule that decided
	Priority       string // PriorityUrgent, PriorityHigh or PriorityNormal
	QuietCommunity string // name of the quiet community the complaint is in
	PositiveList   string // name of the positive-list enterprise it is at
	SignDue        time.Time
	ResolveDue     time.Time
	// CalendarCovered is false when a working-day deadline fell outside the
	// years of the holiday calendar and was counted on weekdays only.
	CalendarCovered bool
}

type rule struct {
	Rule
	rank     int
	from, to int // window, minutes after midnight
	details  map[string]bool
	keywords []string
}

// Router applies the routing rules. It is safe for concurrent use.
type Router struct {
	cal        *workday.Calendar
	teams      []Team
	teamByID   map[string]Team
	teamByDept map[[2]string]Team
	districts  map[string]bool
	categories map[string][]string
	rules      []rule // sorted by precedence, most specific first
	places     []Place
	deadlines  Deadlines
}

// Load builds the router from the embedded seeds.
func Load() (*Router, error) {
	return LoadFS(seeds.FS)
}

// LoadCalendar builds the router from the embedded seeds on the given
// working-day calendar (workday.LoadWith reads an operator's additions).
func LoadCalendar(cal *workday.Calendar) (*Router, error) {
	cfg, err := ReadConfig(seeds.FS)
	if err != nil {
		return nil, err
	}
	return New(cfg, cal)
}

// LoadFS builds the router from the seed files in fsys (teams.json,
// routing.json, special_places.json, deadlines.json and calendar.json).
func LoadFS(fsys fs.FS) (*Router, error) {
	cfg, err := ReadConfig(fsys)
	if err != nil {
		return nil, err
	}
	cal, err := workday.LoadFS(fsys)
	if err != nil {
		return nil, err
	}
	return New(cfg, cal)
}

// New checks cfg and builds a router on the given working-day calendar.
func New(cfg Config, cal *workday.Calendar) (*Router, error) {
	if cal == nil {
		return nil, errors.New("routing needs a working-day calendar")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("routing configuration: %w", err)
	}
	r := &Router{
		cal:        cal,
		teams:      slices.Clone(cfg.Teams),
		teamByID:   make(map[string]Team, len(cfg.Teams)),
		teamByDept: make(map[[2]string]Team, len(cfg.Teams)),
		districts:  make(map[string]bool),
		categories: maps.Clone(cfg.Rules.Categories),
		places:     slices.Clone(cfg.Places),
		deadlines:  cfg.Deadlines,
	}
	for _, d := range cfg.Rules.Districts {
		r.districts[d] = true
	}
	for _, t := range cfg.Teams {
		r.teamByID[t.ID] = t
		r.teamByDept[[2]string{t.Department, t.District}] = t
	}
	for _, cr := range cfg.Rules.Rules {
		ru := rule{Rule: cr, rank: rank(cr)}
		if cr.Window != nil {
			ru.from, _ = parseClock(cr.Window.From)
			ru.to, _ = parseClock(cr.Window.To)
		}
		if len(cr.Details) > 0 {
			ru.details = make(map[string]bool)
			for _, d := range cr.Details {
				ru.details[strings.ToLower(d)] = true
			}
		}
		for _, k := range cr.Keywords {
			ru.keywords = append(ru.keywords, normalise(k))
		}
		r.rules = append(r.rules, ru)
	}
	sort.SliceStable(r.rules, func(i, j int) bool { return r.rules[i].rank > r.rules[j].rank })
	return r, nil
}

// rank orders rules by precedence. A non-fallback rule always beats a
// fallback rule; among equals, each condition a rule sets makes it more
// specific, weighted so that a more important condition outweighs all the
// lesser ones together: special place kind, then detail or keywords, then
// time window, then district, then subcategory. Rules of equal rank keep
// their order in routing.json.
func rank(r Rule) int {
	n := 0
	if !r.Fallback {
		n += 32
	}
	if r.PlaceKind != "" {
		n += 16
	}
	if len(r.Details) > 0 || len(r.Keywords) > 0 {
		n += 8
	}
	if r.Window != nil {
		n += 4
	}
	if r.District != "" {
		n += 2
	}
	if r.Subcategory != "" {
		n++
	}
	return n
}

// normalise folds case and drops spaces so that "KTV", "ktv" and "K T V"
// compare equal in names and keywords.
func normalise(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// Teams lists every team, in seed order.
func (r *Router) Teams() []Team { return slices.Clone(r.teams) }

// Team finds a team by id, for officers' tokens and reassignments.
func (r *Router) Team(id string) (Team, bool) {
	t, ok := r.teamByID[id]
	return t, ok
}

// Rule returns a rule by id, so that a decision's Rule can be explained
// to an officer with its basis.
func (r *Router) Rule(id string) (Rule, bool) {
	for _, ru := range r.rules {
		if ru.ID == id {
			return ru.Rule, true
		}
	}
	return Rule{}, false
}

// TeamFor is the team of a department in a district.
func (r *Router) TeamFor(department, district string) (Team, bool) {
	t, ok := r.teamByDept[[2]string{department, district}]
	return t, ok
}

// Calendar is the working-day calendar the deadlines are counted on.
func (r *Router) Calendar() *workday.Calendar { return r.cal }

// match is what a request brings to rule matching, computed once.
type match struct {
	req      Request
	minute   int
	details  map[string]bool
	text     string
	positive *Place
	quiet    *Place
}

func (m *match) matches(ru *rule) bool {
	req := m.req
	if ru.Category != req.Category {
		return false
	}
	if ru.Subcategory != "" && ru.Subcategory != req.Subcategory {
		return false
	}
	if ru.District != "" && ru.District != req.District {
		return false
	}
	if ru.Window != nil {
		in := m.minute >= ru.from && m.minute < ru.to
		if ru.from > ru.to { // over midnight
			in = m.minute >= ru.from || m.minute < ru.to
		}
		if !in {
			return false
		}
	}
	switch ru.PlaceKind {
	case PlacePositiveList:
		if m.positive == nil {
			return false
		}
	case PlaceQuietCommunity:
		if m.quiet == nil {
			return false
		}
	}
	if len(ru.details) > 0 || len(ru.keywords) > 0 {
		hit := false
		for d := range m.details {
			if ru.details[d] {
				hit = true
				break
			}
		}
		for _, k := range ru.keywords {
			if hit {
				break
			}
			hit = m.text != "" && strings.Contains(m.text, k)
		}
		if !hit {
			return false
		}
	}
	return true
}

// Route chooses the team for a complaint.
//
// Every rule whose conditions all hold is a candidate; candidates are
// tried most specific first (see rank: non-fallback before fallback, then
// special place kind, detail or keywords, time window, district,
// subcategory; ties in file order). The first candidate whose team in the
// complaint's district is not in ExcludeTeams decides. Fallback rules
// therefore only act when the usual team has returned the case. When no
// rule applies, or every candidate's team returned the case, Route
// returns a *NoRouteError (errors.Is ErrNoRule) naming the reason; it
// never guesses a team.
//
// The time window is read on the Asia/Shanghai clock of At. A complaint
// inside a quiet community is raised to priority; Urgent always wins.
// Deadlines are counted from At by the level's spans in deadlines.json.
func (r *Router) Route(req Request) (Decision, error) {
	if req.At.IsZero() {
		return Decision{}, fmt.Errorf("%w: no time of the call", ErrInvalidRequest)
	}
	noRoute := func(reason Reason) error {
		return &NoRouteError{Reason: reason, Category: req.Category, Subcategory: req.Subcategory, District: req.District}
	}
	subs, ok := r.categories[req.Category]
	if !ok {
		return Decision{}, noRoute(ReasonUnknownCategory)
	}
	if req.Subcategory != "" && !slices.Contains(subs, req.Subcategory) {
		return Decision{}, noRoute(ReasonUnknownSubcategory)
	}
	if !r.districts[req.District] {
		return Decision{}, noRoute(ReasonUnknownDistrict)
	}

	local := req.At.In(r.cal.Location())
	m := match{
		req:     req,
		minute:  local.Hour()*60 + local.Minute(),
		details: make(map[string]bool),
		text:    normalise(req.Place + " " + req.Detail),
	}
	if req.Detail != "" {
		m.details[strings.ToLower(req.Detail)] = true
	}
	if req.Neighbour {
		m.details["neighbour"] = true
	}
	m.positive = r.placeAt(req, PlacePositiveList)
	m.quiet = r.placeAt(req, PlaceQuietCommunity)

	excluded := make(map[string]bool, len(req.ExcludeTeams))
	for _, id := range req.ExcludeTeams {
		excluded[id] = true
	}
	matched := false
	for i := range r.rules {
		ru := &r.rules[i]
		if !m.matches(ru) {
			continue
		}
		matched = true
		team := r.teamByDept[[2]string{ru.Department, req.District}]
		if excluded[team.ID] {
			continue
		}
		return r.decide(req, m, ru, team)
	}
	if !matched {
		return Decision{}, noRoute(ReasonNoMatchingRule)
	}
	e := &NoRouteError{Reason: ReasonAllTeamsExcluded, Category: req.Category, Subcategory: req.Subcategory, District: req.District}
	e.Excluded = slices.Clone(req.ExcludeTeams)
	slices.Sort(e.Excluded)
	return Decision{}, e
}

func (r *Router) decide(req Request, m match, ru *rule, team Team) (Decision, error) {
	d := Decision{Team: team, Mode: ru.Mode, Rule: ru.ID, Priority: PriorityNormal}
	for _, dept := range ru.CoDepartments {
		if t, ok := r.teamByDept[[2]string{dept, req.District}]; ok && t.ID != team.ID {
			d.CoTeams = append(d.CoTeams, t)
		}
	}
	if m.positive != nil {
		d.PositiveList = m.positive.Name
	}
	if m.quiet != nil {
		d.QuietCommunity = m.quiet.Name
	}
	switch {
	case req.Urgent:
		d.Priority = PriorityUrgent
	case req.Priority || m.quiet != nil:
		d.Priority = PriorityHigh
	}
	var err error
	if d.SignDue, d.ResolveDue, err = r.Deadlines(d.Priority, req.At); err != nil {
		return Decision{}, err
	}
	limits := r.deadlines.Levels[d.Priority]
	d.CalendarCovered = r.covered(req.At, limits.Sign, d.SignDue) && r.covered(req.At, limits.Resolve, d.ResolveDue)
	return d, nil
}

// Deadlines are the sign-for and resolve deadlines of a case of priority
// given to a team at at, counted on the router's working-day calendar by
// the spans of seeds/deadlines.json: a routing decision's, and a
// reassignment's (改派), whose new team gets the time any team is given.
func (r *Router) Deadlines(priority string, at time.Time) (sign, resolve time.Time, err error) {
	limits, ok := r.deadlines.Levels[priority]
	if !ok {
		return time.Time{}, time.Time{}, fmt.Errorf("no deadlines for priority %q", priority)
	}
	if sign, err = r.cal.Deadline(at, limits.Sign); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("sign-for deadline of %s: %w", priority, err)
	}
	if resolve, err = r.cal.Deadline(at, limits.Resolve); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("resolve deadline of %s: %w", priority, err)
	}
	return sign, resolve, nil
}

// covered tells whether a deadline span from at to due was counted on the
// calendar's announced days: a span of hours is wall-clock time, which no
// holiday changes, so only a working-day span can fall outside.
func (r *Router) covered(at time.Time, s workday.Span, due time.Time) bool {
	return s.WorkingDays == 0 || r.cal.Covers(at) && r.cal.Covers(due)
}

// placeAt finds the special place of a kind the complaint is at: the
// nearest one whose radius holds the complaint's point, else the first in
// the complaint's district whose name or alias its named place contains.
func (r *Router) placeAt(req Request, kind string) *Place {
	var best *Place
	bestDist := 0.0
	if req.Lon != nil && req.Lat != nil {
		for i := range r.places {
			p := &r.places[i]
			if p.Kind != kind {
				continue
			}
			dist := geo.DistanceMeters(*req.Lon, *req.Lat, p.Lon, p.Lat)
			if dist <= p.RadiusM && (best == nil || dist < bestDist) {
				best, bestDist = p, dist
			}
		}
		if best != nil {
			return best
		}
	}
	place := normalise(req.Place)
	if place == "" {
		return nil
	}
	for i := range r.places {
		p := &r.places[i]
		if p.Kind != kind || p.District != req.District {
			continue
		}
		for _, name := range append([]string{p.Name}, p.Aliases...) {
			if n := normalise(name); n != "" && strings.Contains(place, n) {
				return p
			}
		}
	}
	return nil
}
