package routing

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/workday"
	"github.com/xiamen-eeb/nuisance/seeds"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

var districts = []string{"siming", "haicang", "huli", "jimei", "tongan", "xiangan"}

func setup(t testing.TB) *Router {
	t.Helper()
	r, err := Load()
	if err != nil {
		t.Fatalf("load router: %v", err)
	}
	return r
}

func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func endOf(t testing.TB, date string) time.Time {
	t.Helper()
	return at(t, date+" 23:59").Add(59 * time.Second)
}

func ptr(f float64) *float64 { return &f }

func place(t testing.TB, r *Router, id string) Place {
	t.Helper()
	for _, p := range r.places {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("special place %s not in seed", id)
	return Place{}
}

func TestTeamsCoverEveryDistrictAndDepartment(t *testing.T) {
	t.Parallel()
	r := setup(t)
	suffix := map[string]string{
		DeptEcology:          "eco",
		DeptUrbanManagement:  "urban",
		DeptHousing:          "housing",
		DeptPolice:           "police",
		DeptTrafficTransport: "traffic",
	}
	for _, d := range districts {
		for dept, sfx := range suffix {
			team, ok := r.TeamFor(dept, d)
			if !ok {
				t.Errorf("no %s team in %s", dept, d)
				continue
			}
			if want := d + "-" + sfx; team.ID != want {
				t.Errorf("%s team in %s is %s, want %s", dept, d, team.ID, want)
			}
			if byID, ok := r.Team(team.ID); !ok || byID != team {
				t.Errorf("Team(%q) = %+v, %v; want %+v", team.ID, byID, ok, team)
			}
		}
	}
	if got := len(r.Teams()); got != len(districts)*len(suffix) {
		t.Errorf("%d teams, want %d", got, len(districts)*len(suffix))
	}
	names := map[string]string{
		"siming-eco":     "思明区生态环境执法大队",
		"siming-urban":   "思明区城市管理综合执法大队",
		"siming-housing": "思明区住房和建设局工地监管科",
		"siming-police":  "思明分局治安大队",
		"siming-traffic": "思明交警大队",
		"xiangan-eco":    "翔安区生态环境执法大队",
	}
	for id, want := range names {
		if team, _ := r.Team(id); team.Name != want {
			t.Errorf("team %s named %q, want %q", id, team.Name, want)
		}
	}
	if _, ok := r.Team("fuzhou-eco"); ok {
		t.Error("Team(fuzhou-eco) found, want no such team")
	}
}

// Every category and subcategory in every district goes to the department
// of DOMAIN.md's table, at 10:00 on an ordinary working day, at no special
// place.
func TestRouteEveryCategoryAndDistrict(t *testing.T) {
	t.Parallel()
	r := setup(t)
	type want struct {
		dept, co, rule string
	}
	table := map[[2]string]want{
		{"noise", "construction"}:         {DeptEcology, DeptHousing, "noise.construction"},
		{"noise", "social_life"}:          {DeptUrbanManagement, "", "noise.social_life"},
		{"noise", "traffic"}:              {DeptTrafficTransport, "", "noise.traffic"},
		{"noise", "industrial"}:           {DeptEcology, "", "noise.industrial"},
		{"dust", "construction_site"}:     {DeptHousing, "", "dust.construction_site"},
		{"dust", "road"}:                  {DeptUrbanManagement, "", "dust.road"},
		{"dust", "yard"}:                  {DeptEcology, "", "dust.yard"},
		{"cooking_smoke", "restaurant"}:   {DeptUrbanManagement, "", "cooking_smoke.restaurant"},
		{"cooking_smoke", "open_air_bbq"}: {DeptUrbanManagement, "", "cooking_smoke.open_air_bbq"},
	}
	// The table must name every subcategory the router knows.
	for cat, subs := range r.categories {
		for _, sub := range subs {
			if _, ok := table[[2]string{cat, sub}]; !ok {
				t.Errorf("no expectation for %s/%s", cat, sub)
			}
		}
	}
	for key, w := range table {
		for _, district := range districts {
			t.Run(key[0]+"/"+key[1]+"/"+district, func(t *testing.T) {
				t.Parallel()
				d, err := r.Route(Request{Category: key[0], Subcategory: key[1], District: district, At: at(t, "2024-03-05 10:00")})
				if err != nil {
					t.Fatalf("Route: %v", err)
				}
				if d.Team.Department != w.dept || d.Team.District != district {
					t.Errorf("team %s (%s, %s), want %s in %s", d.Team.ID, d.Team.Department, d.Team.District, w.dept, district)
				}
				if d.Rule != w.rule {
					t.Errorf("rule %s, want %s", d.Rule, w.rule)
				}
				if ru, ok := r.Rule(d.Rule); !ok || ru.Department != d.Team.Department || ru.Basis == "" {
					t.Errorf("Rule(%q) = %+v, %v; want the deciding rule with its basis", d.Rule, ru, ok)
				}
				if d.Mode != ModeOnSite {
					t.Errorf("mode %s, want %s", d.Mode, ModeOnSite)
				}
				var co []string
				for _, c := range d.CoTeams {
					co = append(co, c.Department)
					if c.District != district {
						t.Errorf("co-team %s outside %s", c.ID, district)
					}
				}
				if w.co == "" && len(co) != 0 || w.co != "" && !slices.Equal(co, []string{w.co}) {
					t.Errorf("co-departments %v, want %q", co, w.co)
				}
				if d.Priority != PriorityNormal || d.PositiveList != "" || d.QuietCommunity != "" {
					t.Errorf("priority %s, positive list %q, quiet community %q; want normal and none", d.Priority, d.PositiveList, d.QuietCommunity)
				}
				if want := endOf(t, "2024-03-06"); !d.SignDue.Equal(want) {
					t.Errorf("sign due %s, want %s", d.SignDue, want)
				}
				if want := endOf(t, "2024-03-12"); !d.ResolveDue.Equal(want) {
					t.Errorf("resolve due %s, want %s", d.ResolveDue, want)
				}
			})
		}
	}
}

func TestRouteSocialLifeNoise(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		name     string
		req      Request
		wantTeam string
		wantRule string
	}{
		{"shop loudspeaker by day", Request{Place: "中山路步行街", At: at(t, "2024-03-05 15:00")}, "siming-urban", "noise.social_life"},
		{"neighbour hint by day", Request{Neighbour: true, At: at(t, "2024-03-05 15:00")}, "siming-police", "noise.social_life.neighbour"},
		{"neighbour detail at night", Request{Detail: "neighbour", At: at(t, "2024-03-05 23:30")}, "siming-police", "noise.social_life.neighbour"},
		{"bar at 23:00", Request{Detail: "bar_ktv", At: at(t, "2024-03-05 23:00")}, "siming-police", "noise.social_life.night_venue"},
		{"KTV named in place at 02:00", Request{Place: "星聚会KTV(中山路店)", At: at(t, "2024-03-06 02:00")}, "siming-police", "noise.social_life.night_venue"},
		{"lower-case ktv in place at 22:00 exactly", Request{Place: "某某ktv", At: at(t, "2024-03-05 22:00")}, "siming-police", "noise.social_life.night_venue"},
		{"bar at 05:59", Request{Place: "沙坡尾酒吧", At: at(t, "2024-03-06 05:59")}, "siming-police", "noise.social_life.night_venue"},
		{"bar at 06:00 is daytime", Request{Place: "沙坡尾酒吧", At: at(t, "2024-03-06 06:00")}, "siming-urban", "noise.social_life"},
		{"bar at 21:59 is daytime", Request{Detail: "bar_ktv", At: at(t, "2024-03-05 21:59")}, "siming-urban", "noise.social_life"},
		{"bar at night given in UTC", Request{Detail: "bar_ktv", At: time.Date(2024, 3, 5, 15, 30, 0, 0, time.UTC)}, "siming-police", "noise.social_life.night_venue"},
		{"bar by day given in UTC", Request{Detail: "bar_ktv", At: time.Date(2024, 3, 5, 22, 30, 0, 0, time.UTC)}, "siming-urban", "noise.social_life"},
		{"square dancing at night", Request{Detail: "square_dance", Place: "白鹭洲公园", At: at(t, "2024-03-05 22:30")}, "siming-urban", "noise.social_life"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.Category, req.Subcategory, req.District = "noise", "social_life", "siming"
			d, err := r.Route(req)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Team.ID != tt.wantTeam || d.Rule != tt.wantRule {
				t.Errorf("routed to %s by %s, want %s by %s", d.Team.ID, d.Rule, tt.wantTeam, tt.wantRule)
			}
		})
	}
}

