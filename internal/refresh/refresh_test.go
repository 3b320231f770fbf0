package refresh_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/refresh"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A streak of failed refreshes is counted every time and logged once,
// its end once at info; a refresh cut short by the process stopping is
// no failure of the read.
func TestAStreakOfFailuresIsCountedEachTimeAndLoggedOnce(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	tr := refresh.New("nuisance_test_streak", zap.New(core))
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 0 {
		t.Fatalf("born at %v, want 0", v)
	}
	ctx := context.Background()
	boom := errors.New("count callbacks: connection refused")
	tr.Done(ctx, nil)
	for range 3 {
		tr.Done(ctx, boom)
	}
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 3 {
		t.Errorf("%v failures counted, want 3", v)
	}
	if n := logs.FilterMessageSnippet("gauge not refreshed").Len(); n != 1 {
		t.Errorf("the streak logged %d warnings, want 1", n)
	}
	tr.Done(ctx, nil)
	tr.Done(ctx, nil)
	again := logs.FilterMessage("gauge refreshed again").All()
	if len(again) != 1 || again[0].ContextMap()["failed_refreshes"] != int64(3) {
		t.Errorf("the streak's end logged %v, want once with failed_refreshes 3", again)
	}
	tr.Done(ctx, boom)
	if n := logs.FilterMessageSnippet("gauge not refreshed").Len(); n != 2 {
		t.Errorf("a second streak logged %d warnings in all, want 2", n)
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	tr.Done(stopped, context.Canceled)
	if v := testenv.MustMetric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_test_streak"); v != 4 {
		t.Errorf("%v failures counted after a stop, want 4", v)
	}
}
