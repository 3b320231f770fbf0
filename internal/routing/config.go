package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// Seed file names read by LoadFS.
const (
	TeamsFile         = "teams.json"
	RulesFile         = "routing.json"
	SpecialPlacesFile = "special_places.json"
	DeadlinesFile     = "deadlines.json"
)

// Departments named by the routing rules. They are configuration, not an
// enumeration: a rule may name any department that has teams.
const (
	DeptEcology          = "生态环境"
	DeptUrbanManagement  = "城市管理综合执法"
	DeptHousing          = "住建"
	DeptPolice           = "公安"
	DeptTrafficTransport = "交通"
)

// Modes of handling a case: a site visit, or a remote check first
// (drone, online monitoring data) for enterprises on the positive list.
const (
	ModeOnSite  = "on_site"
	ModeNonSite = "non_site"
)

// Kinds of special place a rule or the priority can depend on.
const (
	PlacePositiveList   = "positive_list"   // 监督执法正面清单 enterprise
	PlaceQuietCommunity = "quiet_community" // 宁静小区
)

// Priority levels of a decision, the keys of deadlines.json.
const (
	PriorityUrgent = "urgent"
	PriorityHigh   = "priority"
	PriorityNormal = "normal"
)

// priorityRank orders the priority levels, lowest first.
var priorityRank = map[string]int{PriorityNormal: 1, PriorityHigh: 2, PriorityUrgent: 3}

// Outranks reports whether priority p ranks above q (urgent above
// priority above normal; an unknown level ranks below all).
func Outranks(p, q string) bool { return priorityRank[p] > priorityRank[q] }

// Team is a unit of one department in one district that receives cases.
type Team struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Department string `json:"department"`
	District   string `json:"district"`
}

// Window is a local time-of-day range "HH:MM" to "HH:MM" in Asia/Shanghai;
// a window whose end is before its start runs over midnight (22:00-06:00).
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Rule maps a kind of complaint to the department that acts on it. Empty
// optional fields match anything; see Router.Route for the precedence.
type Rule struct {
	ID            string   `json:"id"`
	Category      string   `json:"category"`
	Subcategory   string   `json:"subcategory,omitempty"`
	District      string   `json:"district,omitempty"`
	Window        *Window  `json:"window,omitempty"`
	PlaceKind     string   `json:"place_kind,omitempty"`
	Details       []string `json:"details,omitempty"`
	Keywords      []string `json:"keywords,omitempty"`
	Fallback      bool     `json:"fallback,omitempty"`
	Department    string   `json:"department"`
	CoDepartments []string `json:"co_departments,omitempty"`
	Mode          string   `json:"mode"`
	Basis         string   `json:"basis,omitempty"`
}

// Rules is the layout of seeds/routing.json: the districts and the
// category taxonomy the rules are checked against, and the rules.
type Rules struct {
	Districts  []string            `json:"districts"`
	Categories map[string][]string `json:"categories"`
	Rules      []Rule              `json:"rules"`
}

// Place is a special place: an enterprise on the positive list or a quiet
// community. A complaint is at the place when its WGS-84 point lies within
// RadiusM of the place's point, or when its named place contains the
// place's name or an alias and the districts agree.
type Place struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Aliases  []string `json:"aliases,omitempty"`
	District string   `json:"district"`
	Lon      float64  `json:"lon"`
	Lat      float64  `json:"lat"`
	RadiusM  float64  `json:"radius_m"`
	Demo     bool     `json:"demo,omitempty"`
}

// Limits are the sign-for and resolve deadlines of one priority level.
type Limits struct {
	Sign    workday.Span `json:"sign"`
	Resolve workday.Span `json:"resolve"`
}

// Deadlines is the layout of seeds/deadlines.json, keyed by priority level.
type Deadlines struct {
	Note   string            `json:"note,omitempty"`
	Levels map[string]Limits `json:"levels"`
}

// Config is everything a Router is built from; LoadFS fills it from the
// seed files, tests build their own.
type Config struct {
	Teams     []Team
	Rules     Rules
	Places    []Place
	Deadlines Deadlines
}

// ReadConfig decodes the four routing seed files from fsys.
func ReadConfig(fsys fs.FS) (Config, error) {
	var cfg Config
	var teams struct {
		Teams []Team `json:"teams"`
	}
	var places struct {
		Note   string  `json:"note"`
		Places []Place `json:"places"`
	}
	for _, f := range []struct {
		name string
		dst  any
	}{
		{TeamsFile, &teams},
		{RulesFile, &cfg.Rules},
		{SpecialPlacesFile, &places},
		{DeadlinesFile, &cfg.Deadlines},
	} {
		b, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return Config{}, fmt.Errorf("read %s: %w", f.name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.dst); err != nil {
			return Config{}, fmt.Errorf("decode %s: %w", f.name, err)
		}
	}
	cfg.Teams = teams.Teams
	cfg.Places = places.Places
	return cfg, nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("clock %q not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("clock %q not HH:MM", s)
	}
	return hh*60 + mm, nil
}