func TestRoutePositiveList(t *testing.T) {
	t.Parallel()
	r := setup(t)
	p := place(t, r, "pl-jimei-hengjunbo")
	north := func(m float64) *float64 { return ptr(p.Lat + m/111195) }
	for _, c := range []struct {
		m      float64
		inside bool
	}{{150, true}, {400, false}} {
		if got := geo.DistanceMeters(p.Lon, p.Lat, p.Lon, *north(c.m)); (got <= p.RadiusM) != c.inside {
			t.Fatalf("test premise: %.0f m north is %.0f m away, radius %.0f", c.m, got, p.RadiusM)
		}
	}
	tests := []struct {
		name         string
		req          Request
		wantTeam     string
		wantMode     string
		wantRule     string
		wantPositive bool
	}{
		{"industrial noise at the point", Request{Category: "noise", Subcategory: "industrial", Lon: ptr(p.Lon), Lat: ptr(p.Lat)}, "jimei-eco", ModeNonSite, "noise.industrial.positive_list", true},
		{"industrial noise 150 m away", Request{Category: "noise", Subcategory: "industrial", Lon: ptr(p.Lon), Lat: north(150)}, "jimei-eco", ModeNonSite, "noise.industrial.positive_list", true},
		{"industrial noise 400 m away", Request{Category: "noise", Subcategory: "industrial", Lon: ptr(p.Lon), Lat: north(400)}, "jimei-eco", ModeOnSite, "noise.industrial", false},
		{"industrial noise by name", Request{Category: "noise", Subcategory: "industrial", Place: "厦门恒俊博电气有限公司 厂区东门"}, "jimei-eco", ModeNonSite, "noise.industrial.positive_list", true},
		{"industrial noise by alias", Request{Category: "noise", Subcategory: "industrial", Place: "恒俊博电气"}, "jimei-eco", ModeNonSite, "noise.industrial.positive_list", true},
		{"yard dust at the point", Request{Category: "dust", Subcategory: "yard", Lon: ptr(p.Lon), Lat: ptr(p.Lat)}, "jimei-eco", ModeNonSite, "dust.yard.positive_list", true},
		{"construction noise at the point", Request{Category: "noise", Subcategory: "construction", Lon: ptr(p.Lon), Lat: ptr(p.Lat)}, "jimei-eco", ModeNonSite, "noise.construction.positive_list", true},
		{"road dust at the point stays on site", Request{Category: "dust", Subcategory: "road", Lon: ptr(p.Lon), Lat: ptr(p.Lat)}, "jimei-urban", ModeOnSite, "dust.road", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.District, req.At = "jimei", at(t, "2024-03-05 10:00")
			d, err := r.Route(req)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Team.ID != tt.wantTeam || d.Mode != tt.wantMode || d.Rule != tt.wantRule {
				t.Errorf("got %s %s by %s, want %s %s by %s", d.Team.ID, d.Mode, d.Rule, tt.wantTeam, tt.wantMode, tt.wantRule)
			}
			if (d.PositiveList == p.Name) != tt.wantPositive || (!tt.wantPositive && d.PositiveList != "") {
				t.Errorf("positive list %q, want at %s: %v", d.PositiveList, p.Name, tt.wantPositive)
			}
		})
	}
	// The name alone does not carry across districts: another district's
	// complaint naming the enterprise is not at it.
	d, err := r.Route(Request{Category: "noise", Subcategory: "industrial", District: "haicang", Place: "厦门恒俊博电气有限公司", At: at(t, "2024-03-05 10:00")})
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if d.Mode != ModeOnSite || d.PositiveList != "" {
		t.Errorf("haicang complaint naming a jimei enterprise: mode %s, positive list %q; want on_site and none", d.Mode, d.PositiveList)
	}
	// Construction noise at a positive-list enterprise keeps housing as co-department.
	d, err = r.Route(Request{Category: "noise", Subcategory: "construction", District: "jimei", Place: "恒俊博电气", At: at(t, "2024-03-05 10:00")})
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if len(d.CoTeams) != 1 || d.CoTeams[0].ID != "jimei-housing" {
		t.Errorf("co-teams %+v, want jimei-housing", d.CoTeams)
	}
}

