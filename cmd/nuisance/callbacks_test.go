package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// TestCallbacksCLIRefusesWhatItsHelpDoesNotOffer: `callbacks retry` takes
// IDs only. A flag meant to narrow it (-n, as for the listings) must be
// refused, not taken as "retry every dead callback"; a listing takes no
// arguments; an unknown ID is said to be unknown; and a listing cut at
// -n says how many there are in all.
func TestCallbacksCLIRefusesWhatItsHelpDoesNotOffer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir()}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runCallbacks(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	if _, msg, err := cli("dead"); err != nil { // migrates the database
		t.Fatalf("dead: %v %s", err, msg)
	}
	pool := pgtest.Pool(t, dsn)
	if _, err := pool.Exec(ctx, `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, at, attempts, dead_at, last_error)
		SELECT 'cb_dead_' || i, 'ev_dead_' || i, 'T-dead-' || i, 'case_' || i, 'assigned', now() - interval '2 days', 40, now(), 'hotline answered 500'
		FROM generate_series(1, 2) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, at)
		SELECT 'cb_wait_' || i, 'ev_wait_' || i, 'T-wait-' || i, 'case_w' || i, 'assigned', now() FROM generate_series(1, 3) i`); err != nil {
		t.Fatal(err)
	}
	// A dead callback is tried no more: the listing says since when, not
	// a next attempt.
	if out, _, err := cli("dead"); err != nil || !strings.Contains(out, "DEAD SINCE") || strings.Contains(out, "NEXT") {
		t.Errorf("callbacks dead: %q %v, want when each was given up on", out, err)
	}
	dead := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE dead_at IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if out, _, err := cli("retry", "-n", "1"); err == nil {
		t.Errorf("callbacks retry -n 1 accepted: %q; %d of 2 dead callbacks left dead", out, dead())
	}
	if out, _, err := cli("pending", "cb_wait_1"); err == nil {
		t.Errorf("callbacks pending with an argument accepted: %q", out)
	}
	if out, msg, err := cli("retry", "cb_no_such"); err == nil || !strings.Contains(err.Error(), "unknown") || !strings.Contains(msg, "cb_no_such: unknown") {
		t.Errorf("retry of an unknown ID does not fail naming it: %q %q %v", out, msg, err)
	}
	// -n typed after an ID is a flag retry refuses, not two more IDs.
	if out, _, err := cli("retry", "cb_no_such", "-n", "1"); err == nil || strings.Contains(err.Error(), "unknown or not dead") {
		t.Errorf("callbacks retry ID -n 1: %q %v, want -n refused as a flag", out, err)
	}
	out, _, err := cli("pending", "-n", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "3") {
		t.Errorf("pending -n 2 with 3 waiting ends %q: the total is not told", last)
	}
	// Times are Xiamen's, their offset said, whatever the host's zone.
	if !strings.Contains(lines[1], " +08:00") {
		t.Errorf("pending lists %q, want its next attempt in Xiamen's time (+08:00)", lines[1])
	}
	// One ID given twice is one callback, known.
	if out, msg, err := cli("retry", "cb_dead_1", "cb_dead_1"); err != nil || strings.Contains(msg, "unknown") || !strings.HasPrefix(out, "1 dead") {
		t.Errorf("retry of one dead ID given twice: %q %q %v", out, msg, err)
	}
}
