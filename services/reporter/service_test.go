package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

var cst = time.FixedZone("CST", 8*3600)

func TestNextRunAndLastDue(t *testing.T) {
	t.Parallel()
	after := 5 * time.Minute
	tests := []struct {
		name    string
		now     time.Time
		next    time.Time
		lastDue string
	}{
		{"wednesday", time.Date(2024, 3, 13, 15, 0, 0, 0, cst), time.Date(2024, 3, 18, 0, 5, 0, 0, cst), "2024-W10"},
		{"monday before the delay", time.Date(2024, 3, 18, 0, 3, 0, 0, cst), time.Date(2024, 3, 18, 0, 5, 0, 0, cst), "2024-W10"},
		{"monday at the delay", time.Date(2024, 3, 18, 0, 5, 0, 0, cst), time.Date(2024, 3, 25, 0, 5, 0, 0, cst), "2024-W11"},
		{"sunday night", time.Date(2024, 3, 17, 23, 59, 0, 0, cst), time.Date(2024, 3, 18, 0, 5, 0, 0, cst), "2024-W10"},
		{"sunday 16:30 UTC is monday in Xiamen", time.Date(2024, 3, 17, 16, 30, 0, 0, time.UTC), time.Date(2024, 3, 25, 0, 5, 0, 0, cst), "2024-W11"},
		{"new year", time.Date(2025, 1, 1, 12, 0, 0, 0, cst), time.Date(2025, 1, 6, 0, 5, 0, 0, cst), "2024-W52"},
		{"week 53", time.Date(2021, 1, 4, 1, 0, 0, 0, cst), time.Date(2021, 1, 11, 0, 5, 0, 0, cst), "2020-W53"},
		// 2026 has 53 ISO weeks: 2026-W53 runs 2026-12-28 to 2027-01-03.
		{"2026-W53 opens", time.Date(2026, 12, 28, 0, 5, 0, 0, cst), time.Date(2027, 1, 4, 0, 5, 0, 0, cst), "2026-W52"},
		{"new year's day 2027", time.Date(2027, 1, 1, 9, 0, 0, 0, cst), time.Date(2027, 1, 4, 0, 5, 0, 0, cst), "2026-W52"},
		{"2027-01-04 before the delay", time.Date(2027, 1, 4, 0, 4, 0, 0, cst), time.Date(2027, 1, 4, 0, 5, 0, 0, cst), "2026-W52"},
		{"2027-01-04 at the delay", time.Date(2027, 1, 4, 0, 5, 0, 0, cst), time.Date(2027, 1, 11, 0, 5, 0, 0, cst), "2026-W53"},
		{"2027-01-03 16:30 UTC is monday in Xiamen", time.Date(2027, 1, 3, 16, 30, 0, 0, time.UTC), time.Date(2027, 1, 11, 0, 5, 0, 0, cst), "2026-W53"},
		{"2027-W01 done", time.Date(2027, 1, 11, 0, 5, 0, 0, cst), time.Date(2027, 1, 18, 0, 5, 0, 0, cst), "2027-W01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NextRun(tt.now, after); !got.Equal(tt.next) {
				t.Errorf("NextRun(%s) = %s, want %s", tt.now, got, tt.next)
			}
			if got := LastDue(tt.now, after); got != tt.lastDue {
				t.Errorf("LastDue(%s) = %s, want %s", tt.now, got, tt.lastDue)
			}
		})
	}
}

// fakeAuth maps bearer tokens to roles, the edge the officers' token
// store fills in production.
func fakeAuth(r *http.Request) (string, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer sup":
		return "supervisor", nil
	case "Bearer adm":
		return "admin", nil
	case "Bearer off":
		return "officer", nil
	case "Bearer down":
		return "", errors.New("token store unreachable")
	}
	return "", fault.Errorf(fault.Unauthorized, "missing or unknown token")
}

