package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Work orders of the week before a stored week, backfilled as history,
// change that week's report too: its 上周 (previous_total), 环比 and
// hotspot trends are the week before's. The catch-up generates both, and
// the later one says its week before changed.
func TestABackfillOfTheWeekBeforeRegeneratesTheStoredWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	read := func() report.Report {
		t.Helper()
		var doc []byte
		if err := pool.QueryRow(ctx, `SELECT json FROM weekly_reports WHERE week = $1`, fixtureWeek).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if err := json.Unmarshal(doc, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := read()
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, history)
		SELECT 'hist-' || i, 'T-hist-' || i, '2024-03-06T09:00:00+08:00'::timestamptz + i * interval '1 minute', '夜间施工', '思明区', true
		FROM generate_series(1, 30) i`); err != nil {
		t.Fatal(err)
	}
	weeks, err := s.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2024-W10", fixtureWeek}; !slices.Equal(weeks, want) {
		t.Fatalf("catch-up after a backfill of W10 stored %v, want %v", weeks, want)
	}
	after := read()
	if after.PreviousTotal != before.PreviousTotal+30 {
		t.Errorf("W11's stored previous_total %d, want %d with W10's backfill", after.PreviousTotal, before.PreviousTotal+30)
	}
	if after.Revision == nil || !after.Revision.PreviousWeekChanged {
		t.Errorf("W11's revision %+v, want one saying the week before changed", after.Revision)
	}
	var html string
	if err := pool.QueryRow(ctx, `SELECT html FROM weekly_reports WHERE week = $1`, fixtureWeek).Scan(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "上周（2024-W10）的投诉有补入或更正") {
		t.Error("W11's revised page does not say its week before changed")
	}
	if weeks, err := s.CatchUp(ctx); err != nil || len(weeks) != 0 {
		t.Errorf("the next catch-up stored %v (%v), want nothing", weeks, err)
	}
}

// A hotspot's 责任单位 is the team of the case holding most of its
// complaints of the week, not that of its latest case; a case opened
// from a backlog after the week's end (its audit begins after it) shows
// the status it has, not 待派单; an overdue case without a place of its
// own is shown at its complaint's 街道 and place, masked.
func TestHotspotTeamBacklogStatusAndOverduePlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	w := func(day, hour int) time.Time { return at(t, fixtureWeek, day, hour) }
	next := func(day, hour int) time.Time { return at(t, "2024-W12", day, hour) }
	prev := func(day, hour int) time.Time { return at(t, "2024-W10", day, hour) }
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	member := func(hotspot string, n int) []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT complaint_id FROM hotspot_members WHERE hotspot_id = $1 AND at >= $2 AND at < $3
			ORDER BY complaint_id LIMIT $4`, hotspot, w(0, 0), w(7, 0), n)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	// hs-growing: case-1 (the city management team) holds 5 of its
	// complaints of the week; a later case of the police holds 1.
	g := member("hs-growing", 6)
	exec(`INSERT INTO cases (id, category, district, team, status, hotspot_id, escalated, opened_at, sign_due, resolve_due)
		VALUES ('case-police', 'noise', 'siming', 'siming-police', 'assigned', 'hs-growing', false, $1, $2, $3)`, w(5, 9), w(5, 17), next(3, 17))
	for i, id := range g {
		c := "case-1"
		if i == len(g)-1 {
			c = "case-police"
		}
		exec(`INSERT INTO case_complaints (complaint_id, case_id) VALUES ($1, $2)`, id, c)
	}
	// hs-new: a case opened from a backlog, its record begun next week,
	// assigned at once, holding most of its complaints.
	exec(`INSERT INTO cases (id, category, district, team, status, hotspot_id, escalated, opened_at, sign_due, resolve_due)
		VALUES ('case-backlog', 'dust', 'xiangan', 'xiangan-housing', 'assigned', 'hs-new', false, $1, $2, $3)`, w(4, 9), next(0, 17), next(5, 17))
	exec(`INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action) VALUES
		('case-backlog', 'service:router', $1, NULL, 'open', 'open'),
		('case-backlog', 'service:router', $1, 'open', 'assigned', 'assign')`, next(0, 9))
	for _, id := range member("hs-new", 3) {
		exec(`INSERT INTO case_complaints (complaint_id, case_id) VALUES ($1, 'case-backlog')`, id)
	}
	// An overdue case without a place: its complaint's sub-district and
	// place key, which holds a caller's phone.
	exec(`INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ('np-1', 'T-np-1', $1, '油烟')`, prev(1, 8))
	exec(`INSERT INTO locations (complaint_id, located, district, subdistrict, category, place_key, received_at)
		VALUES ('np-1', true, 'huli', '江头街道', 'cooking_smoke', 'addr/吕岭路88号电话13912345678', $1)`, prev(1, 8))
	exec(`INSERT INTO cases (id, category, district, team, status, escalated, opened_at, sign_due, resolve_due, accepted_at)
		VALUES ('case-noplace', 'cooking_smoke', 'huli', 'huli-urban', 'accepted', false, $1, $2, $3, $2)`, prev(1, 9), prev(1, 17), w(1, 17))
	exec(`INSERT INTO case_complaints (complaint_id, case_id) VALUES ('np-1', 'case-noplace')`)

	r, err := Generate(ctx, pool, fixtureWeek, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]report.Hotspot{}
	for _, h := range r.Hotspots {
		hs[h.ID] = h
	}
	if h := hs["hs-growing"]; h.CaseID != "case-1" || h.TeamName != "思明区城市管理综合执法大队" {
		t.Errorf("hs-growing's case %s of %q, want case-1 of 思明区城市管理综合执法大队, which holds 5 of its 7 complaints", h.CaseID, h.TeamName)
	}
	h := hs["hs-new"]
	if h.CaseID != "case-backlog" || h.CaseStatus != "assigned" {
		t.Errorf("hs-new's case %s status %q, want case-backlog assigned, as the generation finds it", h.CaseID, h.CaseStatus)
	}
	for _, c := range h.Cases {
		if c.CaseID == "case-backlog" && c.Status != "assigned" {
			t.Errorf("hs-new lists case-backlog %q, want assigned", c.Status)
		}
	}
	var buf bytes.Buffer
	if err := report.Render(r, "html", &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "待派单") {
		t.Error("the page says 待派单 of a case a team holds")
	}
	found := false
	for _, c := range r.Timeliness.Overdue {
		if c.CaseID != "case-noplace" {
			continue
		}
		found = true
		if !strings.Contains(c.Place, "江头街道") || !strings.Contains(c.Place, "吕岭路88号") || strings.Contains(c.Place, "13912345678") {
			t.Errorf("case-noplace overdue at %q, want 江头街道 and 吕岭路88号 without the phone", c.Place)
		}
	}
	if !found {
		t.Error("case-noplace is not in the overdue list")
	}
	buf.Reset()
	if err := report.Render(r, "csv", &buf); err != nil {
		t.Fatal(err)
	}
	csv := buf.String()
	for _, want := range []string{"subcategory_name", "status_name", "case_status_name", ",road,道路扬尘,", ",case-backlog,assigned,已派单,", ",active,活跃,"} {
		if !strings.Contains(csv, want) {
			t.Errorf("the CSV has no %q", want)
		}
	}
}

// A backfill months later of the week before a stored week, both long out
// of the catch-up window, regenerates both.
func TestABackfillBeforeTheWindowRegeneratesTheWeekAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	if _, err := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst)).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	s := newService(t, pool, time.Date(2024, 7, 3, 10, 0, 0, 0, cst))
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, history)
		VALUES ('hist-old', 'T-hist-old', '2024-03-06T09:00:00+08:00', '夜间施工', '思明区', true)`); err != nil {
		t.Fatal(err)
	}
	weeks, err := s.CatchUp(ctx)
	if want := []string{"2024-W10", fixtureWeek}; err != nil || !slices.Equal(weeks, want) {
		t.Fatalf("catch-up after a backfill of W10 stored %v (%v), want %v", weeks, err, want)
	}
	if weeks, err := s.CatchUp(ctx); err != nil || len(weeks) != 0 {
		t.Errorf("the next catch-up stored %v (%v), want nothing", weeks, err)
	}
}