func TestRouteQuietCommunityRaisesPriority(t *testing.T) {
	t.Parallel()
	r := setup(t)
	q := place(t, r, "qc-siming-lianqian")
	received := at(t, "2024-02-09 15:00") // Friday before Spring Festival 2024
	tests := []struct {
		name         string
		lat          float64
		placeName    string
		urgent       bool
		wantPriority string
		wantQuiet    bool
		wantSign     time.Time
		wantResolve  time.Time
	}{
		{"inside", q.Lat, "", false, PriorityHigh, true, endOf(t, "2024-02-18"), endOf(t, "2024-02-20")},
		{"by name", q.Lat + 0.05, "莲前街道宁静小区3号楼", false, PriorityHigh, true, endOf(t, "2024-02-18"), endOf(t, "2024-02-20")},
		{"outside", q.Lat + 0.01, "", false, PriorityNormal, false, endOf(t, "2024-02-18"), endOf(t, "2024-02-22")},
		{"inside and urgent", q.Lat, "", true, PriorityUrgent, true, at(t, "2024-02-09 17:00"), at(t, "2024-02-10 15:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := r.Route(Request{
				Category: "noise", Subcategory: "social_life", District: "siming",
				Lon: ptr(q.Lon), Lat: ptr(tt.lat), Place: tt.placeName, At: received, Urgent: tt.urgent,
			})
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Priority != tt.wantPriority {
				t.Errorf("priority %s, want %s", d.Priority, tt.wantPriority)
			}
			if (d.QuietCommunity == q.Name) != tt.wantQuiet {
				t.Errorf("quiet community %q, want in %s: %v", d.QuietCommunity, q.Name, tt.wantQuiet)
			}
			if !d.SignDue.Equal(tt.wantSign) || !d.ResolveDue.Equal(tt.wantResolve) {
				t.Errorf("due %s / %s, want %s / %s", d.SignDue, d.ResolveDue, tt.wantSign, tt.wantResolve)
			}
		})
	}
}

