package router_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// One batch (a backlog after an outage) holds a complaint made before the
// case was resolved, which joins it as resolved, and one made after,
// which reopens it. The reopening concerns every work order the case
// holds, the one that joined just before in the same batch too: otherwise
// the hotline's last word on that work order stays "resolved" while the
// case is being worked again.
func TestAReopeningInTheBatchOfALateMergeAnswersTheLateWorkOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	hs := "hs_1"
	first := e.complaint(t, "RB1", at, 0, 0)
	first.HotspotID = &hs
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	e.resolve(t, c, at.Add(24*time.Hour))
	late := e.complaint(t, "RB2", at.Add(12*time.Hour), 10, 0) // made before the resolution
	late.HotspotID = &hs
	back := e.complaint(t, "RB3", at.Add(10*24*time.Hour), 20, 0) // the nuisance is back
	back.HotspotID = &hs
	if err := e.handle(t, late, back); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, late.ComplaintID); got.ID != c.ID || got.Reopened != 1 {
		t.Fatalf("late complaint in case %s reopened %d, want %s reopened once", got.ID, got.Reopened, c.ID)
	}
	var payload []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT payload::text FROM outbox WHERE subject = 'case.reopened' AND payload->>'case_id' = $1`, c.ID).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var ev event.CaseChanged
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ev.Tickets, "RB2") {
		t.Errorf("case.reopened names %v: the work order that joined the resolved case in the same batch (RB2) never hears of the reopening", ev.Tickets)
	}
}
