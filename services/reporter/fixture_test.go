package reporter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/report"
)

// The seeded week of the fixture and the moment its report is generated.
const fixtureWeek = "2024-W11"

var fixtureNow = time.Date(2024, 3, 18, 0, 5, 0, 0, time.FixedZone("CST", 8*3600))

// Personal data every fixture complaint carries and no output may show.
const (
	callerName  = "王小明"
	callerPhone = "13912345678"
)

// fixture is what the seeded rows should produce, tallied in Go as the
// rows are made, independently of the report's SQL.
type fixture struct {
	total, prevTotal         int
	byCategory               map[string]int
	byDistrict               map[string]int
	unclassified, unlocated  int
	catDistrict, prevCatDist map[[2]string]int
	hotspotWeek              map[string]int
	inHotspots, repeats      int
}

type complaintRow struct {
	id       string
	at       time.Time
	category string // "" unclassified
	district string // "" unlocated
	lon, lat *float64
	place    string
	hotspot  string
}

// plantedHotspot is a repeat-complaint place with its complaints per week
// offset from the report week (0 the report week, -1 the week before).
type plantedHotspot struct {
	id, category, district, place, status string
	subcategory                           string
	lon, lat                              float64
	weeks                                 map[int]int
	resolvedAt                            *time.Time
}

func at(t testing.TB, week string, day, hour int) time.Time {
	t.Helper()
	start, _, err := gistar.WeekBounds(week)
	if err != nil {
		t.Fatal(err)
	}
	return start.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour)
}

func ptr[T any](v T) *T { return &v }