func TestRouteDeadlines(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		name             string
		at               time.Time
		priority, urgent bool
		wantLevel        string
		sign, resolve    time.Time
	}{
		{"normal, Fri before Spring Festival 2024", at(t, "2024-02-09 15:00"), false, false, PriorityNormal, endOf(t, "2024-02-18"), endOf(t, "2024-02-22")},
		{"priority, Fri before Spring Festival 2024", at(t, "2024-02-09 15:00"), true, false, PriorityHigh, endOf(t, "2024-02-18"), endOf(t, "2024-02-20")},
		{"urgent during Spring Festival 2024", at(t, "2024-02-10 23:00"), false, true, PriorityUrgent, at(t, "2024-02-11 01:00"), at(t, "2024-02-11 23:00")},
		{"normal, eve of National Day 2024", at(t, "2024-09-30 18:00"), false, false, PriorityNormal, endOf(t, "2024-10-08"), endOf(t, "2024-10-12")},
		{"normal, adjusted Sunday 2024-09-29", at(t, "2024-09-29 09:00"), false, false, PriorityNormal, endOf(t, "2024-09-30"), endOf(t, "2024-10-11")},
		{"priority, during Spring Festival 2025", at(t, "2025-01-29 11:00"), true, false, PriorityHigh, endOf(t, "2025-02-05"), endOf(t, "2025-02-07")},
		{"normal, before Labour Day 2025", at(t, "2025-04-30 17:00"), false, false, PriorityNormal, endOf(t, "2025-05-06"), endOf(t, "2025-05-12")},
		{"normal, before National Day 2025", at(t, "2025-09-26 10:00"), false, false, PriorityNormal, endOf(t, "2025-09-28"), endOf(t, "2025-10-10")},
		{"normal, before Spring Festival 2026", at(t, "2026-02-13 10:00"), false, false, PriorityNormal, endOf(t, "2026-02-14"), endOf(t, "2026-02-27")},
		{"urgent on National Day 2026", at(t, "2026-10-01 08:00"), true, true, PriorityUrgent, at(t, "2026-10-01 10:00"), at(t, "2026-10-02 08:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := r.Route(Request{Category: "dust", Subcategory: "road", District: "xiangan", At: tt.at, Priority: tt.priority, Urgent: tt.urgent})
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Priority != tt.wantLevel {
				t.Errorf("priority %s, want %s", d.Priority, tt.wantLevel)
			}
			if !d.SignDue.Equal(tt.sign) {
				t.Errorf("sign due %s, want %s", d.SignDue, tt.sign)
			}
			if !d.ResolveDue.Equal(tt.resolve) {
				t.Errorf("resolve due %s, want %s", d.ResolveDue, tt.resolve)
			}
			if !d.CalendarCovered {
				t.Error("CalendarCovered = false inside the calendar's years")
			}
		})
	}
	d, err := r.Route(Request{Category: "dust", Subcategory: "road", District: "xiangan", At: at(t, "2031-05-01 10:00")})
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if d.CalendarCovered {
		t.Error("CalendarCovered = true in 2031, outside the calendar")
	}
	// An urgent case's deadlines are hours on the clock: no holiday
	// changes them, so crossing into a year the calendar lacks does not
	// make them uncovered.
	d, err = r.Route(Request{Category: "dust", Subcategory: "road", District: "xiangan", At: at(t, "2026-12-31 20:00"), Urgent: true})
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if !d.CalendarCovered {
		t.Errorf("CalendarCovered = false for an urgent case's hours into the next year (resolve due %s)", d.ResolveDue)
	}
	d, err = r.Route(Request{Category: "dust", Subcategory: "road", District: "xiangan", At: at(t, "2026-12-31 20:00")})
	if err != nil {
		t.Fatalf("Route: %v", err)
	}
	if d.CalendarCovered {
		t.Errorf("CalendarCovered = true for working days counted into 2027 (resolve due %s)", d.ResolveDue)
	}
}