func newService(t *testing.T, pool *pgxpool.Pool, now time.Time) *Service {
	t.Helper()
	cfg := DefaultConfig(fakeAuth)
	cfg.Now = func() time.Time { return now }
	s, err := New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storedWeeks(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT week FROM weekly_reports ORDER BY week`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

func TestCatchUpStoresEachMissingWeekOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool) // complaints from 2024-W03 to 2024-W11
	// A week stored earlier, with as many complaints as it has now, is
	// kept as it is.
	if _, err := pool.Exec(ctx, `INSERT INTO weekly_reports (week, total, json, html, csv, geojson, complaints)
		SELECT '2024-W09', 1, '{}', '', '', '', count(*) FROM complaints
		WHERE received_at >= '2024-02-26T00:00:00+08:00' AND received_at < '2024-03-04T00:00:00+08:00'`); err != nil {
		t.Fatal(err)
	}
	// Wednesday of week 12: weeks 4 to 11 are due (eight weeks back).
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	// Two instances start at once.
	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { results[i], errs[i] = s.CatchUp(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"2024-W04", "2024-W05", "2024-W06", "2024-W07", "2024-W08", "2024-W09", "2024-W10", "2024-W11"}
	if got := storedWeeks(t, pool); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	var totalStored int
	for _, r := range results {
		totalStored += len(r)
	}
	if totalStored != len(want)-1 {
		t.Errorf("instances stored %v, want the %d missing weeks once in all", results, len(want)-1)
	}
	again, err := s.CatchUp(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second catch-up stored %v (%v), want nothing", again, err)
	}

	// One event per stored week, with the deterministic id and the schema.
	sch, err := schemas.Get("report.weekly.generated.v1")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT event_id, subject, payload FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, subject string
		var payload []byte
		if err := rows.Scan(&id, &subject, &payload); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if subject != "report.weekly.generated" {
			t.Errorf("event %s on %s", id, subject)
		}
		if fe, err := schemas.Validate(sch, payload); err != nil || fe != nil {
			t.Errorf("event %s does not validate: %v %v", id, err, fe)
		}
	}
	var wantIDs []string
	for _, w := range want {
		if w != "2024-W09" {
			wantIDs = append(wantIDs, EventID(w))
		}
	}
	// Two instances store weeks concurrently: the events' order is theirs.
	slices.Sort(ids)
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("events %v, want %v", ids, wantIDs)
	}

	var total int
	if err := pool.QueryRow(ctx, `SELECT total FROM weekly_reports WHERE week = '2024-W11'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	r, err := Generate(ctx, pool, "2024-W11", fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	if total != r.Total {
		t.Errorf("stored total %d, report total %d", total, r.Total)
	}
}

// A stored report is generated again when its week changes: a complaint
// of the week stored after it (a hotline retry, a backfill), or complaints
// it counted on their way through the pipeline that have arrived since. A
// complaint that stays on its way does not make it generated again.
func TestAStaleReportIsGeneratedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	stored := func() (total, complaints, unsettled int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT total, complaints, unsettled FROM weekly_reports WHERE week = '2024-W11'`).Scan(&total, &complaints, &unsettled); err != nil {
			t.Fatal(err)
		}
		return
	}
	catchUp := func(want ...string) {
		t.Helper()
		weeks, err := s.CatchUp(ctx)
		if err != nil || !slices.Equal(weeks, want) {
			t.Fatalf("catch-up stored %v (%v), want %v", weeks, err, want)
		}
	}
	total, n, on := stored()
	// A work order of the week arrives late: not yet located.
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address)
		VALUES ('late-1', 'T-late-1', '2024-03-17T23:00:00+08:00', '夜间施工', '思明区')`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	if t2, n2, on2 := stored(); t2 != total+1 || n2 != n+1 || on2 != on+1 {
		t.Errorf("after a late complaint: total %d, %d complaints, %d on their way; want %d, %d, %d", t2, n2, on2, total+1, n+1, on+1)
	}
	catchUp() // nothing changed
	// The late complaint is located and routed: the report is generated again.
	if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, received_at)
		VALUES ('late-1', false, NULL, NULL, '2024-03-17T23:00:00+08:00')`); err != nil {
		t.Fatal(err)
	}
	catchUp("2024-W11")
	if _, _, on3 := stored(); on3 != on {
		t.Errorf("after the late complaint settled: %d on their way, want %d", on3, on)
	}
	catchUp()
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE event_id = $1`, EventID("2024-W11")).Scan(&events); err != nil || events != 1 {
		t.Errorf("%d report.weekly.generated events for the week (%v), want 1", events, err)
	}
}

func TestCatchUpWithoutComplaintsStoresNothing(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	weeks, err := s.CatchUp(context.Background())
	if err != nil || len(weeks) != 0 {
		t.Errorf("catch-up on an empty database stored %v (%v)", weeks, err)
	}
}

