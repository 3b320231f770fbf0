package router_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
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

// The work order that joined a resolved case just before the case was
// reopened in the same batch hears of both: the merge (resolved) and the
// reopening (assigned). The hotline must hear them in that order, its
// last word being that the case is worked again. The callbacks service
// orders a work order's callbacks by their time, then by their
// webhook-id: the two transitions must not share one time, or the order
// is the webhook-ids' (a hash), wrong for about half of the cases.
func TestTheLateWorkOrderHearsTheReopeningLast(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cb, err := callbacks.New(callbacks.DefaultConfig("", ""), e.pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	for i := range 8 {
		hs := fmt.Sprintf("hs_order_%d", i)
		north := float64(i) * 700
		first := e.complaint(t, fmt.Sprintf("RO%dA", i), at, 0, north)
		first.HotspotID = &hs
		if err := e.handle(t, first); err != nil {
			t.Fatal(err)
		}
		c := e.caseOf(t, first.ComplaintID)
		e.resolve(t, c, at.Add(24*time.Hour))
		lateTicket := fmt.Sprintf("RO%dB", i)
		late := e.complaint(t, lateTicket, at.Add(12*time.Hour), 10, north)
		late.HotspotID = &hs
		back := e.complaint(t, fmt.Sprintf("RO%dC", i), at.Add(10*24*time.Hour), 20, north)
		back.HotspotID = &hs
		if err := e.handle(t, late, back); err != nil {
			t.Fatal(err)
		}
		if got := e.caseOf(t, late.ComplaintID); got.ID != c.ID || got.Reopened != 1 {
			t.Fatalf("late complaint in case %s reopened %d, want %s reopened once", got.ID, got.Reopened, c.ID)
		}
		// The case's events, in the order the relay publishes them, to
		// the callbacks service.
		rows, err := e.pool.Query(e.ctx, `SELECT payload::text FROM outbox WHERE subject LIKE 'case.%' AND payload->>'case_id' = $1 ORDER BY seq`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		payloads, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var evs []event.CaseChanged
		for _, p := range payloads {
			var ev event.CaseChanged
			if err := json.Unmarshal([]byte(p), &ev); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			return cb.HandleCaseChanges(e.ctx, tx, evs, make([]natsx.Meta, len(evs)))
		}); err != nil {
			t.Fatal(err)
		}
		var statuses []string
		srows, err := e.pool.Query(e.ctx, `SELECT status FROM callbacks WHERE ticket_id = $1 AND superseded_by IS NULL ORDER BY seq, at, id`, lateTicket)
		if err != nil {
			t.Fatal(err)
		}
		if statuses, err = pgx.CollectRows(srows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != "assigned" {
			t.Errorf("case %s: work order %s hears %v, in that order; want the reopening (assigned) last", c.ID, lateTicket, statuses)
		}
	}
}
