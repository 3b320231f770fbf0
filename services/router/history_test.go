package router_test

import (
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// history stores a work order loaded as history (POST
// /v1/hotline/history) and returns its clustered event, marked.
func (e *env) history(t *testing.T, ticket string, at time.Time, east, north float64) event.ComplaintClustered {
	t.Helper()
	ev := e.complaint(t, ticket, at, east, north)
	if _, err := e.pool.Exec(e.ctx, `UPDATE complaints SET history = true WHERE id = $1`, ev.ComplaintID); err != nil {
		t.Fatal(err)
	}
	ev.History = true
	return ev
}

// A work order loaded as history was handled long ago: it opens no case,
// joins none (not even the live case of its place), goes on no triage list
// when no rule covers it, and no deadline or event comes of it; the live
// work orders of the same batch are routed as ever. A complaint stored as
// history is left alone even when its event lacks the mark (a geocoder of
// the version before, in a rolling upgrade).
func TestHistoryOpensNoCaseAndJoinsNone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	now := e.clock.now()
	live := e.complaint(t, "L1", now.Add(-time.Hour), 0, 0)
	if err := e.handle(t, live); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, live.ComplaintID)
	var seq int64
	if err := e.pool.QueryRow(e.ctx, `SELECT COALESCE(max(seq), 0) FROM outbox`).Scan(&seq); err != nil {
		t.Fatal(err)
	}

	yearAgo := now.AddDate(-1, 0, 0)
	atSite := e.history(t, "H1", yearAgo, 10, 10)     // the live case's place
	elsewhere := e.history(t, "H2", yearAgo, 3000, 0) // would open a case of its own
	unroutable := e.history(t, "H3", yearAgo, 0, 0)   // no rule covers it
	unroutable.Subcategory = "fireworks"
	unmarked := e.history(t, "H4", now.Add(-2*time.Hour), 20, 0) // the event without the mark
	unmarked.History = false
	fresh := e.complaint(t, "L2", now.Add(-30*time.Minute), 3000, 10) // live, beside H2
	if err := e.handle(t, atSite, elsewhere, unroutable, unmarked, fresh); err != nil {
		t.Fatal(err)
	}

	for _, ev := range []event.ComplaintClustered{atSite, elsewhere, unroutable, unmarked} {
		if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, ev.ComplaintID); n != 0 {
			t.Errorf("history %s is in a case", ev.TicketID)
		}
		if n := e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1`, ev.ComplaintID); n != 0 {
			t.Errorf("history %s is on the triage list", ev.TicketID)
		}
		if n := e.count(t, `SELECT count(*) FROM outbox WHERE payload::text LIKE '%"' || $1 || '"%'`, ev.TicketID); n != 0 {
			t.Errorf("history %s is named in %d events", ev.TicketID, n)
		}
	}
	if tickets := e.count(t, `SELECT count(*) FROM case_complaints WHERE case_id = $1`, c.ID); tickets != 1 {
		t.Errorf("the live case holds %d work orders, want its own only", tickets)
	}
	// The live work order beside a history one opens its own case, which
	// holds it alone.
	other := e.caseOf(t, fresh.ComplaintID)
	if other.ID == c.ID || e.count(t, `SELECT count(*) FROM case_complaints WHERE case_id = $1`, other.ID) != 1 {
		t.Errorf("the live work order beside history is in case %s, with history or the other case", other.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 2 {
		t.Errorf("%d cases, want the two live work orders' only", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE seq > $1 AND payload::text NOT LIKE '%"L2"%'`, seq); n != 0 {
		t.Errorf("%d events of the batch are not the live work order's", n)
	}
	// A year on the clock later, no deadline of history's fires: there is none.
	e.clock.set(now.Add(30 * 24 * time.Hour))
	if _, err := e.svc.FireTimers(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM case_timers WHERE case_id NOT IN ($1, $2)`, c.ID, other.ID); n != 0 {
		t.Errorf("%d deadlines of cases other than the live ones", n)
	}
	// A batch of history alone writes nothing, and a redelivery of it neither.
	again := e.history(t, "H5", yearAgo, 0, 0)
	before := e.count(t, `SELECT count(*) FROM outbox`)
	for range 2 {
		if err := e.handle(t, again, atSite); err != nil {
			t.Fatal(err)
		}
	}
	if after := e.count(t, `SELECT count(*) FROM outbox`); after != before {
		t.Errorf("a batch of history wrote %d events", after-before)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, again.ComplaintID); n != 0 {
		t.Error("history in a batch of its own is in a case")
	}
}