func TestRunStoresOnStartAndPublishes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testenv.DB(t)
	ns := testenv.StartNATS(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 18, 0, 6, 0, 0, cst))
	relay := &outbox.Relay{Pool: pool, JS: ns.JS, Log: testenv.Log(t), Poll: 50 * time.Millisecond}
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(ctx) })
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	defer wg.Wait()
	defer cancel()

	cons, err := ns.JS.CreateOrUpdateConsumer(ctx, "REPORTS", jetstream.ConsumerConfig{FilterSubject: "report.weekly.generated", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	testenv.Eventually(t, 30*time.Second, "report.weekly.generated for 2024-W11", func() bool {
		batch, err := cons.FetchNoWait(16)
		if err != nil {
			return false
		}
		for m := range batch.Messages() {
			var ev struct {
				Week string `json:"week"`
			}
			if json.Unmarshal(m.Data(), &ev) == nil {
				seen[ev.Week] = m.Headers().Get(jetstream.MsgIDHeader)
			}
			_ = m.Ack()
		}
		_, ok := seen["2024-W11"]
		return ok
	})
	if seen["2024-W11"] != EventID("2024-W11") {
		t.Errorf("Nats-Msg-Id %q, want %q", seen["2024-W11"], EventID("2024-W11"))
	}
	if got := storedWeeks(t, pool); len(got) != 8 || got[len(got)-1] != "2024-W11" {
		t.Errorf("stored %v, want the eight weeks up to 2024-W11", got)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	if _, err := s.Store(ctx, "2024-W11"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var storedHTML, storedCSV string
	if err := pool.QueryRow(ctx, `SELECT html, csv FROM weekly_reports WHERE week = '2024-W11'`).Scan(&storedHTML, &storedCSV); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, token string
		status            int
		contentType       string
		body              string // a substring the body must hold
	}{
		{"no token", "/reports/weekly/", "", 401, "application/problem+json", "unauthorized"},
		{"officer", "/reports/weekly/2024-W11.html", "off", 403, "application/problem+json", "supervisors"},
		{"token store down", "/reports/weekly/", "down", 500, "application/problem+json", "internal error"},
		{"list", "/reports/weekly/", "sup", 200, "application/json", `"/reports/weekly/2024-W11.geojson"`},
		{"html", "/reports/weekly/2024-W11.html", "sup", 200, "text/html; charset=utf-8", storedHTML},
		{"csv", "/reports/weekly/2024-W11.csv", "adm", 200, "text/csv; charset=utf-8", storedCSV},
		{"json", "/reports/weekly/2024-W11.json", "adm", 200, "application/json", `"week": "2024-W11"`},
		{"geojson", "/reports/weekly/2024-W11.geojson", "adm", 200, "application/geo+json", `"FeatureCollection"`},
		{"not stored, generated", "/reports/weekly/2024-W10.json", "adm", 200, "application/json", `"week": "2024-W10"`},
		{"week not over", "/reports/weekly/2024-W12.html", "adm", 404, "application/problem+json", "not over"},
		{"bad week", "/reports/weekly/2024-W99.html", "adm", 400, "application/problem+json", "2024-W99"},
		{"bad format", "/reports/weekly/2024-W11.pdf", "adm", 404, "application/problem+json", "no report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != tt.contentType || !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: %d %s %.200s; want %d %s containing %.80q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.contentType, tt.body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestNewRequiresAuthorizer(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}, nil, testenv.Log(t)); err == nil {
		t.Error("New without an authorizer succeeded")
	}
}

// A catch-up that fails before it comes to store a report (a query of the
// weeks to generate refused) is counted failed, as one whose store failed
// is: it was counted nowhere, and the reports due were never generated
// while NuisanceWeeklyReportFailed stayed silent. Not parallel: the
// counter is the process's.
func TestACatchUpThatFailsIsCounted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testenv.DB(t)
	seed(t, pool)
	if _, err := pool.Exec(ctx, `ALTER TABLE weekly_reports RENAME TO weekly_reports_away`); err != nil {
		t.Fatal(err)
	}
	s := newService(t, pool, time.Date(2024, 3, 18, 0, 6, 0, 0, cst))
	s.cfg.Retry = 50 * time.Millisecond
	before, _ := testenv.Metric(t, "nuisance_reporter_reports_total", "outcome", "failed")
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 10*time.Second, "a failed catch-up counted", func() bool {
		v, _ := testenv.Metric(t, "nuisance_reporter_reports_total", "outcome", "failed")
		return v > before
	})
}