// seed fills a database with nine weeks of complaints up to the fixture
// week, planted hotspots, cases and their audit log.
func seed(t testing.TB, pool *pgxpool.Pool) *fixture {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20240311, 7))
	ds, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	start, end, _ := gistar.WeekBounds(fixtureWeek)
	prevStart := start.AddDate(0, 0, -7)
	fx := &fixture{byCategory: map[string]int{}, byDistrict: map[string]int{}, catDistrict: map[[2]string]int{}, prevCatDist: map[[2]string]int{}, hotspotWeek: map[string]int{}}
	var rows []complaintRow
	n := 0
	add := func(c complaintRow) {
		n++
		c.id = fmt.Sprintf("cmp-%04d", n)
		if c.district == "" && !seenByGeocoder(c.id) {
			c.category = "" // only the geocoder classifies
		}
		rows = append(rows, c)
		switch {
		case !c.at.Before(start) && c.at.Before(end):
			fx.total++
			if c.category == "" {
				fx.unclassified++
			} else {
				fx.byCategory[c.category]++
			}
			if c.district == "" {
				fx.unlocated++
			} else {
				fx.byDistrict[c.district]++
			}
			fx.catDistrict[[2]string{c.category, c.district}]++
		case !c.at.Before(prevStart) && c.at.Before(start):
			fx.prevTotal++
			fx.prevCatDist[[2]string{c.category, c.district}]++
		}
	}
	// Background: scattered complaints over nine weeks, more in the last.
	list := ds.List()
	interior := make([][2]float64, len(list))
	for i := range list {
		interior[i] = list[i].InteriorPoint()
	}
	for w := -8; w <= 0; w++ {
		week := gistar.WeekOf(start.AddDate(0, 0, 7*w))
		count := 30 + 2*(w+8)
		for range count {
			di := rng.IntN(len(list))
			d, ip := list[di], interior[di]
			c := complaintRow{at: at(t, week, rng.IntN(7), rng.IntN(24)).Add(time.Duration(rng.IntN(3600)) * time.Second)}
			c.category = report.Categories[rng.IntN(3)]
			if rng.IntN(10) == 0 {
				c.category = ""
			}
			switch r := rng.IntN(20); {
			case r < 2: // not located
			case r == 2: // located by address only
				c.district = d.Slug
			default:
				c.district = d.Slug
				c.lon = ptr(ip[0] + (rng.Float64()-0.5)*0.06)
				c.lat = ptr(ip[1] + (rng.Float64()-0.5)*0.06)
			}
			add(c)
		}
	}
	planted := []plantedHotspot{
		{id: "hs-growing", category: "noise", subcategory: "traffic", district: "siming", place: "湖滨南路工地", status: "escalated", lon: 118.1100, lat: 24.4800,
			weeks: map[int]int{-3: 2, -2: 3, -1: 3, 0: 7}},
		{id: "hs-new", category: "dust", subcategory: "road", district: "xiangan", place: "翔安大道渣土运输路段", status: "active", lon: 118.2500, lat: 24.6200,
			weeks: map[int]int{0: 5}},
		{id: "hs-persistent", category: "noise", subcategory: "social_life", district: "huli", place: "五缘湾广场", status: "active", lon: 118.1800, lat: 24.5200,
			weeks: map[int]int{-1: 4, 0: 3}},
		{id: "hs-cooled", category: "cooking_smoke", district: "huli", place: "江头夜市", status: "cooling", lon: 118.1500, lat: 24.5000,
			weeks: map[int]int{-1: 4}},
		{id: "hs-resolved", category: "noise", district: "jimei", place: "集美学村 KTV", status: "closed", lon: 118.1000, lat: 24.5800,
			weeks: map[int]int{-2: 3}, resolvedAt: ptr(at(t, fixtureWeek, 2, 15))},
		{id: "hs-merged", category: "dust", district: "tongan", place: "同安工业集中区", status: "merged", lon: 118.1600, lat: 24.7300,
			weeks: map[int]int{-1: 1, 0: 2}},
		{id: "hs-quiet", category: "dust", district: "tongan", place: "西柯街道堆场", status: "active", lon: 118.1300, lat: 24.7000,
			weeks: map[int]int{-2: 3}},
	}
	type member struct {
		complaint, hotspot, category, district string
		lon, lat                               float64
		at                                     time.Time
	}
	var members []member
	firstAt := map[string]time.Time{}
	lastAt := map[string]time.Time{}
	counts := map[string]int{}
	for _, h := range planted {
		for w := -3; w <= 0; w++ {
			week := gistar.WeekOf(start.AddDate(0, 0, 7*w))
			for i := range h.weeks[w] {
				c := complaintRow{at: at(t, week, i%7, 8+i), category: h.category, district: h.district,
					lon: ptr(h.lon + float64(i%3)*0.0004), lat: ptr(h.lat + float64(i%2)*0.0004), place: h.place, hotspot: h.id}
				add(c)
				m := member{complaint: rows[len(rows)-1].id, hotspot: h.id, category: h.category, district: h.district, lon: *c.lon, lat: *c.lat, at: c.at}
				members = append(members, m)
				if f, ok := firstAt[h.id]; !ok || c.at.Before(f) {
					firstAt[h.id] = c.at
				}
				if c.at.After(lastAt[h.id]) {
					lastAt[h.id] = c.at
				}
				counts[h.id]++
			}
		}
	}
	for _, m := range members {
		if !m.at.Before(start) && m.at.Before(end) {
			fx.inHotspots++
			if firstAt[m.hotspot].Before(m.at) {
				fx.repeats++
			}
			if m.hotspot != "hs-merged" {
				fx.hotspotWeek[m.hotspot]++
			}
		}
	}

	_, err = pool.CopyFrom(ctx, pgx.Identifier{"complaints"},
		[]string{"id", "ticket_id", "received_at", "description", "category", "address", "caller_name", "caller_phone"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			c := rows[i]
			return []any{c.id, "T" + c.id, c.at, "楼下施工噪声很大，请尽快处理", nilIfEmpty(c.category), c.place, callerName, callerPhone}, nil
		}))
	if err != nil {
		t.Fatalf("seed complaints: %v", err)
	}
	var locs [][]any
	for _, c := range rows {
		if c.district == "" {
			if seenByGeocoder(c.id) { // sent to triage
				locs = append(locs, []any{c.id, false, nil, nil, nil, nil, nilIfEmpty(c.category), nil, c.at})
			}
			continue
		}
		locs = append(locs, []any{c.id, true, c.district, ds2name(ds, c.district), c.lon, c.lat, nilIfEmpty(c.category), nilIfEmpty(c.place), c.at})
	}
	_, err = pool.CopyFrom(ctx, pgx.Identifier{"locations"},
		[]string{"complaint_id", "located", "district", "district_name", "lon", "lat", "category", "place", "received_at"},
		pgx.CopyFromRows(locs))
	if err != nil {
		t.Fatalf("seed locations: %v", err)
	}
	for _, h := range planted {
		if _, err := pool.Exec(ctx, `INSERT INTO hotspots (id, category, subcategory, district, status, complaint_count, first_at, last_at, lon, lat, place, resolved_at)
			VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			h.id, h.category, h.subcategory, h.district, h.status, counts[h.id], firstAt[h.id], lastAt[h.id], h.lon, h.lat, h.place, h.resolvedAt); err != nil {
			t.Fatalf("seed hotspot: %v", err)
		}
		// Its status is the one of the week's end, on record since its
		// last complaint.
		if _, err := pool.Exec(ctx, `INSERT INTO hotspot_statuses (hotspot_id, status, at) VALUES ($1, $2, $3)`, h.id, h.status, lastAt[h.id]); err != nil {
			t.Fatalf("seed hotspot status: %v", err)
		}
	}
	_, err = pool.CopyFrom(ctx, pgx.Identifier{"hotspot_members"},
		[]string{"complaint_id", "hotspot_id", "category", "district", "lon", "lat", "at"},
		pgx.CopyFromSlice(len(members), func(i int) ([]any, error) {
			m := members[i]
			return []any{m.complaint, m.hotspot, m.category, m.district, m.lon, m.lat, m.at}, nil
		}))
	if err != nil {
		t.Fatalf("seed members: %v", err)
	}
	w := func(day, hour int) time.Time { return at(t, fixtureWeek, day, hour) }
	prev := func(day, hour int) time.Time { return at(t, "2024-W10", day, hour) }
	next := func(day, hour int) time.Time { return at(t, "2024-W12", day, hour) }
	type caseRow struct {
		id, category, district, team, status, hotspot, place string
		escalated                                            bool
		opened, signDue, resolveDue                          time.Time
		accepted, resolved, closed                           *time.Time
	}
	cases := []caseRow{
		// Signed and resolved on time.
		{id: "case-1", category: "noise", district: "siming", team: "siming-urban", status: "resolved", hotspot: "hs-growing", place: "湖滨南路工地",
			opened: w(0, 9), signDue: w(0, 17), resolveDue: w(4, 17), accepted: ptr(w(0, 11)), resolved: ptr(w(3, 10))},
		// Signed late; resolve deadline next week.
		{id: "case-2", category: "dust", district: "xiangan", team: "xiangan-housing", status: "accepted", hotspot: "hs-new", place: "翔安大道渣土运输路段",
			opened: w(1, 9), signDue: w(1, 17), resolveDue: next(1, 17), accepted: ptr(w(2, 9))},
		// Overdue since last week and escalated this week.
		{id: "case-3", category: "cooking_smoke", district: "huli", team: "huli-urban", status: "accepted", hotspot: "hs-persistent", place: "五缘湾广场", escalated: true,
			opened: prev(0, 9), signDue: prev(0, 17), resolveDue: prev(4, 17), accepted: ptr(prev(0, 10))},
		// Due this week, resolved only after the week: late and overdue at the week's end.
		{id: "case-4", category: "noise", district: "jimei", team: "jimei-eco", status: "resolved", hotspot: "hs-resolved", place: "集美学村 KTV",
			opened: prev(2, 9), signDue: prev(2, 17), resolveDue: w(2, 17), accepted: ptr(prev(2, 12)), resolved: ptr(next(0, 10))},
		// Never signed for; escalated.
		{id: "case-5", category: "noise", district: "siming", team: "siming-police", status: "assigned", escalated: true,
			opened: w(3, 9), signDue: w(3, 17), resolveDue: next(2, 17)},
		// Resolved on time and closed.
		{id: "case-6", category: "dust", district: "tongan", team: "tongan-urban", status: "closed",
			opened: prev(4, 9), signDue: prev(4, 17), resolveDue: w(1, 17), accepted: ptr(prev(4, 10)), resolved: ptr(w(1, 9)), closed: ptr(w(1, 12))},
		// hs-resolved's other case, resolved this week: the hotspot is
		// resolved in the week (its deadlines fall in other weeks).
		{id: "case-11", category: "noise", district: "jimei", team: "jimei-eco", status: "resolved", hotspot: "hs-resolved", place: "集美学村 KTV",
			opened: prev(1, 9), signDue: prev(1, 17), resolveDue: next(2, 17), accepted: ptr(prev(1, 10)), resolved: ptr(w(2, 15))},
	}
	for _, c := range cases {
		if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, hotspot_id, place, escalated, opened_at, sign_due, resolve_due, accepted_at, resolved_at, closed_at, note)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			c.id, c.category, c.district, c.team, c.status, c.hotspot, c.place, c.escalated, c.opened, c.signDue, c.resolveDue, c.accepted, c.resolved, c.closed,
			"回访 "+callerPhone); err != nil {
			t.Fatalf("seed case %s: %v", c.id, err)
		}
	}
	for _, a := range []struct {
		caseID, action, deadline string
		at                       time.Time
		dueBefore, dueAfter      *time.Time
	}{
		{"case-3", "escalated", "resolve", w(1, 9), ptr(prev(4, 17)), nil},
		{"case-5", "escalate", "sign", w(4, 9), ptr(w(3, 17)), nil},
		{"case-1", "accept", "", w(0, 11), nil, nil},
		{"case-3", "escalated", "resolve", prev(5, 9), ptr(prev(4, 17)), nil},         // last week's escalation
		{"case-2", "extend", "resolve", w(2, 10), ptr(w(4, 17)), ptr(next(1, 17))},    // to the case's resolve deadline
		{"case-2", "extend", "resolve", prev(6, 10), ptr(prev(6, 17)), ptr(w(4, 17))}, // last week's extension
		// The resolutions, as the cases record them.
		{"case-1", "resolve", "", w(3, 10), nil, nil},
		{"case-4", "resolve", "", next(0, 10), nil, nil},
		{"case-6", "resolve", "", w(1, 9), nil, nil},
		{"case-11", "resolve", "", w(2, 15), nil, nil},
	} {
		// What the transition found and left: case-5 was never signed for.
		from, to := "accepted", "accepted"
		switch {
		case a.action == "resolve":
			to = "resolved"
		case a.action == "accept":
			from = "assigned"
		case a.caseID == "case-5":
			from, to = "assigned", "assigned"
		}
		if _, err := pool.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason, deadline, due_before, due_after)
			VALUES ($1, 'service:router', $2, $3, $4, $5, $6, NULLIF($7, ''), $8, $9)`,
			a.caseID, a.at, from, to, a.action, "来电人 "+callerName, a.deadline, a.dueBefore, a.dueAfter); err != nil {
			t.Fatalf("seed audit: %v", err)
		}
	}
	return fx
}

// seenByGeocoder tells the unlocated complaints that have a locations row
// (sent to triage) from those the geocoder has not seen yet.
func seenByGeocoder(id string) bool { return id[len(id)-1]%2 == 0 }

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func ds2name(ds *geo.Districts, slug string) string {
	d, ok := ds.BySlug(slug)
	if !ok {
		return ""
	}
	return d.Name
}
