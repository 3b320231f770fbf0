package outbox_test

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A relay pass that cannot read the outbox leaves nuisance_outbox_pending
// at its last read: the failed reads are counted and logged once for the
// streak, and their end is logged.
func TestARelayPassThatCannotReadTheOutboxIsCounted(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	core, logs := observer.New(zapcore.InfoLevel)
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: zap.New(core), Subjects: []string{"complaint.stale-test.>"}}
	ctx := context.Background()
	failures := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_outbox_pending")
		return v
	}
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE outbox RENAME TO outbox_away`); err != nil {
		t.Fatal(err)
	}
	before := failures()
	for range 3 {
		if _, err := r.RelayOnce(ctx); err == nil {
			t.Fatal("a pass without its table did not fail")
		}
	}
	if got := failures() - before; got < 3 {
		t.Errorf("%v failed reads counted, want at least 3", got)
	}
	gauge := zap.String("gauge", "nuisance_outbox_pending")
	if n := logs.FilterMessage("gauge not refreshed").FilterField(gauge).Len(); n != 1 {
		t.Errorf("%d warnings for the streak of failed reads, want 1", n)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE outbox_away RENAME TO outbox`); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RelayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("gauge not refreshed: recovered").FilterField(gauge).Len(); n != 1 {
		t.Errorf("the reads' return logged %d times, want 1", n)
	}
}