// validate checks the configuration as a whole, so that a mistake in a
// seed stops the router at start instead of misrouting complaints.
func (cfg Config) validate() error {
	var errs []error
	districts := make(map[string]bool)
	for _, d := range cfg.Rules.Districts {
		if !slugRE.MatchString(d) {
			errs = append(errs, fmt.Errorf("district %q is not a slug", d))
		}
		districts[d] = true
	}
	if len(districts) == 0 {
		errs = append(errs, errors.New("no districts"))
	}
	if len(cfg.Rules.Categories) == 0 {
		errs = append(errs, errors.New("no categories"))
	}

	teamIDs := make(map[string]bool)
	byDept := make(map[[2]string]string)
	for _, t := range cfg.Teams {
		switch {
		case !slugRE.MatchString(t.ID):
			errs = append(errs, fmt.Errorf("team id %q is not an ascii slug", t.ID))
		case teamIDs[t.ID]:
			errs = append(errs, fmt.Errorf("team %s listed twice", t.ID))
		}
		teamIDs[t.ID] = true
		if t.Name == "" || t.Department == "" {
			errs = append(errs, fmt.Errorf("team %s needs a name and a department", t.ID))
		}
		if !districts[t.District] {
			errs = append(errs, fmt.Errorf("team %s in unknown district %q", t.ID, t.District))
		}
		key := [2]string{t.Department, t.District}
		if other, dup := byDept[key]; dup {
			errs = append(errs, fmt.Errorf("teams %s and %s are both %s in %s", other, t.ID, t.Department, t.District))
		}
		byDept[key] = t.ID
	}

	ruleIDs := make(map[string]bool)
	for _, r := range cfg.Rules.Rules {
		if r.ID == "" || ruleIDs[r.ID] {
			errs = append(errs, fmt.Errorf("rule id %q empty or listed twice", r.ID))
		}
		ruleIDs[r.ID] = true
		subs, ok := cfg.Rules.Categories[r.Category]
		if !ok {
			errs = append(errs, fmt.Errorf("rule %s: unknown category %q", r.ID, r.Category))
		} else if r.Subcategory != "" && !slices.Contains(subs, r.Subcategory) {
			errs = append(errs, fmt.Errorf("rule %s: unknown subcategory %q of %s", r.ID, r.Subcategory, r.Category))
		}
		if r.District != "" && !districts[r.District] {
			errs = append(errs, fmt.Errorf("rule %s: unknown district %q", r.ID, r.District))
		}
		if r.Mode != ModeOnSite && r.Mode != ModeNonSite {
			errs = append(errs, fmt.Errorf("rule %s: mode %q, want %s or %s", r.ID, r.Mode, ModeOnSite, ModeNonSite))
		}
		if r.PlaceKind != "" && r.PlaceKind != PlacePositiveList && r.PlaceKind != PlaceQuietCommunity {
			errs = append(errs, fmt.Errorf("rule %s: unknown place kind %q", r.ID, r.PlaceKind))
		}
		if r.Window != nil {
			from, err1 := parseClock(r.Window.From)
			to, err2 := parseClock(r.Window.To)
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, fmt.Errorf("rule %s: window: %w", r.ID, err))
			} else if from == to {
				errs = append(errs, fmt.Errorf("rule %s: empty window %s-%s", r.ID, r.Window.From, r.Window.To))
			}
		}
		if r.Department == "" {
			errs = append(errs, fmt.Errorf("rule %s: no department", r.ID))
		}
		for _, k := range append(slices.Clone(r.Keywords), r.Details...) {
			if strings.TrimSpace(k) == "" {
				errs = append(errs, fmt.Errorf("rule %s: empty detail or keyword would match every complaint", r.ID))
			}
		}
		covered := cfg.Rules.Districts
		if r.District != "" {
			covered = []string{r.District}
		}
		for _, d := range covered {
			for _, dept := range append([]string{r.Department}, r.CoDepartments...) {
				if _, ok := byDept[[2]string{dept, d}]; !ok {
					errs = append(errs, fmt.Errorf("rule %s: no %s team in %s", r.ID, dept, d))
				}
			}
		}
	}

	placeIDs := make(map[string]bool)
	for _, p := range cfg.Places {
		if p.ID == "" || placeIDs[p.ID] {
			errs = append(errs, fmt.Errorf("special place id %q empty or listed twice", p.ID))
		}
		placeIDs[p.ID] = true
		if p.Kind != PlacePositiveList && p.Kind != PlaceQuietCommunity {
			errs = append(errs, fmt.Errorf("special place %s: unknown kind %q", p.ID, p.Kind))
		}
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("special place %s: no name", p.ID))
		}
		if !districts[p.District] {
			errs = append(errs, fmt.Errorf("special place %s: unknown district %q", p.ID, p.District))
		}
		// Xiamen lies within 117.8-118.5 E, 24.3-24.95 N; a point outside a
		// generous box around it is a swapped or mistyped coordinate.
		if p.Lon < 117.5 || p.Lon > 118.8 || p.Lat < 24.0 || p.Lat > 25.2 {
			errs = append(errs, fmt.Errorf("special place %s: point %.6f,%.6f outside Xiamen", p.ID, p.Lon, p.Lat))
		}
		if p.RadiusM <= 0 || p.RadiusM > 5000 {
			errs = append(errs, fmt.Errorf("special place %s: radius %.0f m outside (0, 5000]", p.ID, p.RadiusM))
		}
	}

	for _, level := range []string{PriorityUrgent, PriorityHigh, PriorityNormal} {
		l, ok := cfg.Deadlines.Levels[level]
		if !ok {
			errs = append(errs, fmt.Errorf("deadlines: no %s level", level))
			continue
		}
		if err := l.Sign.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("deadlines: %s sign: %w", level, err))
		}
		if err := l.Resolve.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("deadlines: %s resolve: %w", level, err))
		}
	}
	return errors.Join(errs...)
}