func TestRouteExcludeTeams(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		name       string
		req        Request
		wantTeam   string
		wantRule   string
		wantReason Reason
	}{
		{"construction noise returned by ecology goes to housing",
			Request{Category: "noise", Subcategory: "construction", ExcludeTeams: []string{"huli-eco"}},
			"huli-housing", "noise.construction.returned", ""},
		{"construction noise returned by both",
			Request{Category: "noise", Subcategory: "construction", ExcludeTeams: []string{"huli-eco", "huli-housing"}},
			"", "", ReasonAllTeamsExcluded},
		{"neighbour noise returned by the police goes to urban management",
			Request{Category: "noise", Subcategory: "social_life", Neighbour: true, ExcludeTeams: []string{"huli-police"}},
			"huli-urban", "noise.social_life", ""},
		{"social-life noise returned by urban management goes to the police",
			Request{Category: "noise", Subcategory: "social_life", ExcludeTeams: []string{"huli-urban"}},
			"huli-police", "noise.social_life.returned", ""},
		{"night bar returned by the police goes to urban management",
			Request{Category: "noise", Subcategory: "social_life", Detail: "bar_ktv", At: at(t, "2024-03-05 23:00"), ExcludeTeams: []string{"huli-police"}},
			"huli-urban", "noise.social_life", ""},
		{"traffic noise returned has nowhere to go",
			Request{Category: "noise", Subcategory: "traffic", ExcludeTeams: []string{"huli-traffic"}},
			"", "", ReasonAllTeamsExcluded},
		{"another district's team is irrelevant",
			Request{Category: "noise", Subcategory: "traffic", ExcludeTeams: []string{"siming-traffic"}},
			"huli-traffic", "noise.traffic", ""},
		{"site dust returned by housing goes to urban management",
			Request{Category: "dust", Subcategory: "construction_site", ExcludeTeams: []string{"huli-housing"}},
			"huli-urban", "dust.construction_site.returned", ""},
		{"road dust returned by urban management goes to housing",
			Request{Category: "dust", Subcategory: "road", ExcludeTeams: []string{"huli-urban"}},
			"huli-housing", "dust.road.returned", ""},
		{"cooking smoke returned has nowhere to go",
			Request{Category: "cooking_smoke", Subcategory: "restaurant", ExcludeTeams: []string{"huli-urban"}},
			"", "", ReasonAllTeamsExcluded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.District = "huli"
			if req.At.IsZero() {
				req.At = at(t, "2024-03-05 10:00")
			}
			d, err := r.Route(req)
			if tt.wantReason != "" {
				var nre *NoRouteError
				if !errors.As(err, &nre) || !errors.Is(err, ErrNoRule) || nre.Reason != tt.wantReason {
					t.Fatalf("Route = %+v, %v; want NoRouteError %s", d, err, tt.wantReason)
				}
				if !slices.Equal(nre.Excluded, slices.Sorted(slices.Values(req.ExcludeTeams))) {
					t.Errorf("excluded %v, want %v", nre.Excluded, req.ExcludeTeams)
				}
				return
			}
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if d.Team.ID != tt.wantTeam || d.Rule != tt.wantRule {
				t.Errorf("routed to %s by %s, want %s by %s", d.Team.ID, d.Rule, tt.wantTeam, tt.wantRule)
			}
			if slices.Contains(req.ExcludeTeams, d.Team.ID) {
				t.Errorf("chose excluded team %s", d.Team.ID)
			}
		})
	}
}

