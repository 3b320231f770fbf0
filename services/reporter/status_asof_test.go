package reporter

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A week generated again long after it ended (a correction, a backfill)
// shows its hotspots and their cases with the statuses they had when it
// ended, as its counts and overdue list are: not escalated or closed
// since, not a case resolved and closed since, and not among its cases
// one resolved before the week that a complaint reopened after it.
// hs-s was active at W11's end, escalated in W12 and closed in W14; its
// case of W11 was signed for in the week, resolved in W12, closed in W13;
// its case of W09, resolved in W10, was reopened in W13. hs-b is made of
// work orders of W11 backfilled in W20: no status of it was on record when
// W11 ended.
func TestARegeneratedWeekShowsTheStatusesOfItsEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	w := func(week string, d, h int) time.Time { return at(t, week, d, h) }
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	complaint := func(id, hotspot, category, district string, lon, lat float64, when time.Time) {
		t.Helper()
		exec(`INSERT INTO complaints (id, ticket_id, received_at, description, category) VALUES ($1, 'T'||$1, $2, '噪声扰民', $3)`, id, when, category)
		exec(`INSERT INTO locations (complaint_id, located, district, lon, lat, category, received_at) VALUES ($1, true, $2, $3, $4, $5, $6)`,
			id, district, lon, lat, category, when)
		exec(`INSERT INTO hotspot_members (complaint_id, hotspot_id, category, district, lon, lat, at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, hotspot, category, district, lon, lat, when)
	}
	// statuses are the hotspot's statuses as hotspot_statuses recorded
	// them when they were taken.
	statuses := func(id string, sts ...any) {
		t.Helper()
		for i := 0; i < len(sts); i += 2 {
			exec(`INSERT INTO hotspot_statuses (hotspot_id, status, at) VALUES ($1, $2, $3)`, id, sts[i], sts[i+1])
		}
	}
	router := caseflow.Service("router")
	officer := caseflow.Actor{ID: "officer:1", Team: "siming-urban", Role: caseflow.RoleOfficer}
	step := func(when time.Time, fn func(ctx context.Context, tx pgx.Tx) error) {
		t.Helper()
		ctx := caseflow.WithClock(ctx, func() time.Time { return when })
		if err := pgstore.InTx(ctx, pool, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	open := func(complaintID string, when time.Time) string {
		t.Helper()
		id := caseflow.IDFor(complaintID)
		step(when, func(ctx context.Context, tx pgx.Tx) error {
			if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: complaintID, Category: "noise",
				District: "siming", HotspotID: "hs-s", OpenedAt: when}); err != nil {
				return err
			}
			if _, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-urban", Mode: routing.ModeOnSite,
				Priority: routing.PriorityNormal, SignDue: when.Add(8 * time.Hour), ResolveDue: when.AddDate(0, 0, 10), Reason: "test"}); err != nil {
				return err
			}
			_, err := caseflow.Accept(ctx, tx, id, officer)
			return err
		})
		return id
	}
	resolve := func(id string, when time.Time) {
		t.Helper()
		step(when, func(ctx context.Context, tx pgx.Tx) error {
			_, err := caseflow.Resolve(ctx, tx, id, officer, caseflow.OutcomeRectified, "")
			return err
		})
	}

	exec(`INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at, lon, lat, place)
		VALUES ('hs-s', 'noise', 'siming', 'closed', 4, $1, $2, 118.11, 24.48, '湖滨南路'),
		       ('hs-b', 'dust', 'tongan', 'closed', 2, $3, $4, 118.16, 24.73, '同安工业集中区')`,
		w("2024-W09", 1, 9), w(fixtureWeek, 3, 9), w(fixtureWeek, 1, 9), w(fixtureWeek, 2, 9))
	complaint("s0", "hs-s", "noise", "siming", 118.11, 24.48, w("2024-W09", 1, 9))
	complaint("s1", "hs-s", "noise", "siming", 118.11, 24.48, w(fixtureWeek, 1, 9))
	complaint("s2", "hs-s", "noise", "siming", 118.11, 24.48, w(fixtureWeek, 2, 9))
	complaint("s3", "hs-s", "noise", "siming", 118.11, 24.48, w(fixtureWeek, 3, 9))
	complaint("b1", "hs-b", "dust", "tongan", 118.16, 24.73, w(fixtureWeek, 1, 9))
	complaint("b2", "hs-b", "dust", "tongan", 118.16, 24.73, w(fixtureWeek, 2, 9))
	statuses("hs-s", "emerging", w("2024-W09", 1, 9), "active", w(fixtureWeek, 1, 9),
		"escalated", w("2024-W12", 2, 9), "cooling", w("2024-W13", 3, 9), "closed", w("2024-W14", 3, 9))
	statuses("hs-b", "emerging", w("2024-W20", 0, 9), "closed", w("2024-W20", 0, 10))

	old := open("s0", w("2024-W09", 1, 9))
	resolve(old, w("2024-W10", 2, 9))
	ofWeek := open("s1", w(fixtureWeek, 1, 9))
	resolve(ofWeek, w("2024-W12", 1, 9))
	step(w("2024-W13", 0, 9), func(ctx context.Context, tx pgx.Tx) error {
		if _, err := caseflow.Close(ctx, tx, ofWeek, router, "办结"); err != nil {
			return err
		}
		_, err := caseflow.Reopen(ctx, tx, old, router, w("2024-W13", 0, 17), w("2024-W14", 0, 17), "又有投诉")
		return err
	})

	r, err := Generate(ctx, pool, fixtureWeek, w("2024-W20", 1, 9))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i, h := range r.Hotspots {
		got[h.ID] = i
	}
	i, ok := got["hs-s"]
	if !ok {
		t.Fatalf("hotspots %+v; want hs-s", r.Hotspots)
	}
	s := r.Hotspots[i]
	if s.Status != "active" {
		t.Errorf("hs-s status %q; want active, as W11 ended (escalated in W12, closed in W14)", s.Status)
	}
	if s.CaseID != ofWeek || s.CaseStatus != caseflow.StatusAccepted {
		t.Errorf("hs-s's latest case %s %q; want %s accepted, as W11 ended (resolved in W12, closed in W13)", s.CaseID, s.CaseStatus, ofWeek)
	}
	var cases []string
	for _, c := range s.Cases {
		cases = append(cases, c.CaseID+" "+c.Status)
	}
	if want := []string{ofWeek + " accepted"}; !slices.Equal(cases, want) || s.CaseCount != 1 {
		t.Errorf("hs-s's cases open in W11 %v (%d); want %v: %s was resolved in W10, reopened only in W13", cases, s.CaseCount, want, old)
	}
	if i, ok := got["hs-b"]; !ok {
		t.Errorf("hotspots %+v; want hs-b", r.Hotspots)
	} else if st := r.Hotspots[i].Status; st != "" {
		t.Errorf("hs-b status %q; want none: it had none on record when W11 ended (backfilled in W20)", st)
	}
}
