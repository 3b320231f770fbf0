package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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