func TestRouteNoRule(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		name string
		req  Request
		want Reason
	}{
		{"unknown category", Request{Category: "light", Subcategory: "billboard", District: "siming"}, ReasonUnknownCategory},
		{"empty category", Request{District: "siming"}, ReasonUnknownCategory},
		{"unknown subcategory", Request{Category: "noise", Subcategory: "aircraft", District: "siming"}, ReasonUnknownSubcategory},
		{"subcategory of another category", Request{Category: "dust", Subcategory: "traffic", District: "siming"}, ReasonUnknownSubcategory},
		{"category only", Request{Category: "noise", District: "siming"}, ReasonNoMatchingRule},
		{"unknown district", Request{Category: "noise", Subcategory: "traffic", District: "fuzhou"}, ReasonUnknownDistrict},
		{"no district", Request{Category: "noise", Subcategory: "traffic"}, ReasonUnknownDistrict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.At = at(t, "2024-03-05 10:00")
			d, err := r.Route(req)
			var nre *NoRouteError
			if !errors.As(err, &nre) || !errors.Is(err, ErrNoRule) {
				t.Fatalf("Route = %+v, %v; want a NoRouteError", d, err)
			}
			if nre.Reason != tt.want {
				t.Errorf("reason %s, want %s", nre.Reason, tt.want)
			}
			if !strings.Contains(err.Error(), string(tt.want)) {
				t.Errorf("error %q does not name the reason %s", err, tt.want)
			}
		})
	}
	_, err := r.Route(Request{Category: "noise", Subcategory: "traffic", District: "siming"})
	if !errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrNoRule) {
		t.Errorf("Route without a time = %v, want ErrInvalidRequest", err)
	}
}

func loadConfig(t *testing.T) (Config, *workday.Calendar) {
	t.Helper()
	cfg, err := ReadConfig(seeds.FS)
	if err != nil {
		t.Fatalf("read config: %v", err)
	}
	cal, err := workday.Load()
	if err != nil {
		t.Fatalf("load calendar: %v", err)
	}
	return cfg, cal
}

