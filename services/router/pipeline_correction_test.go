package router_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
	"github.com/xiamen-eeb/nuisance/services/officers"
)

// The pipeline, from the geocoder on, through JetStream: a work order
// about construction noise is placed in Huli by its coordinates; both
// Huli teams the rules name return its case (退单), which waits on the
// triage list (无法派单). A Siming supervisor corrects the complaint to
// Siming, as the officers' API records it (the correction row and
// triage.corrected, in one transaction). The geocoder applies it, the
// detector clusters it again and the router takes it out of the Huli
// case, which it closes, into a Siming case assigned to the Siming team.
func TestACorrectionMovesAComplaintOutOfACaseNoTeamHolds(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	e.startRelay(t, n)
	log := testenv.Log(t)
	geo, err := geocoder.New(geocoder.Config{MaxDeliver: 3, AckWait: 5 * time.Second}, e.pool, n.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	det, err := hotspots.New(hotspots.DefaultConfig(), e.pool, n.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{}, 2)
	go func() { _ = geo.Run(ctx); done <- struct{}{} }()
	go func() { _ = det.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	run(t, e.ctx, e.newRouter(t, n.JS))

	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	id, ticket := "cmp_pipe_M1", "PIPE-M1"
	received := event.ComplaintReceived{
		EventID: id + ".received", ComplaintID: id, TicketID: ticket, ReceivedAt: at,
		Description: "工地夜间施工噪声", Category: "noise", Subcategory: "construction",
		Location: &event.Location{Lon: huliLon, Lat: huliLat, CRS: "wgs84"},
	}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(e.ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, category, subcategory, loc_lon, loc_lat, loc_crs)
			VALUES ($1, $2, $3, $4, 'noise', 'construction', $5, $6, 'wgs84')`, id, ticket, at, received.Description, huliLon, huliLat); err != nil {
			return err
		}
		return outbox.Add(e.ctx, tx, event.SubjComplaintReceived, received.EventID, received)
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the complaint in a Huli case", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
			WHERE cc.complaint_id = $1 AND c.district = 'huli'`, id) == 1
	})
	old := e.caseOf(t, id)
	e.returnedByEveryHuliTeam(t, old.ID)
	testenv.Eventually(t, 20*time.Second, "the complaint on the triage list (无法派单)", func() bool {
		return e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND kind = 'unrouted' AND resolved_at IS NULL`, id) == 1
	})

	// The supervisor's correction, as the officers' API records it.
	lon, lat := siteLon, siteLat
	corr := event.TriageCorrected{EventID: id + ".triage.corrected.1", ComplaintID: id, District: "siming", Lon: &lon, Lat: &lat,
		Category: "noise", Subcategory: "construction", Officer: "sup-7"}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(e.ctx, `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, lon, lat, category, subcategory, event_id)
			VALUES ($1, 1, $2, 'unrouted', 'siming', $3, $4, 'noise', 'construction', $5)`, id, corr.Officer, lon, lat, corr.EventID); err != nil {
			return err
		}
		return outbox.Add(e.ctx, tx, event.SubjTriageCorrected, corr.EventID, corr)
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the complaint in a Siming case", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
			WHERE cc.complaint_id = $1 AND c.district = 'siming'`, id) == 1
	})
	got := e.caseOf(t, id)
	active := e.count(t, `SELECT count(*) FROM assignments WHERE case_id = $1 AND status = 'active'`, got.ID)
	left, err := caseflow.Get(e.ctx, e.pool, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	audit := e.audit(t, old.ID)
	t.Logf("corrected: case %s (%s, %s, team %s, %d active); old case %s %s, audit:\n%s",
		got.ID, got.District, got.Status, got.Team, active, left.ID, left.Status, strings.Join(audit, "\n"))
	if got.Status != caseflow.StatusAssigned || got.Team != "siming-eco" || active != 1 {
		t.Errorf("the corrected complaint's case %s is %s, team %s, %d active assignments; want assigned to siming-eco", got.ID, got.Status, got.Team, active)
	}
	if left.Status != caseflow.StatusClosed {
		t.Errorf("the Huli case, left with no complaint, is %s; want closed", left.Status)
	}
	if !strings.Contains(strings.Join(audit, "\n"), "officer:sup-7 remove returned->returned: complaint "+id+" corrected to siming") {
		t.Errorf("the Huli case's audit does not say who moved the complaint where")
	}
	// The team that returned the Huli case last reads it among its
	// finished cases (已办结) through the officers' API: as moved out by
	// the correction (已移出), not closed as handled (已销号), and its
	// record names the case the complaint went to.
	huli := readAsTeam(t, e, left.Team)
	var list struct {
		Items []struct {
			CaseID   string `json:"case_id"`
			Status   string `json:"status"`
			MovedOut bool   `json:"moved_out"`
		} `json:"items"`
	}
	huli("/api/v1/assignments?status=resolved,closed", &list)
	var listed bool
	for _, it := range list.Items {
		if it.CaseID == old.ID {
			listed = true
			if it.Status != caseflow.StatusClosed || !it.MovedOut {
				t.Errorf("team %s's finished list shows the emptied case %s as %s, moved_out %v; want closed, moved out", left.Team, old.ID, it.Status, it.MovedOut)
			}
		}
	}
	if !listed {
		t.Errorf("team %s's finished list %+v lacks the case it returned, emptied by the correction", left.Team, list.Items)
	}
	var view struct {
		Status   string                `json:"status"`
		MovedOut bool                  `json:"moved_out"`
		Audit    []caseflow.AuditEntry `json:"audit"`
	}
	huli("/api/v1/cases/"+old.ID, &view)
	if !view.MovedOut {
		t.Errorf("the emptied case's record does not say it was moved out")
	}
	var removal *caseflow.AuditEntry
	for i, a := range view.Audit {
		if a.Action == "remove" {
			removal = &view.Audit[i]
		}
	}
	if removal == nil || removal.ComplaintID != id || removal.MovedTo != got.ID {
		t.Errorf("the emptied case's removal %+v; want complaint %s moved to case %s", removal, id, got.ID)
	}
	testenv.Eventually(t, 20*time.Second, "the assignment published for the hotline", func() bool {
		return e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'case.assigned.siming-eco' AND payload->>'case_id' = $1
			AND (payload::jsonb)->'tickets' ? $2 AND sent_at IS NOT NULL`, got.ID, ticket) == 1
	})
}

// readAsTeam serves the officers' API on the test's database and returns
// a reader of it as an officer of team: it decodes the answer to path
// into v, failing the test on any other status than 200.
func readAsTeam(t *testing.T, e *env, team string) func(path string, v any) {
	t.Helper()
	svc, err := officers.New(officers.DefaultConfig(), e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, token, err := auth.NewStore(e.pool, 0).Add(e.ctx, auth.NewOfficer{Name: "陈一", Team: team})
	if err != nil {
		t.Fatal(err)
	}
	return func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(e.ctx, "GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET %s as team %s: %d %s", path, team, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}
