package geocoder_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A work order loaded as history is located and classified as any other,
// and its mark goes on with it: in complaint.located, in
// complaint.unlocated, and in the located event of a supervisor's
// correction, which reads it from the stored complaint. A live work order
// carries none.
func TestHistoryMarkTravelsWithTheComplaint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	yearAgo := time.Now().AddDate(-1, 0, 0).Truncate(time.Second)
	located := complaint("h-loc", yearAgo, "工地夜里还在打桩，吵得睡不着", &simingNearHuli, geo.WGS84, "")
	unlocated := complaint("h-unloc", yearAgo, "工地夜间施工打桩", nil, "", "某某小区后面那条路")
	live := complaint("l-loc", yearAgo, "工地夜里还在打桩，吵得睡不着", &simingNearHuli, geo.WGS84, "")
	located.History, unlocated.History = true, true
	for _, ev := range []event.ComplaintReceived{located, unlocated, live} {
		e.receive(t, ev)
		if ev.History {
			if _, err := e.pool.Exec(context.Background(), `UPDATE complaints SET history = true WHERE id = $1`, ev.ComplaintID); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.waitLocated(t, "h-loc", "h-unloc", "l-loc")

	if r := e.location(t, "h-loc"); !r.Located || str(r.District) != "siming" || str(r.Category) != "noise" {
		t.Errorf("history located as %+v, want in siming, noise", r)
	}
	mark := func(eventID, schema string) bool {
		t.Helper()
		_, payload := e.outboxEvent(t, eventID, schema)
		var ev struct {
			History bool `json:"history"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.History
	}
	if !mark("h-loc.located", "complaint.located.v1") {
		t.Error("complaint.located of history without the mark")
	}
	if !mark("h-unloc.unlocated", "complaint.unlocated.v1") {
		t.Error("complaint.unlocated of history without the mark")
	}
	if mark("l-loc.located", "complaint.located.v1") {
		t.Error("a live work order's complaint.located is marked as history")
	}
	if l := e.lookup(t, "T-h-loc"); l.Status != "closed" || str(l.District) != "siming" {
		t.Errorf("look-up of located history %+v, want closed in siming", l)
	}

	// Corrected from triage, it is located, and still history.
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id)
		VALUES ('h-unloc', 1, 'off-7', 'unlocated', 'jimei', '', '', 'corr-h')`); err != nil {
		t.Fatal(err)
	}
	e.correct(t, event.TriageCorrected{EventID: "corr-h", ComplaintID: "h-unloc", District: "jimei", Officer: "off-7"})
	testenv.Eventually(t, 20*time.Second, "the correction of history", func() bool {
		return e.count(t, `SELECT count(*) FROM outbox WHERE event_id = 'h-unloc.located.c1'`) == 1
	})
	if !mark("h-unloc.located.c1", "complaint.located.v1") {
		t.Error("the corrected located event of history lost the mark")
	}
}

// A work order loaded as history that cannot be placed goes on the
// triage list marked as history, kept apart from today's: by the mark of
// its event, or by the stored complaint's alone (an event published
// before the mark travelled). A live one is not marked.
func TestHistoryTriageEntryIsMarked(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	yearAgo := time.Now().AddDate(-1, 0, 0).Truncate(time.Second)
	byEvent := complaint("h-ev", yearAgo, "工地夜间施工打桩", nil, "", "某某小区后面那条路")
	byEvent.History = true
	stored := complaint("h-stored", yearAgo, "工地夜间施工打桩", nil, "", "某某小区后面那条路")
	live := complaint("l-unloc", yearAgo, "工地夜间施工打桩", nil, "", "某某小区后面那条路")
	for _, ev := range []event.ComplaintReceived{byEvent, stored, live} {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			e.insertComplaint(t, tx, ev)
			if ev.ComplaintID != "l-unloc" {
				if _, err := tx.Exec(ctx, `UPDATE complaints SET history = true WHERE id = $1`, ev.ComplaintID); err != nil {
					return err
				}
			}
			return outbox.Add(ctx, tx, event.SubjComplaintReceived, ev.EventID, ev)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.waitLocated(t, "h-ev", "h-stored", "l-unloc")
	for id, want := range map[string]bool{"h-ev": true, "h-stored": true, "l-unloc": false} {
		var kind string
		var history bool
		if err := e.pool.QueryRow(ctx, `SELECT kind, history FROM triage WHERE complaint_id = $1`, id).Scan(&kind, &history); err != nil {
			t.Fatalf("triage entry of %s: %v", id, err)
		}
		if kind != "unlocated" || history != want {
			t.Errorf("triage entry of %s: %s, history %v; want unlocated, history %v", id, kind, history, want)
		}
	}
}
