package geocoder_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

// TestOneFailingComplaintDoesNotHoldBackItsBatch sends complaints that
// arrive together, one of them without its intake row so that its
// location cannot be stored: the others are stored with their events, and
// the failing one alone is retried until it is dead-lettered.
func TestOneFailingComplaintDoesNotHoldBackItsBatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var evs []event.ComplaintReceived
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("batch-%d", i)
		evs = append(evs, complaint(id, at(22, i), "工地夜间施工，打桩机一直响", &simingNearHuli, geo.GCJ02, ""))
		ids = append(ids, id)
	}
	ghost := complaint("ghost", at(22, 30), "工地夜间施工，打桩机一直响", &simingNearHuli, geo.GCJ02, "")
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		for _, ev := range evs {
			e.insertComplaint(t, tx, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The ghost in the middle, so the batch fails after some of it worked.
	all := append(append(append([]event.ComplaintReceived{}, evs[:3]...), ghost), evs[3:]...)
	for _, ev := range all {
		e.publish(t, event.SubjComplaintReceived, ev.EventID, ev)
	}

	e.waitLocated(t, ids...)
	testenv.Eventually(t, 30*time.Second, "the ghost dead-lettered", func() bool {
		return e.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = $2`, geocoder.DurableReceived, ghost.EventID) == 1
	})
	for _, id := range ids {
		if n := e.count(t, `SELECT count(*) FROM outbox WHERE event_id = $1 AND subject = 'complaint.located.siming.noise'`, id+".located"); n != 1 {
			t.Errorf("%s: %d located events, want 1", id, n)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM locations`); n != len(ids) {
		t.Errorf("%d locations, want %d: the ghost's is not storable", n, len(ids))
	}
	if n := e.count(t, `SELECT count(*) FROM processed_events WHERE consumer = $1`, geocoder.DurableReceived); n != len(ids) {
		t.Errorf("%d processed events, want %d", n, len(ids))
	}
}