// Precedence on a configuration of its own: a district rule beats the
// generic one, a time window beats a district, fallback rules act only
// once the better teams returned the case, ties keep file order.
func TestRoutePrecedence(t *testing.T) {
	t.Parallel()
	cfg, cal := loadConfig(t)
	cfg.Rules.Rules = []Rule{
		{ID: "generic", Category: "noise", Subcategory: "traffic", Department: DeptTrafficTransport, Mode: ModeOnSite},
		{ID: "generic-twin", Category: "noise", Subcategory: "traffic", Department: DeptPolice, Mode: ModeOnSite},
		{ID: "any-sub", Category: "noise", District: "tongan", Department: DeptEcology, Mode: ModeOnSite},
		{ID: "tongan", Category: "noise", Subcategory: "traffic", District: "tongan", Department: DeptUrbanManagement, Mode: ModeOnSite},
		{ID: "night", Category: "noise", Subcategory: "traffic", Window: &Window{From: "23:00", To: "05:00"}, Department: DeptHousing, Mode: ModeNonSite},
		{ID: "at-enterprise", Category: "noise", PlaceKind: PlacePositiveList, Department: DeptEcology, Mode: ModeNonSite},
		{ID: "detailed", Category: "noise", Subcategory: "traffic", District: "jimei", Window: &Window{From: "00:00", To: "23:59"}, Details: []string{"horn"}, Department: DeptTrafficTransport, Mode: ModeOnSite},
		{ID: "last-resort", Category: "noise", Subcategory: "traffic", District: "tongan", Window: &Window{From: "00:00", To: "23:59"}, Fallback: true, Department: DeptHousing, Mode: ModeOnSite},
	}
	r, err := New(cfg, cal)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		district string
		clock    string
		detail   string
		place    string
		exclude  []string
		want     string
	}{
		{"huli", "10:00", "", "", nil, "generic"},
		{"huli", "10:00", "", "", []string{"huli-traffic"}, "generic-twin"},
		{"tongan", "10:00", "", "", nil, "tongan"},
		{"tongan", "23:30", "", "", nil, "night"},
		{"tongan", "10:00", "", "", []string{"tongan-urban"}, "any-sub"},
		{"tongan", "10:00", "", "", []string{"tongan-urban", "tongan-eco"}, "generic"},
		{"tongan", "10:00", "", "", []string{"tongan-urban", "tongan-eco", "tongan-traffic"}, "generic-twin"},
		{"tongan", "10:00", "", "", []string{"tongan-urban", "tongan-eco", "tongan-traffic", "tongan-police"}, "last-resort"},
		{"tongan", "10:00", "", "", []string{"tongan-urban", "tongan-eco", "tongan-traffic", "tongan-police", "tongan-housing"}, ""},
		{"huli", "10:00", "", "", []string{"huli-traffic", "huli-police"}, ""},
		{"huli", "04:59", "", "", nil, "night"},
		{"huli", "05:00", "", "", nil, "generic"},
		{"jimei", "10:00", "horn", "", nil, "detailed"},
		{"jimei", "10:00", "horn", "恒俊博电气", nil, "at-enterprise"},
		{"jimei", "10:00", "horn", "恒俊博电气", []string{"jimei-eco"}, "detailed"},
	}
	for _, tt := range tests {
		d, err := r.Route(Request{Category: "noise", Subcategory: "traffic", District: tt.district, Detail: tt.detail, Place: tt.place, At: at(t, "2024-03-05 "+tt.clock), ExcludeTeams: tt.exclude})
		if tt.want == "" {
			if !errors.Is(err, ErrNoRule) {
				t.Errorf("%s %s excluding %v: %+v, %v; want ErrNoRule", tt.district, tt.clock, tt.exclude, d, err)
			}
			continue
		}
		if err != nil || d.Rule != tt.want {
			t.Errorf("%s %s excluding %v: rule %q, %v; want %s", tt.district, tt.clock, tt.exclude, d.Rule, err, tt.want)
		}
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"rule department without teams", func(c *Config) { c.Rules.Rules[0].Department = "水利" }, "no 水利 team in siming"},
		{"co-department without teams", func(c *Config) { c.Rules.Rules[0].CoDepartments = []string{"水利"} }, "no 水利 team"},
		{"missing team of a district", func(c *Config) {
			c.Teams = slices.DeleteFunc(c.Teams, func(t Team) bool { return t.ID == "tongan-housing" })
		}, "no 住建 team in tongan"},
		{"bad mode", func(c *Config) { c.Rules.Rules[0].Mode = "remote" }, "mode \"remote\""},
		{"unknown subcategory", func(c *Config) { c.Rules.Rules[0].Subcategory = "aircraft" }, "unknown subcategory"},
		{"unknown category", func(c *Config) { c.Rules.Rules[0].Category = "light" }, "unknown category"},
		{"unknown rule district", func(c *Config) { c.Rules.Rules[0].District = "fuzhou" }, "unknown district \"fuzhou\""},
		{"bad window", func(c *Config) { c.Rules.Rules[0].Window = &Window{From: "22:00", To: "25:00"} }, "not HH:MM"},
		{"empty window", func(c *Config) { c.Rules.Rules[0].Window = &Window{From: "22:00", To: "22:00"} }, "empty window"},
		{"empty keyword", func(c *Config) { c.Rules.Rules[0].Keywords = []string{"酒吧", " "} }, "empty detail or keyword"},
		{"unknown place kind", func(c *Config) { c.Rules.Rules[0].PlaceKind = "school" }, "unknown place kind"},
		{"duplicate rule", func(c *Config) { c.Rules.Rules[1].ID = c.Rules.Rules[0].ID }, "listed twice"},
		{"team id not a slug", func(c *Config) { c.Teams[0].ID = "思明生态" }, "not an ascii slug"},
		{"two teams of one department", func(c *Config) { c.Teams[1].Department = c.Teams[0].Department }, "are both"},
		{"team in unknown district", func(c *Config) { c.Teams[0].District = "fuzhou" }, "unknown district"},
		{"place outside Xiamen", func(c *Config) { c.Places[0].Lon, c.Places[0].Lat = c.Places[0].Lat, c.Places[0].Lon }, "outside Xiamen"},
		{"place without radius", func(c *Config) { c.Places[0].RadiusM = 0 }, "radius"},
		{"place of unknown kind", func(c *Config) { c.Places[0].Kind = "school" }, "unknown kind"},
		{"missing deadline level", func(c *Config) { delete(c.Deadlines.Levels, PriorityUrgent) }, "no urgent level"},
		{"deadline with both spans", func(c *Config) {
			c.Deadlines.Levels[PriorityNormal] = Limits{Sign: workday.Span{Hours: 2, WorkingDays: 1}, Resolve: workday.Span{WorkingDays: 5}}
		}, "normal sign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, cal := loadConfig(t)
			tt.mutate(&cfg)
			_, err := New(cfg, cal)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	cfg, _ := loadConfig(t)
	if _, err := New(cfg, nil); err == nil {
		t.Error("New without a calendar succeeded")
	}
}

