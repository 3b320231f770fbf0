package reporter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// correct applies a supervisor's triage correction the way the geocoder
// does: the complaint moves to district, its correction is counted and
// its triage entry resolved.
func correct(t *testing.T, pool *pgxpool.Pool, complaintID, district, name string) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id, applied_at)
			SELECT $1, corrections + 1, 'officer-sup', 'unlocated', $2, COALESCE(category, 'noise'), 'social_life',
			       $1 || '.triage.corrected.' || (corrections + 1), now()
			FROM locations WHERE complaint_id = $1`,
		`UPDATE locations SET located = true, district = $2, district_name = $3, method = 'corrected', category = COALESCE(category, 'noise'),
			corrections = corrections + 1, corrected_by = 'officer-sup', located_at = now() WHERE complaint_id = $1`,
		`UPDATE triage SET resolved_at = now(), resolved_by = 'officer-sup' WHERE complaint_id = $1 AND resolved_at IS NULL AND $2 <> ''`,
	} {
		args := []any{complaintID, district}
		if strings.Contains(sql, "$3") {
			args = append(args, name)
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
}

// A supervisor's triage correction of a complaint of a stored week (it
// moved district) makes the served report of that week generated again,
// however old the week, and the report says it is a revision: when it
// was first generated and why it changed.
func TestATriageCorrectionRegeneratesTheStoredWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	// W03 is older than the catch-up window (W04 to W11): stored on demand.
	if _, err := s.Store(ctx, "2024-W03"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer sup")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	type served struct {
		GeneratedAt time.Time      `json:"generated_at"`
		ByDistrict  map[string]int `json:"by_district"`
		Unlocated   int            `json:"unlocated"`
		Revision    *struct {
			FirstGeneratedAt time.Time  `json:"first_generated_at"`
			Revisions        int        `json:"revisions"`
			Corrected        int        `json:"corrected"`
			LastCorrectedAt  *time.Time `json:"last_corrected_at"`
		} `json:"revision"`
	}
	read := func(week string) served {
		t.Helper()
		var r served
		if err := json.Unmarshal([]byte(get("/reports/weekly/"+week+".json")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	before11, before03 := read("2024-W11"), read("2024-W03")
	if before11.Revision != nil {
		t.Errorf("a report generated once says it is a revision: %+v", before11.Revision)
	}
	// An unlocated complaint of each week, corrected into Haicang.
	pick := func(week string) string {
		t.Helper()
		start, end := at(t, week, 0, 0), at(t, week, 7, 0)
		var id string
		if err := pool.QueryRow(ctx, `SELECT complaint_id FROM locations WHERE NOT located AND received_at >= $1 AND received_at < $2
			ORDER BY complaint_id LIMIT 1`, start, end).Scan(&id); err != nil {
			t.Fatalf("no unlocated complaint in %s: %v", week, err)
		}
		return id
	}
	// Each was on the triage list, as the geocoder left it.
	id11, id03 := pick("2024-W11"), pick("2024-W03")
	if _, err := pool.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind) VALUES ($1, '地址不详', 'unlocated'), ($2, '地址不详', 'unlocated')`, id11, id03); err != nil {
		t.Fatal(err)
	}
	correct(t, pool, id11, "haicang", "海沧区")
	correct(t, pool, id03, "haicang", "海沧区")

	// The next day's catch-up.
	s.cfg.Now = func() time.Time { return time.Date(2024, 3, 21, 9, 0, 0, 0, cst) }
	weeks, err := s.CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// W04 too: its figures of the week before are W03's.
	if want := []string{"2024-W03", "2024-W04", "2024-W11"}; !slices.Equal(weeks, want) {
		t.Errorf("after the corrections catch-up stored %v, want %v", weeks, want)
	}
	for _, c := range []struct {
		week   string
		before served
	}{{"2024-W11", before11}, {"2024-W03", before03}} {
		after := read(c.week)
		if after.ByDistrict["haicang"] != c.before.ByDistrict["haicang"]+1 || after.Unlocated != c.before.Unlocated-1 {
			t.Errorf("%s served after the correction: Haicang %d, unlocated %d; want %d, %d", c.week,
				after.ByDistrict["haicang"], after.Unlocated, c.before.ByDistrict["haicang"]+1, c.before.Unlocated-1)
		}
		if r := after.Revision; r == nil || !r.FirstGeneratedAt.Equal(c.before.GeneratedAt) || after.GeneratedAt.Equal(c.before.GeneratedAt) ||
			r.Revisions != 1 || r.Corrected != 1 || r.LastCorrectedAt == nil {
			t.Errorf("%s served after the correction: revision %+v, want the first generation at %s and 1 correction", c.week, r, c.before.GeneratedAt)
		}
	}
	if html := get("/reports/weekly/2024-W11.html"); !strings.Contains(html, "修订说明") || !strings.Contains(html, "1 件投诉经分拣更正") {
		t.Error("the served HTML does not say it is a revision after a triage correction")
	}
	if weeks, err := s.CatchUp(ctx); err != nil || len(weeks) != 0 {
		t.Errorf("catch-up again stored %v (%v), want nothing", weeks, err)
	}
	// The corrected complaint goes on through the pipeline: once the
	// router has put it in a case, the week is generated again, so its
	// hotspot and case are in the report too.
	if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, opened_at) VALUES ('case-c', 'noise', 'haicang', 'haicang-urban', 'assigned', now());
		INSERT INTO case_complaints (complaint_id, case_id) SELECT complaint_id, 'case-c' FROM locations WHERE complaint_id = '`+id11+`'`); err != nil {
		t.Fatal(err)
	}
	if weeks, err := s.CatchUp(ctx); err != nil || !slices.Equal(weeks, []string{"2024-W11"}) {
		t.Errorf("catch-up after the corrected complaint joined a case stored %v (%v), want 2024-W11", weeks, err)
	}
	if r := read("2024-W11").Revision; r == nil || r.Revisions != 2 || r.Corrected != 1 {
		t.Errorf("2024-W11 after its second revision: %+v, want revision 2 with the 1 correction", r)
	}
	sch, err := schemas.Get("report.weekly.v1")
	if err != nil {
		t.Fatal(err)
	}
	if fe, err := schemas.Validate(sch, []byte(get("/reports/weekly/2024-W11.json"))); err != nil || fe != nil {
		t.Errorf("the revised report's JSON does not validate: %v %v", err, fe)
	}
}
