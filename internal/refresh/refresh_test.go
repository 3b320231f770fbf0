package refresh_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/refresh"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A streak of failed refreshes is counted every time and logged as any
// failure that repeats: its first, then one line each 30 s with the
// counts, and its end once at info; a refresh cut short by the process
// stopping is no failure of the read.
func TestAStreakOfFailuresIsCountedEachTimeAndLoggedAtABoundedRate(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	tr := refresh.New("nuisance_test_streak", zap.New(core), refresh.Clock(func() time.Time { return now }))
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 0 {
		t.Fatalf("born at %v, want 0", v)
	}
	ctx := context.Background()
	boom := errors.New("count callbacks: connection refused")
	gauge := zap.String("gauge", "nuisance_test_streak")
	tr.Done(ctx, nil)
	if n := logs.Len(); n != 0 {
		t.Fatalf("a refresh that passed logged %d lines: %v", n, logs.All())
	}
	// Read every 15 s for 70 s: 5 failures (0, 15, 30, 45, 60 s).
	for range 5 {
		tr.Done(ctx, boom)
		now = now.Add(15 * time.Second)
	}
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 5 {
		t.Errorf("%v failures counted, want 5", v)
	}
	warned := logs.FilterMessage(refresh.Failed).FilterField(gauge).All()
	if len(warned) != 3 {
		t.Fatalf("the streak of 60 s logged %d warnings, want 3 (at 0, 30 and 60 s): %v", len(warned), warned)
	}
	if m := warned[0].ContextMap(); warned[0].Level != zapcore.WarnLevel || m["error"] != boom.Error() || m["suppressed"] != nil {
		t.Errorf("first warning %v %v: want the error, nothing suppressed", warned[0].Level, m)
	}
	for i, e := range warned[1:] {
		m := e.ContextMap()
		if m["error"] != boom.Error() || m["suppressed"] != int64(1) || m["failures"] != int64(2*i+3) {
			t.Errorf("periodic warning %d: %v, want the error, suppressed 1, failures %d", i+1, m, 2*i+3)
		}
		if _, ok := m["failing_since"]; !ok {
			t.Errorf("periodic warning %d has no failing_since: %v", i+1, m)
		}
	}
	tr.Done(ctx, nil)
	tr.Done(ctx, nil)
	again := logs.FilterMessage(refresh.Failed + ": recovered").FilterField(gauge).All()
	if len(again) != 1 {
		t.Fatalf("the streak's end logged %v, want once", again)
	}
	if m := again[0].ContextMap(); again[0].Level != zapcore.InfoLevel || m["failures"] != int64(5) || m["failing_for"] != 75*time.Second {
		t.Errorf("the streak's end logged %v %v, want info with failures 5 over 75 s", again[0].Level, m)
	}
	tr.Done(ctx, boom)
	if n := logs.FilterMessage(refresh.Failed).Len(); n != 4 {
		t.Errorf("a second streak logged %d warnings in all, want 4", n)
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	tr.Done(stopped, context.Canceled)
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 6 {
		t.Errorf("%v failures counted after a stop, want 6", v)
	}
}
