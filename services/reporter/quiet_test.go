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

// DOMAIN.md: complaints inside a quiet residential community (宁静小区)
// deserve attention in reports. The router marks the cases in one
// (cases.quiet_community); the week's report must show them.
func TestTheReportShowsQuietCommunities(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	const name = "莲前街道宁静小区"
	for i, id := range []string{"cmp-q1", "cmp-q2"} {
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
			VALUES ($1, 'T'||$1, $2, '广场舞噪声', '思明区莲前街道')`, id, at(t, fixtureWeek, 1+i, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, quiet_community, opened_at, sign_due, resolve_due)
		VALUES ('case-q', 'noise', 'siming', 'siming-urban', 'assigned', $1, $2, $3, $4)`,
		name, at(t, fixtureWeek, 1, 20), at(t, fixtureWeek, 2, 20), at(t, "2024-W12", 1, 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO case_complaints (complaint_id, case_id) VALUES ('cmp-q1', 'case-q'), ('cmp-q2', 'case-q')`); err != nil {
		t.Fatal(err)
	}
	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	var js, html bytes.Buffer
	if err := Render(r, "json", &js); err != nil {
		t.Fatal(err)
	}
	if err := Render(r, "html", &html); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	q, ok := doc["quiet_communities"].([]any)
	if !ok || len(q) != 1 || !strings.Contains(js.String(), name) {
		t.Errorf("JSON report: quiet_communities %v; want %s with its 2 complaints of the week", doc["quiet_communities"], name)
	} else if c, _ := q[0].(map[string]any); c["complaints"] != float64(2) {
		t.Errorf("JSON report: %v; want 2 complaints", c)
	}
	if !strings.Contains(html.String(), name) {
		t.Errorf("HTML report does not name %s, where 2 complaints came in the week", name)
	}
}

// A quiet community's case resolved in the week and reopened after it was
// not open at the week's end: the week's report, generated again after the
// reopen, must not count it open (the reopen cleared its resolution).
func TestQuietCommunitiesOpenAsTheWeekEnded(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	const name = "莲前街道宁静小区"
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
		VALUES ('cmp-q1', 'Tcmp-q1', $1, '广场舞噪声', '思明区莲前街道')`, at(t, fixtureWeek, 1, 20)); err != nil {
		t.Fatal(err)
	}
	// Resolved on day 3 of the week, reopened in the next: as the case row
	// stands after the reopen.
	if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, quiet_community, opened_at, sign_due, resolve_due)
		VALUES ('case-q', 'noise', 'siming', 'siming-urban', 'assigned', $1, $2, $3, $4)`,
		name, at(t, fixtureWeek, 1, 20), at(t, "2024-W12", 2, 20), at(t, "2024-W13", 1, 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO case_complaints (complaint_id, case_id) VALUES ('cmp-q1', 'case-q')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action) VALUES
		('case-q', 'officer:1', $1, 'accepted', 'resolved', 'resolve'),
		('case-q', 'service:router', $2, 'resolved', 'assigned', 'reopen')`,
		at(t, fixtureWeek, 3, 10), at(t, "2024-W12", 1, 9)); err != nil {
		t.Fatal(err)
	}
	r, err := Generate(ctx, pool, fixtureWeek, at(t, "2024-W12", 2, 9))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.QuietCommunities) != 1 {
		t.Fatalf("quiet communities %+v; want %s", r.QuietCommunities, name)
	}
	if q := r.QuietCommunities[0]; q.Cases != 1 || q.Open != 0 {
		t.Errorf("%+v; want its case, resolved at the week's end, not open", q)
	}
}

// A work order of the week loaded as history (nuisance replay -history)
// in a quiet community counts there like the week's other complaints,
// though no case ever holds it: the report counts it in its district and
// category, and its quiet community is the one the router would have
// marked. Its week has one more complaint in the community, no more
// cases.
func TestQuietCommunitiesCountTheWeeksHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	const name = "莲前街道宁静小区" // 118.146686, 24.480262, 500 m
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	complaint := func(id string, history bool, lon, lat float64, when time.Time) {
		t.Helper()
		exec(`INSERT INTO complaints (id, ticket_id, received_at, description, address, history)
			VALUES ($1, 'T'||$1, $2, '广场舞噪声', '思明区莲前街道', $3)`, id, when, history)
		exec(`INSERT INTO locations (complaint_id, located, district, district_name, lon, lat, category, subcategory, received_at)
			VALUES ($1, true, 'siming', '思明区', $2, $3, 'noise', 'social_life', $4)`, id, lon, lat, when)
		exec(`INSERT INTO hotspot_members (complaint_id, category, district, lon, lat, at) VALUES ($1, 'noise', 'siming', $2, $3, $4)`, id, lon, lat, when)
	}
	complaint("cmp-q1", false, 118.1467, 24.4803, at(t, fixtureWeek, 1, 20))
	exec(`INSERT INTO cases (id, category, district, team, status, quiet_community, opened_at, sign_due, resolve_due)
		VALUES ('case-q', 'noise', 'siming', 'siming-urban', 'assigned', $1, $2, $3, $4)`,
		name, at(t, fixtureWeek, 1, 20), at(t, fixtureWeek, 2, 20), at(t, "2024-W12", 1, 20))
	exec(`INSERT INTO case_complaints (complaint_id, case_id) VALUES ('cmp-q1', 'case-q')`)
	complaint("hist-q2", true, 118.1470, 24.4800, at(t, fixtureWeek, 3, 21))
	complaint("hist-far", true, 118.0894, 24.4798, at(t, fixtureWeek, 3, 22)) // in no quiet community
	complaint("hist-prev", true, 118.1470, 24.4800, at(t, "2024-W10", 3, 21)) // the week before

	r, err := Generate(ctx, pool, fixtureWeek, at(t, "2024-W20", 0, 9))
	if err != nil {
		t.Fatal(err)
	}
	want := []report.QuietCommunity{{Name: name, District: "siming", DistrictName: "思明区", Complaints: 2, Cases: 1, Open: 1}}
	if !slices.Equal(r.QuietCommunities, want) {
		t.Errorf("quiet communities %+v; want %+v: the work order of history counts in its community", r.QuietCommunities, want)
	}
}
