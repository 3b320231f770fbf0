package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// workOrder is a line of a replay file: construction noise at a site of
// Siming, a few metres east of it, received at.
func workOrder(ticket string, at time.Time, east int) string {
	return fmt.Sprintf(`{"ticket_id":%q,"received_at":%q,"description":"小区旁边工地半夜还在打桩，吵得睡不着","address":"厦门市思明区莲前街道前埔路","location":{"lon":%.6f,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"王先生","phone":"13800138000"},"channel":"phone"}`,
		ticket, at.Format(time.RFC3339), 118.1832+float64(east)*0.00001)
}

// TestHistoryBackfillThroughThePipeline runs `nuisance up` as a process
// with a hotline receiving its callbacks, backfills a year-old burst of
// work orders with `nuisance replay -history` and replays a live one in
// the same run. The history is stored once each, located, in one hotspot,
// in no case, never called back, closed to the hotline's look-up and
// counted in its week's report, which lists no overdue case; the live work
// order gets its case and its callback. Sent again the other way, each
// ticket is a duplicate that changes nothing.
func TestHistoryBackfillThroughThePipeline(t *testing.T) {
	t.Parallel()
	up := upWithHotline(t, "warn")
	dsn, dataDir, addr, rcv := up.dsn, up.dataDir, up.addr, up.rcv
	env := map[string]string{"HOTLINE_SECRET": e2eSecret, "NUISANCE_HTTP_ADDR": addr, "NUISANCE_DATA_DIR": dataDir, "DATABASE_URL": dsn}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, getenv, &out, &errOut)
		return out.String(), err
	}

	// A burst at one site a year ago (a Wednesday morning, the whole of
	// it in one week), handled by the hotline long since, and a live work
	// order at the same site now.
	week := gistar.WeekOf(time.Now().AddDate(-1, 0, 0))
	start, _, err := gistar.WeekBounds(week)
	if err != nil {
		t.Fatal(err)
	}
	yearAgo := start.AddDate(0, 0, 2).Add(10 * time.Hour)
	dir := t.TempDir()
	var hist []string
	var lines strings.Builder
	for i := range 4 {
		ticket := fmt.Sprintf("12345-HIST-%d", i)
		hist = append(hist, ticket)
		fmt.Fprintln(&lines, workOrder(ticket, yearAgo.Add(time.Duration(i)*time.Hour), i*5))
	}
	histFile, liveFile := filepath.Join(dir, "history.ndjson"), filepath.Join(dir, "live.ndjson")
	if err := os.WriteFile(histFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	const live = "12345-LIVE-0"
	if err := os.WriteFile(liveFile, []byte(workOrder(live, time.Now().Add(-time.Hour).Truncate(time.Second), 0)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("replay", "-q", "-history", histFile); err != nil || !strings.HasPrefix(out, "accepted 4, duplicate 0") {
		t.Fatalf("replay -history: %v\n%s", err, out)
	}
	if out, err := cli("replay", "-q", liveFile); err != nil || !strings.HasPrefix(out, "accepted 1, duplicate 0") {
		t.Fatalf("replay of the live work order: %v\n%s", err, out)
	}

	pool := pgtest.Pool(t, dsn)
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	testenv.Eventually(t, 120*time.Second, "the live work order called back as assigned", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.statuses[live]) > 0
	})
	testenv.Eventually(t, 60*time.Second, "the router past every work order of history", func() bool {
		return count(`SELECT count(*) FROM complaints c JOIN processed_events p ON p.consumer = 'router' AND p.event_id = c.id || '.clustered'
			WHERE c.ticket_id = ANY($1)`, hist) == len(hist)
	})

	// Sent again the other way: duplicates, nothing changes.
	if out, err := cli("replay", "-q", histFile); err != nil || !strings.HasPrefix(out, "accepted 0, duplicate 4") {
		t.Errorf("the history sent again as the hotline's: %v\n%s", err, out)
	}
	if out, err := cli("replay", "-q", "-history", liveFile); err != nil || !strings.HasPrefix(out, "accepted 0, duplicate 1") {
		t.Errorf("the live work order sent again as history: %v\n%s", err, out)
	}

	if n := count(`SELECT count(*) FROM complaints WHERE ticket_id = ANY($1) AND history`, hist); n != len(hist) {
		t.Errorf("%d of %d work orders of history stored as history", n, len(hist))
	}
	if n := count(`SELECT count(*) FROM complaints WHERE ticket_id = $1 AND NOT history`, live); n != 1 {
		t.Errorf("the live work order stored %d times as live, want once", n)
	}
	if n := count(`SELECT count(*) FROM complaints c JOIN locations l ON l.complaint_id = c.id
		WHERE c.ticket_id = ANY($1) AND l.located AND l.district = 'siming' AND l.category = 'noise'`, hist); n != len(hist) {
		t.Errorf("%d of %d work orders of history located in Siming as noise", n, len(hist))
	}
	var hotspots int
	var hotspot string
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT m.hotspot_id), COALESCE(max(m.hotspot_id), '') FROM complaints c
		JOIN hotspot_members m ON m.complaint_id = c.id WHERE c.ticket_id = ANY($1) AND m.hotspot_id IS NOT NULL`, hist).Scan(&hotspots, &hotspot); err != nil {
		t.Fatal(err)
	}
	if hotspots != 1 || count(`SELECT count(*) FROM hotspot_members WHERE hotspot_id = $1`, hotspot) != len(hist) {
		t.Errorf("history in %d hotspots (%q), want all %d in one", hotspots, hotspot, len(hist))
	}
	if n := count(`SELECT count(*) FROM complaints c JOIN case_complaints cc ON cc.complaint_id = c.id WHERE c.ticket_id = ANY($1)`, hist); n != 0 {
		t.Errorf("%d work orders of history in a case", n)
	}
	if n := count(`SELECT count(*) FROM complaints c JOIN triage t ON t.complaint_id = c.id WHERE c.ticket_id = ANY($1)`, hist); n != 0 {
		t.Errorf("%d work orders of history on the triage list", n)
	}
	if n := count(`SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("%d cases, want the live work order's only", n)
	}
	if n := count(`SELECT count(*) FROM case_audit WHERE action = 'escalate'`); n != 0 {
		t.Errorf("%d escalations", n)
	}
	if n := count(`SELECT count(*) FROM callbacks WHERE ticket_id = ANY($1)`, hist); n != 0 {
		t.Errorf("%d callbacks for work orders of history", n)
	}
	rcv.mu.Lock()
	for _, ticket := range hist {
		if got := rcv.statuses[ticket]; len(got) > 0 {
			t.Errorf("the hotline was called back about %s, history: %v", ticket, got)
		}
	}
	if got := rcv.statuses[live]; len(got) == 0 || got[0] != "assigned" {
		t.Errorf("the live work order was called back %v, want assigned", got)
	}
	rcv.mu.Unlock()

	// The hotline's look-up: history closed, in its hotspot, in no case.
	for ticket, want := range map[string]string{hist[0]: "closed", live: "assigned"} {
		out, err := cli("status", ticket)
		var st struct {
			Status    string  `json:"status"`
			HotspotID *string `json:"hotspot_id"`
			CaseID    *string `json:"case_id"`
		}
		if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Status != want {
			t.Errorf("status %s: %v %s, want %s", ticket, err, out, want)
		}
		if want == "closed" && (st.CaseID != nil || st.HotspotID == nil || *st.HotspotID != hotspot) {
			t.Errorf("status %s: %s, want hotspot %s and no case", ticket, out, hotspot)
		}
	}

	// Its week's report counts it, with its hotspot; this week's lists no
	// case of it overdue (a case opened for it would be, its deadline a
	// year past, in every report from now on).
	type report struct {
		Total  int            `json:"total"`
		ByDist map[string]int `json:"by_district"`
		Timely struct {
			Overdue []struct {
				CaseID string `json:"case_id"`
			} `json:"overdue"`
		} `json:"timeliness"`
		Hotspots []struct {
			ID        string `json:"id"`
			WeekCount int    `json:"week_count"`
		} `json:"hotspots"`
	}
	weekly := func(week string) report {
		t.Helper()
		out, err := cli("report", "--week", week, "--format", "json")
		var r report
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("report %s: %v\n%s", week, err, out)
		}
		return r
	}
	r := weekly(week)
	if r.Total != len(hist) || r.ByDist["siming"] != len(hist) {
		t.Errorf("report %s counts %d complaints (%v by district), want the %d of history in Siming", week, r.Total, r.ByDist, len(hist))
	}
	if len(r.Hotspots) != 1 || r.Hotspots[0].ID != hotspot || r.Hotspots[0].WeekCount != len(hist) {
		t.Errorf("report %s lists hotspots %+v, want %s with %d complaints", week, r.Hotspots, hotspot, len(hist))
	}
	var liveCase string
	if err := pool.QueryRow(ctx, `SELECT cc.case_id FROM case_complaints cc JOIN complaints c ON c.id = cc.complaint_id
		WHERE c.ticket_id = $1`, live).Scan(&liveCase); err != nil {
		t.Fatal(err)
	}
	for _, o := range weekly(gistar.WeekOf(time.Now())).Timely.Overdue {
		if o.CaseID != liveCase {
			t.Errorf("this week's report lists case %s overdue, not the live work order's", o.CaseID)
		}
	}
}

// replay -history posts every line, however old, to the backfill
// endpoint, signed as the hotline's; -max-age, which holds old work orders
// back, makes no sense with it and is refused.
func TestReplayHistoryPostsToTheBackfill(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	paths := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		paths[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"complaint_id":"c","ticket_id":"t","status":"accepted"}`)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "history.ndjson")
	feed := workOrder("A", time.Now().AddDate(-1, 0, 0), 0) + "\n" + workOrder("B", time.Now().Add(-time.Hour), 0) + "\n"
	if err := os.WriteFile(file, []byte(feed), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runReplay(context.Background(), []string{"-q", "-history", "-url", srv.URL, file}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("replay -history: %v\n%s", err, out.String())
	}
	if paths["POST /v1/hotline/history"] != 2 || len(paths) != 1 {
		t.Errorf("replay -history posted %v, want both work orders to POST /v1/hotline/history", paths)
	}
	err := runReplay(context.Background(), []string{"-q", "-history", "-max-age", "168h", "-url", srv.URL, file}, replayEnv, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "-max-age") || paths["POST /v1/hotline/history"] != 2 {
		t.Errorf("replay -history -max-age: %v, posted %v; want it refused before posting", err, paths)
	}
}
