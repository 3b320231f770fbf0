package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// yearEndComplaint stores a located noise complaint of Siming received at
// when.
func yearEndComplaint(t *testing.T, pool *pgxpool.Pool, id string, when time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address) VALUES ($1, $1, $2, '夜间施工', '思明区')`, id, when); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, subcategory, received_at)
		VALUES ($1, true, 'siming', 'noise', 'construction', $2)`, id, when); err != nil {
		t.Fatal(err)
	}
}

// storedJSON reads a stored week's JSON report and its raw text.
func storedJSON(t *testing.T, pool *pgxpool.Pool, week string) (report.Report, string) {
	t.Helper()
	var doc []byte
	if err := pool.QueryRow(context.Background(), `SELECT json FROM weekly_reports WHERE week = $1`, week).Scan(&doc); err != nil {
		t.Fatalf("%s: %v", week, err)
	}
	var r report.Report
	if err := json.Unmarshal(doc, &r); err != nil {
		t.Fatal(err)
	}
	return r, string(doc)
}

// The weeks across the new year of 2027: 2026-W52, 2026-W53 (Monday
// 2026-12-28 to Sunday 2027-01-03) and 2027-W01 are each generated on
// their Monday, in Xiamen time (a complaint at 2027-01-03 23:30 +08:00,
// 15:30 UTC, is 2026-W53's; one at 16:00 UTC is 2027-W01's), linked to
// the week before (上周 and 环比), and a complaint of 2026-W53 arriving
// late revises both 2026-W53 and 2027-W01, which says its week before
// changed.
func TestWeeksAcrossTheNewYear(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i, when := range []string{
		"2026-12-21T09:00:00+08:00", "2026-12-27T23:59:59+08:00", // 2026-W52
		"2026-12-28T00:00:00+08:00", "2026-12-31T23:00:00+08:00", "2027-01-03T15:30:00Z", // 2026-W53
		"2027-01-03T16:00:00Z", "2027-01-10T10:00:00+08:00", // 2027-W01
	} {
		yearEndComplaint(t, pool, fmt.Sprintf("cmp-ye-%d", i), utc(when))
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 28, 0, 5, 0, 0, cst)
	cfg := DefaultConfig(fakeAuth)
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	setNow := func(v time.Time) { mu.Lock(); defer mu.Unlock(); now = v }
	catchUp := func(want ...string) {
		t.Helper()
		weeks, err := s.CatchUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(weeks, want) {
			t.Fatalf("at %s the catch-up stored %v, want %v", cfg.Now(), weeks, want)
		}
	}

	// Monday 2026-12-28: 2026-W52, the week of the earliest complaint.
	catchUp("2026-W52")
	// Monday 2027-01-04 00:05 in Xiamen (16:05 UTC the day before).
	setNow(time.Date(2027, 1, 3, 16, 5, 0, 0, time.UTC))
	catchUp("2026-W53")
	w53, doc := storedJSON(t, pool, "2026-W53")
	for _, want := range []string{`"start": "2026-12-28T00:00:00+08:00"`, `"end": "2027-01-04T00:00:00+08:00"`, `"generated_at": "2027-01-04T00:05:00+08:00"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("2026-W53's JSON lacks %s", want)
		}
	}
	if w53.Week != "2026-W53" || w53.PreviousWeek != "2026-W52" || w53.Total != 3 || w53.PreviousTotal != 2 {
		t.Errorf("2026-W53: week %s after %s, %d complaints after %d; want 2026-W53 after 2026-W52, 3 after 2",
			w53.Week, w53.PreviousWeek, w53.Total, w53.PreviousTotal)
	}
	days := map[string]int{}
	for _, d := range w53.Daily {
		if d.InWeek {
			days[d.Date] = d.Total
		}
	}
	if len(days) != 7 || days["2026-12-28"] != 1 || days["2026-12-31"] != 1 || days["2027-01-03"] != 1 {
		t.Errorf("2026-W53's days %v, want 2026-12-28 to 2027-01-03, one complaint on the 28th, the 31st and 3 January", days)
	}
	var page string
	if err := pool.QueryRow(ctx, `SELECT html FROM weekly_reports WHERE week = '2026-W53'`).Scan(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, "2026年第53周（2026年12月28日—2027年1月3日）") {
		t.Error("2026-W53's page is not dated 2026年12月28日—2027年1月3日")
	}
	// ISO 8601 numbers a week in the year of its Thursday, 2026-12-31.
	if p := w53.PriorityPlan; p == nil || p.ForYear != 2026 || p.Year != 2024 || !p.Latest {
		t.Errorf("2026-W53's plan %+v, want 2024's as the latest for 2026", p)
	}

	setNow(time.Date(2027, 1, 11, 0, 5, 0, 0, cst))
	catchUp("2027-W01")
	w01, _ := storedJSON(t, pool, "2027-W01")
	if w01.PreviousWeek != "2026-W53" || w01.Total != 2 || w01.PreviousTotal != 3 {
		t.Errorf("2027-W01: after %s, %d complaints after %d; want after 2026-W53, 2 after 3", w01.PreviousWeek, w01.Total, w01.PreviousTotal)
	}
	if p := w01.PriorityPlan; p == nil || p.ForYear != 2027 || p.Year != 2024 || !p.Latest {
		t.Errorf("2027-W01's plan %+v, want 2024's as the latest for 2027", p)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, st := range list {
		listed = append(listed, st.Week)
	}
	if want := []string{"2027-W01", "2026-W53", "2026-W52"}; !slices.Equal(listed, want) {
		t.Errorf("listed %v, want %v", listed, want)
	}

	// A complaint of New Year's Day arrives late: 2026-W53 is revised,
	// and 2027-W01, whose week before it is.
	yearEndComplaint(t, pool, "cmp-ye-late", time.Date(2027, 1, 1, 10, 0, 0, 0, cst))
	catchUp("2026-W53", "2027-W01")
	w01, _ = storedJSON(t, pool, "2027-W01")
	if w01.PreviousTotal != 4 || w01.Revision == nil || !w01.Revision.PreviousWeekChanged {
		t.Errorf("2027-W01 after a late complaint of 2026-W53: previous_total %d, revision %+v; want 4, its week before changed", w01.PreviousTotal, w01.Revision)
	}
	var html string
	if err := pool.QueryRow(ctx, `SELECT html FROM weekly_reports WHERE week = '2027-W01'`).Scan(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "上周（2026-W53）的投诉有补入或更正") {
		t.Error("2027-W01's revised page does not say its week before, 2026-W53, changed")
	}
	catchUp()
}

// With the bureau's 2027 plan installed, 2027-W01 follows it, while
// 2026-W53, numbered in 2026 though its last three days are in 2027,
// follows the plan for 2026 (2024's, the latest then) and says so.
func TestWeekAcrossTheNewYearFollowsItsISOYearsPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	file := filepath.Join(t.TempDir(), "priority.json")
	plan := strings.ReplaceAll(operatorPlan2026, "2026", "2027")
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	yearEndComplaint(t, pool, "cmp-ye-plan", time.Date(2027, 1, 2, 10, 0, 0, 0, cst))
	r, err := GenerateWith(ctx, pool, "2026-W53", time.Date(2027, 1, 4, 0, 5, 0, 0, cst), file)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.PriorityPlan; p == nil || p.Year != 2024 || p.ForYear != 2026 || !p.Latest {
		t.Errorf("2026-W53's plan %+v, want 2024's as the latest for 2026", p)
	}
	if html := renderHTML(t, r); !strings.Contains(html, "重点区域依 2024 年点题整治计划（2026 年计划未录入，沿用最新计划）") {
		t.Error("2026-W53's page does not say which plan it follows")
	}
	r, err = GenerateWith(ctx, pool, "2027-W01", time.Date(2027, 1, 11, 0, 5, 0, 0, cst), file)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.PriorityPlan; p == nil || p.Year != 2027 || p.ForYear != 2027 || p.Latest {
		t.Errorf("2027-W01's plan %+v, want 2027's own", p)
	}
	if got := priorityRows(t, r, "noise"); !slices.Equal(got, []string{"haicang"}) {
		t.Errorf("2027-W01 noise priority districts %v, want the 2027 plan's [haicang]", got)
	}
	if html := renderHTML(t, r); !strings.Contains(html, "重点区域依 2027 年点题整治计划：") {
		t.Error("2027-W01's page does not state the 2027 plan")
	}
}

// Past the catch-up window, a late complaint of 2026-W53 still revises
// its report and that of 2027-W01, the week after it across the new year.
func TestOlderWeekAcrossTheNewYearRevisesTheNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	// Settled complaints (waiting on the triage list): their stored
	// reports are not looked at again unless something changes them.
	settled := func(id string, when time.Time) {
		t.Helper()
		yearEndComplaint(t, pool, id, when)
		if _, err := pool.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind) VALUES ($1, 'no team', 'unrouted')`, id); err != nil {
			t.Fatal(err)
		}
	}
	settled("cmp-ye-old-1", time.Date(2026, 12, 30, 10, 0, 0, 0, cst))
	settled("cmp-ye-old-2", time.Date(2027, 1, 5, 10, 0, 0, 0, cst))
	// Stored an hour ago: no later look reads them as new.
	if _, err := pool.Exec(ctx, `UPDATE complaints SET created_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(fakeAuth)
	cfg.Backfill = 1
	cfg.Now = func() time.Time { return time.Date(2027, 1, 25, 0, 5, 0, 0, cst) } // 2027-W03 due
	s, err := New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"2026-W53", "2027-W01"} {
		if ok, err := s.Store(ctx, w); err != nil || !ok {
			t.Fatalf("store %s: %v, %v", w, ok, err)
		}
	}
	if weeks, err := s.CatchUp(ctx); err != nil || !slices.Equal(weeks, []string{"2027-W03"}) {
		t.Fatalf("first catch-up stored %v (%v), want 2027-W03", weeks, err)
	}
	settled("cmp-ye-old-late", time.Date(2027, 1, 3, 22, 0, 0, 0, cst))
	weeks, err := s.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2026-W53", "2027-W01"}; !slices.Equal(weeks, want) {
		t.Fatalf("catch-up after a late complaint of 2026-W53 stored %v, want %v", weeks, want)
	}
	w01, _ := storedJSON(t, pool, "2027-W01")
	if w01.PreviousTotal != 2 || w01.Revision == nil || !w01.Revision.PreviousWeekChanged {
		t.Errorf("2027-W01: previous_total %d, revision %+v; want 2, its week before changed", w01.PreviousTotal, w01.Revision)
	}
}
