package officers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

// The officers name the geocoder's consumer of corrections without
// importing the geocoder.
func TestCorrectionsConsumerIsTheGeocoders(t *testing.T) {
	if CorrectionsConsumer != geocoder.DurableCorrected {
		t.Errorf("CorrectionsConsumer %q, the geocoder's is %q", CorrectionsConsumer, geocoder.DurableCorrected)
	}
}

func TestTriageList(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	unlocated := e.triage("unlocated", "")
	unclassified := e.triage("unclassified", district)
	huli := e.triage("unclassified", "huli")
	done := e.triage("unlocated", "")
	if _, err := e.pool.Exec(context.Background(), `UPDATE triage SET resolved_at = now() WHERE complaint_id = $1`, done); err != nil {
		t.Fatal(err)
	}
	list := func(who, query string) []string {
		t.Helper()
		code, body := e.do(who, "GET", "/api/v1/triage"+query, nil)
		if code != 200 {
			t.Fatalf("triage%s as %s: %d %s", query, who, code, body)
		}
		var out struct{ Items []TriageItem }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range out.Items {
			ids = append(ids, it.ComplaintID)
			if it.ReportedLocation == nil || it.ReportedLocation.CRS != "gcj02" || it.TicketID == "" || it.Reason == "" {
				t.Errorf("item %+v", it)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		who, query string
		want       []string
	}{
		{whoAdmin, "", []string{huli, unclassified, unlocated}},
		{whoAdmin, "?kind=unlocated", []string{unlocated}},
		{whoAdmin, "?kind=unclassified,unrouted", []string{huli, unclassified}},
		{whoSupervisor, "", []string{unclassified, unlocated}},
		{whoOtherDist, "", []string{huli, unlocated}},
		{whoAdmin, "?limit=1", []string{huli}},
	} {
		if got := list(tc.who, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("triage%s as %s: %v, want %v", tc.query, tc.who, got, tc.want)
		}
	}
	if code, body := e.do(whoAdmin, "GET", "/api/v1/triage?kind=lost", nil); code != 400 || problem(t, body).Errors[0].Field != "kind" {
		t.Errorf("bad kind: %d %s", code, body)
	}
}

func TestTriageCorrect(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	id := e.triage("unlocated", "")
	path := "/api/v1/triage/" + id + "/correct"

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no district", map[string]any{"category": "noise", "subcategory": "construction"}, "/district"},
		{"unknown district", map[string]any{"district": "gulangyu", "category": "noise", "subcategory": "construction"}, "/district"},
		{"lon alone", map[string]any{"district": "siming", "lon": 118.09, "category": "noise", "subcategory": "construction"}, "/lat"},
		{"lat alone", map[string]any{"district": "siming", "lat": 24.46, "category": "noise", "subcategory": "construction"}, "/lon"},
		{"point in Beijing", map[string]any{"district": "siming", "lon": 116.4, "lat": 39.9, "category": "noise", "subcategory": "construction"}, "/lon"},
		{"point in another district", map[string]any{"district": "tongan", "lon": 118.09, "lat": 24.46, "category": "noise", "subcategory": "construction"}, "/district"},
		{"latitude off the globe", map[string]any{"district": "siming", "lon": 118.09, "lat": 124.46, "category": "noise", "subcategory": "construction"}, "/lat"},
		{"no category", map[string]any{"district": "siming", "subcategory": "construction"}, "/category"},
		{"unknown category", map[string]any{"district": "siming", "category": "odour", "subcategory": "construction"}, "/category"},
		{"no subcategory", map[string]any{"district": "siming", "category": "noise"}, "/subcategory"},
		{"subcategory of another category", map[string]any{"district": "siming", "category": "dust", "subcategory": "construction"}, "/subcategory"},
		{"unknown field", map[string]any{"district": "siming", "category": "noise", "subcategory": "construction", "crs": "gcj02"}, "/crs"},
	} {
		code, body := e.do(whoSupervisor, "POST", path, tc.body)
		if code != 400 {
			t.Errorf("%s: status %d, want 400: %s", tc.name, code, body)
			continue
		}
		if p := problem(t, body); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: problem %+v, want field %s", tc.name, p, tc.field)
		}
	}

	good := map[string]any{"district": "siming", "subdistrict": "鹭江街道", "lon": 118.09, "lat": 24.46, "category": "noise", "subcategory": "social_life"}
	for n := 1; n <= 4; n++ {
		if n > 1 {
			// Until the geocoder has applied the last correction, or given
			// up on it, another is refused: applied after the first had put
			// the complaint in a case, it would move the complaint and not
			// its case.
			code, body := e.do(whoSupervisor, "POST", path, good)
			if p := problem(t, body); code != 409 || !strings.Contains(p.Detail, fmt.Sprintf("第 %d 次更正仍在处理中", n-1)) {
				t.Fatalf("correction %d while %d is pending: %d %s", n, n-1, code, body)
			}
			settle := `UPDATE triage_corrections SET applied_at = now() WHERE complaint_id = $1 AND n = $2`
			switch n {
			case 3:
				settle = `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
					SELECT '` + CorrectionsConsumer + `', 'triage.corrected', event_id, event_id, 8, 'refused', '\x7b7d' FROM triage_corrections WHERE complaint_id = $1 AND n = $2`
			case 4:
				// Not applied for 15 minutes: it no longer holds the next back.
				settle = `UPDATE triage_corrections SET at = now() - interval '16 minutes' WHERE complaint_id = $1 AND n = $2`
			}
			if _, err := e.pool.Exec(ctx, settle, id, n-1); err != nil {
				t.Fatal(err)
			}
		}
		code, body := e.do(whoSupervisor, "POST", path, good)
		if code != 202 {
			t.Fatalf("correction %d: %d %s", n, code, body)
		}
		var out struct {
			Correction int    `json:"correction"`
			EventID    string `json:"event_id"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Correction != n {
			t.Fatalf("correction %d answered %s", n, body)
		}
		var subject string
		var payload []byte
		if err := e.pool.QueryRow(ctx, `SELECT subject, payload FROM outbox WHERE event_id = $1`, out.EventID).Scan(&subject, &payload); err != nil {
			t.Fatalf("no outbox event %s: %v", out.EventID, err)
		}
		if subject != event.SubjTriageCorrected {
			t.Fatalf("subject %s", subject)
		}
		sch, err := schemas.Get("triage.corrected.v1")
		if err != nil {
			t.Fatal(err)
		}
		if errs, err := schemas.Validate(sch, payload); err != nil || errs != nil {
			t.Fatalf("payload %s against the schema: %v %v", payload, errs, err)
		}
		var ev event.TriageCorrected
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ComplaintID != id || ev.District != "siming" || ev.Subcategory != "social_life" || ev.Officer != e.ids[whoSupervisor] || ev.Lon == nil {
			t.Fatalf("event %+v", ev)
		}
	}
	var rows int
	var officer, kind string
	if err := e.pool.QueryRow(ctx, `SELECT count(*), max(officer_id), max(kind) FROM triage_corrections WHERE complaint_id = $1`, id).Scan(&rows, &officer, &kind); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || officer != e.ids[whoSupervisor] || kind != "unlocated" {
		t.Fatalf("audit: %d rows by %s of %s", rows, officer, kind)
	}

	// Once the geocoder has applied it, the entry is closed.
	if _, err := e.pool.Exec(ctx, `UPDATE triage SET resolved_at = now() WHERE complaint_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if code, body := e.do(whoSupervisor, "POST", path, good); code != 409 {
		t.Fatalf("correcting a closed entry: %d %s", code, body)
	}
	if code, _ := e.do(whoSupervisor, "POST", "/api/v1/triage/cmp_nowhere/correct", good); code != 404 {
		t.Fatalf("correcting an unknown complaint: %d", code)
	}
}

// A work order loaded as history (nuisance replay -history) that could
// not be placed or classified waits apart from today's: the supervisors'
// list leaves it out unless asked for with ?history=true, which lists
// the history alone, each item marked. It can still be corrected.
func TestTriageKeepsHistoryApart(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	live := e.triage("unlocated", "")
	// The intake stores the mark on the complaint; the geocoder copies it
	// to the triage entry, and the database does for a geocoder that
	// does not (one older than 00096, during a rollout): oldSiming and
	// oldHuli are written without it.
	old := e.triage("unlocated", "")
	if _, err := e.pool.Exec(ctx, `WITH c AS (UPDATE complaints SET history = true WHERE id = $1)
		UPDATE triage SET history = true WHERE complaint_id = $1`, old); err != nil {
		t.Fatal(err)
	}
	oldSiming := e.triageOf("unclassified", district, true)
	oldHuli := e.triageOf("unclassified", "huli", true)
	type item struct {
		ComplaintID string `json:"complaint_id"`
		History     bool   `json:"history"`
	}
	list := func(who, query string) ([]string, []item) {
		t.Helper()
		code, body := e.do(who, "GET", "/api/v1/triage"+query, nil)
		if code != 200 {
			t.Fatalf("triage%s as %s: %d %s", query, who, code, body)
		}
		var out struct{ Items []item }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range out.Items {
			ids = append(ids, it.ComplaintID)
		}
		return ids, out.Items
	}
	for _, tc := range []struct {
		who, query string
		want       []string
	}{
		{whoAdmin, "", []string{live}},
		{whoAdmin, "?history=false", []string{live}},
		{whoSupervisor, "", []string{live}},
		{whoAdmin, "?history=true", []string{oldHuli, oldSiming, old}},
		{whoAdmin, "?history=true&kind=unclassified", []string{oldHuli, oldSiming}},
		{whoSupervisor, "?history=true", []string{oldSiming, old}},
		{whoOtherDist, "?history=true", []string{oldHuli, old}},
		{whoAdmin, "?history=true&limit=1", []string{oldHuli}},
	} {
		got, items := list(tc.who, tc.query)
		if !slices.Equal(got, tc.want) {
			t.Errorf("triage%s as %s: %v, want %v", tc.query, tc.who, got, tc.want)
		}
		for _, it := range items {
			if it.History != (it.ComplaintID != live) {
				t.Errorf("triage%s as %s: %s marked history=%v", tc.query, tc.who, it.ComplaintID, it.History)
			}
		}
	}
	if code, body := e.do(whoAdmin, "GET", "/api/v1/triage?history=yes", nil); code != 400 || problem(t, body).Errors[0].Field != "history" {
		t.Errorf("?history=yes: %d %s", code, body)
	}
	// Corrected like any other.
	good := map[string]any{"district": "siming", "category": "noise", "subcategory": "social_life"}
	if code, body := e.do(whoSupervisor, "POST", "/api/v1/triage/"+old+"/correct", good); code != 202 {
		t.Fatalf("correcting history: %d %s", code, body)
	}
}

// A triage entry written without the history mark (by a geocoder older
// than 00096, still running during a rollout) of a complaint stored as
// history is marked by the database: the list reads the entry's mark
// alone, and the entry is listed with the history, not today's.
func TestTriageEntryOfHistoryIsMarked(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	live := e.triageOf("unlocated", "", false)
	old := e.triageOf("unlocated", "", true)
	for id, want := range map[string]bool{live: false, old: true} {
		var history bool
		if err := e.pool.QueryRow(context.Background(), `SELECT history FROM triage WHERE complaint_id = $1`, id).Scan(&history); err != nil {
			t.Fatal(err)
		}
		if history != want {
			t.Errorf("the entry of %s: history %v, want %v", id, history, want)
		}
	}
}

// A long triage list is read page after page, with the cursor of the
// page before: every entry once, newest first, however many are
// corrected meanwhile; the first page says how many wait.
func TestTriagePages(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	var ids []string
	for range 5 {
		ids = append([]string{e.triage("unlocated", "")}, ids...)
	}
	e.triage("unclassified", "huli") // not the supervisor's
	type page struct {
		Items       []TriageItem
		NextCursor  string `json:"next_cursor"`
		Total       *int
		TotalCapped bool `json:"total_capped"`
	}
	get := func(query string) page {
		t.Helper()
		code, body := e.do(whoSupervisor, "GET", "/api/v1/triage?limit=2"+query, nil)
		if code != 200 {
			t.Fatalf("triage%s: %d %s", query, code, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var got []string
	first := get("")
	if first.Total == nil || *first.Total != 5 || first.TotalCapped {
		t.Errorf("the first page's total: %v (capped %v), want 5", first.Total, first.TotalCapped)
	}
	for _, it := range first.Items {
		got = append(got, it.ComplaintID)
	}
	// The first page's entries are corrected before the next is read.
	if _, err := e.pool.Exec(context.Background(), `UPDATE triage SET resolved_at = now() WHERE complaint_id = ANY($1)`, got); err != nil {
		t.Fatal(err)
	}
	for p := first; p.NextCursor != ""; {
		p = get("&cursor=" + p.NextCursor)
		if p.Total != nil {
			t.Errorf("a page after the first counts again: total %d", *p.Total)
		}
		for _, it := range p.Items {
			got = append(got, it.ComplaintID)
		}
		if len(got) > 10 {
			t.Fatal("the pages do not end")
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("the pages gave %v, want %v", got, ids)
	}
	if p := get(""); p.Total == nil || *p.Total != 3 {
		t.Errorf("the total after two corrections: %v, want 3", p.Total)
	}
	if code, body := e.do(whoSupervisor, "GET", "/api/v1/triage?cursor=nope", nil); code != 400 || problem(t, body).Errors[0].Field != "cursor" {
		t.Errorf("bad cursor: %d %s", code, body)
	}
}

// A side of the triage list longer than triageCountCap is not counted
// to its end on each first page: the total says how many of the newest
// (triageCountCap and one) the officer sees, at most triageCountCap, and
// that at least as many wait (total_capped).
func TestTriageTotalCapped(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	// A geocoder down for days: 10,200 entries, the newest 100 in Huli.
	const n = triageCountCap + 200
	if _, err := e.pool.Exec(context.Background(), `WITH c AS (
			INSERT INTO complaints (id, ticket_id, received_at, description)
			SELECT 'cmp_cap_' || g, 'T-cap-' || g, now() - g * interval '1 minute', '夜间施工噪声扰民'
			FROM generate_series(1, $1::int) g RETURNING id, received_at),
		l AS (INSERT INTO locations (complaint_id, located, district, district_name, received_at)
			SELECT id, false, CASE WHEN split_part(id, '_', 3)::int <= 100 THEN 'huli' END,
				CASE WHEN split_part(id, '_', 3)::int <= 100 THEN '湖里区' END, received_at FROM c)
		INSERT INTO triage (complaint_id, reason, kind, created_at)
		SELECT id, 'geocoder unavailable', 'unlocated', received_at FROM c`, n); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who   string
		total int
	}{{whoAdmin, triageCountCap}, {whoSupervisor, triageCountCap + 1 - 100}} {
		code, body := e.do(tc.who, "GET", "/api/v1/triage?limit=1", nil)
		if code != 200 {
			t.Fatalf("triage as %s: %d %s", tc.who, code, body)
		}
		var p struct {
			Total       *int
			TotalCapped bool `json:"total_capped"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Total == nil || *p.Total != tc.total || !p.TotalCapped {
			t.Errorf("triage as %s: total %d, capped %v; want %d, capped", tc.who, deref(p.Total), p.TotalCapped, tc.total)
		}
	}
}

// deref is *p, or -1 for nil.
func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
