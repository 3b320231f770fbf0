package reporter

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A work order of a reported week loaded as history (nuisance replay
// -history) is on its way until it is clustered, as no case ever holds
// it: a report generated before it was located is generated again once it
// is, and counts it in its district and category. (Counted on its way for
// ever, it left the week's stored report counting it unlocated.)
func TestABackfilledWeekIsGeneratedAgainOnceClustered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	catchUp := func(want ...string) {
		t.Helper()
		weeks, err := s.CatchUp(ctx)
		if err != nil || !slices.Equal(weeks, want) {
			t.Fatalf("catch-up stored %v (%v), want %v", weeks, err, want)
		}
	}
	siming := func() int {
		t.Helper()
		var doc []byte
		if err := pool.QueryRow(ctx, `SELECT json FROM weekly_reports WHERE week = '2024-W11'`).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var r struct {
			ByDistrict map[string]int `json:"by_district"`
		}
		if err := json.Unmarshal(doc, &r); err != nil {
			t.Fatal(err)
		}
		return r.ByDistrict["siming"]
	}
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	before := siming()

	// Stored as history, not yet located: the week is generated again.
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, history)
		VALUES ('hist-1', 'T-hist-1', '2024-03-13T21:00:00+08:00', '夜间施工', '思明区', true)`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	catchUp()
	// Located: still on its way to the hotspots.
	if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, category, received_at)
		VALUES ('hist-1', true, 'siming', '思明区', 'noise', '2024-03-13T21:00:00+08:00')`); err != nil {
		t.Fatal(err)
	}
	catchUp()
	// Clustered: settled, and the week is generated again with it.
	if _, err := pool.Exec(ctx, `INSERT INTO hotspot_members (complaint_id, category, district, at)
		VALUES ('hist-1', 'noise', 'siming', '2024-03-13T21:00:00+08:00')`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	if got := siming(); got != before+1 {
		t.Errorf("the week's report counts %d complaints in Siming, want %d with the one of history", got, before+1)
	}
	catchUp()
}

// A report stored months ago, before the catch-up window, is generated
// again when work orders of its week are backfilled as history, and again
// once they are clustered: the leadership reading it gets the week as it
// is. A start looks at every stored week once.
func TestAReportBeforeTheWindowIsGeneratedAgainForHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	if _, err := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst)).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	total := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT total FROM weekly_reports WHERE week = '2024-W11'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := total()
	// Months later: W11 is long out of the catch-up window.
	s := newService(t, pool, time.Date(2024, 7, 3, 10, 0, 0, 0, cst))
	if weeks, err := s.CatchUp(ctx); err != nil || slices.Contains(weeks, "2024-W11") {
		t.Fatalf("the first catch-up months later stored %v (%v); W11 is as it was", weeks, err)
	}
	catchUp := func(want ...string) {
		t.Helper()
		weeks, err := s.CatchUp(ctx)
		if err != nil || !slices.Equal(weeks, want) {
			t.Fatalf("catch-up stored %v (%v), want %v", weeks, err, want)
		}
	}
	catchUp()
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, history)
		VALUES ('hist-old', 'T-hist-old', '2024-03-14T09:00:00+08:00', '夜间施工', '思明区', true)`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	if got := total(); got != before+1 {
		t.Errorf("W11's stored report counts %d complaints after the backfill, want %d", got, before+1)
	}
	catchUp()
	if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, category, received_at)
		VALUES ('hist-old', true, 'siming', '思明区', 'noise', '2024-03-14T09:00:00+08:00');
		INSERT INTO hotspot_members (complaint_id, category, district, at) VALUES ('hist-old', 'noise', 'siming', '2024-03-14T09:00:00+08:00')`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	catchUp()
	// A restart looks at every stored week once, and finds W11 settled.
	if weeks, err := newService(t, pool, time.Date(2024, 7, 3, 10, 0, 0, 0, cst)).CatchUp(ctx); err != nil || slices.Contains(weeks, "2024-W11") {
		t.Errorf("a restart stored %v (%v), want W11 left as it is", weeks, err)
	}
}
