package callbacks_test

import (
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// A callback's retry window is reckoned on the database's clock, the one
// its first attempt was stamped with: a replica whose clock runs four
// minutes ahead (within the five a signature may be off) does not give a
// callback up that has been retried for less than the window, and one
// whose clock runs behind does not go on retrying one whose window is
// over.
func TestGivingUpIsReckonedOnTheDatabasesClock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rcv := newReceiver(t, 0)
	rcv.down.Store(true)
	skewed := func(d time.Duration) *callbacks.Service {
		return e.service(t, rcv.srv.URL, nil, func(cfg *callbacks.Config) {
			cfg.RetryFor = 3 * time.Minute
			cfg.Now = func() time.Time { return time.Now().Add(d) }
		})
	}
	ahead, behind := skewed(4*time.Minute), skewed(-4*time.Minute)
	state := func(ticket string) (attempts int, dead bool) {
		t.Helper()
		if err := e.pool.QueryRow(e.ctx, `SELECT attempts, dead_at IS NOT NULL FROM callbacks WHERE ticket_id = $1`, ticket).Scan(&attempts, &dead); err != nil {
			t.Fatal(err)
		}
		return attempts, dead
	}

	e.storeEvent(t, ahead, "case_a", "A1", "assigned", 2, time.Now())
	if _, err := ahead.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if attempts, dead := state("A1"); attempts != 1 || dead {
		t.Errorf("A1 after its first failed attempt, by a replica running ahead: %d attempts, dead %v; want 1, alive", attempts, dead)
	}

	e.storeEvent(t, behind, "case_b", "B1", "assigned", 2, time.Now())
	if _, err := e.pool.Exec(e.ctx, `UPDATE callbacks SET attempts = 1, retry_since = now() - interval '5 minutes' WHERE ticket_id = 'B1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := behind.DeliverOnce(e.ctx); err != nil {
		t.Fatal(err)
	}
	if attempts, dead := state("B1"); attempts != 2 || !dead {
		t.Errorf("B1 failing five minutes into a three-minute window, by a replica running behind: %d attempts, dead %v; want 2, dead", attempts, dead)
	}
}
