package officers

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

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

// The triage list cannot be read (here its table is away): its gauges
// keep their last value, and the failed reads are counted and logged once
// for the streak, where a warning was logged every minute and nothing
// counted; the reads' return is logged.
func TestAFailedMeasureOfTheTriageListIsCounted(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	failures := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_triage_waiting")
		return v
	}
	before := failures()
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := e.pool.Exec(ctx, `ALTER TABLE triage RENAME TO triage_away`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); e.svc.measureTriage(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 10*time.Second, "failed reads counted", func() bool { return failures() >= before+3 })
	gauge := zap.String("gauge", "nuisance_triage_waiting")
	if n := e.logs.FilterMessage("gauge not refreshed").FilterField(gauge).Len(); n != 1 {
		t.Errorf("%d warnings for the streak of failed reads, want 1", n)
	}
	if _, err := e.pool.Exec(ctx, `ALTER TABLE triage_away RENAME TO triage`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the reads' return logged", func() bool {
		return e.logs.FilterMessage("gauge not refreshed: recovered").FilterField(gauge).Len() == 1
	})
}