// Property: over random complaints across the calendar's years, a routed
// complaint goes to a team of its own district and of the deciding rule's
// department, never to an excluded team, and its working-day deadlines end
// on working days with resolve never before sign-for.
func TestRouteProperties(t *testing.T) {
	t.Parallel()
	r := setup(t)
	ruleDept := make(map[string]string)
	for _, ru := range r.rules {
		ruleDept[ru.ID] = ru.Department
	}
	type cs struct{ cat, sub string }
	var kinds []cs
	for cat, subs := range r.categories {
		for _, sub := range subs {
			kinds = append(kinds, cs{cat, sub})
		}
	}
	slices.SortFunc(kinds, func(a, b cs) int { return strings.Compare(a.cat+a.sub, b.cat+b.sub) })
	rng := rand.New(rand.NewPCG(350200, 12345))
	start := at(t, "2024-01-01 00:00")
	span := at(t, "2026-12-31 00:00").Sub(start)
	iterations := 5000
	if testing.Short() {
		iterations = 500
	}
	routed := 0
	for range iterations {
		k := kinds[rng.IntN(len(kinds))]
		district := districts[rng.IntN(len(districts))]
		req := Request{
			Category: k.cat, Subcategory: k.sub, District: district,
			At:        start.Add(time.Duration(rng.Int64N(int64(span)))),
			Priority:  rng.IntN(3) == 0,
			Neighbour: rng.IntN(5) == 0,
		}
		if rng.IntN(3) == 0 {
			req.ExcludeTeams = []string{r.Teams()[rng.IntN(len(r.Teams()))].ID}
		}
		d, err := r.Route(req)
		if err != nil {
			if !errors.Is(err, ErrNoRule) {
				t.Fatalf("Route(%+v): %v", req, err)
			}
			continue
		}
		routed++
		if d.Team.District != district || d.Team.Department != ruleDept[d.Rule] {
			t.Fatalf("Route(%+v) chose %+v by %s", req, d.Team, d.Rule)
		}
		if slices.Contains(req.ExcludeTeams, d.Team.ID) {
			t.Fatalf("Route(%+v) chose excluded team %s", req, d.Team.ID)
		}
		if d.ResolveDue.Before(d.SignDue) || !d.SignDue.After(req.At) {
			t.Fatalf("Route(%+v): sign %s, resolve %s", req, d.SignDue, d.ResolveDue)
		}
		if d.Priority != PriorityUrgent && (!r.cal.IsWorkingDay(d.SignDue) || !r.cal.IsWorkingDay(d.ResolveDue)) {
			t.Fatalf("Route(%+v): deadline on a day off: sign %s, resolve %s", req, d.SignDue, d.ResolveDue)
		}
	}
	if routed < iterations/2 {
		t.Errorf("only %d of %d random complaints routed", routed, iterations)
	}
}

func BenchmarkRoute(b *testing.B) {
	r := setup(b)
	q := r.places[len(r.places)-1]
	req := Request{
		Category: "noise", Subcategory: "social_life", District: q.District,
		Lon: ptr(q.Lon), Lat: ptr(q.Lat), Place: "某某KTV",
		At: time.Date(2024, 2, 9, 23, 0, 0, 0, shanghai),
	}
	for b.Loop() {
		if _, err := r.Route(req); err != nil {
			b.Fatal(err)
		}
	}
}
