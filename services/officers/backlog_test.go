package officers

import (
	"context"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The operator sees how many complaints wait on the triage list, today's
// apart from history, and how long the oldest of today's has waited.
// Not parallel: the gauges are the process's, and the parallel tests'
// services measure their own databases.
func TestTriageBacklogIsMeasured(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	first := e.triage("unlocated", "")
	e.triage("unclassified", district)
	// A complaint loaded as history: its mark is never set after it is
	// stored.
	e.triageOf("unlocated", "", true)
	if _, err := e.pool.Exec(ctx, `UPDATE triage SET created_at = CASE WHEN complaint_id = $1 THEN now() - interval '3 hours' ELSE now() END`, first); err != nil {
		t.Fatal(err)
	}
	gauge := func(name, list string) float64 {
		t.Helper()
		v, _ := testenv.Metric(t, name, "list", list)
		return v
	}
	if err := e.svc.MeasureTriage(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, hist := gauge("nuisance_triage_waiting", "current"), gauge("nuisance_triage_waiting", "history"); cur != 2 || hist != 1 {
		t.Errorf("waiting: %v current, %v history; want 2 and 1", cur, hist)
	}
	if age := gauge("nuisance_triage_oldest_waiting_seconds", "current"); age < 3*3600 || age > 3*3600+120 {
		t.Errorf("the oldest current entry waited %v s, want 3 hours", age)
	}

	if _, err := e.pool.Exec(ctx, `UPDATE triage SET resolved_at = now(), resolved_by = 'test'`); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.MeasureTriage(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nuisance_triage_waiting", "nuisance_triage_oldest_waiting_seconds"} {
		for _, list := range []string{"current", "history"} {
			if v := gauge(name, list); v != 0 {
				t.Errorf("%s{list=%q} = %v with nothing waiting", name, list, v)
			}
		}
	}
}
