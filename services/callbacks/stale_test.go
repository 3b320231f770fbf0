package callbacks_test

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// The count behind nuisance_callbacks fails (here its table is away): the
// gauge keeps its last value, and the failures are counted and logged
// once, where they were dropped and the operator saw a count of
// callbacks waiting that no longer moved; the count's return is logged.
func TestAFailedCountOfCallbacksIsCountedAndLogged(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := callbacks.DefaultConfig("", secret)
	cfg.Poll, cfg.CountEvery = 20*time.Millisecond, 20*time.Millisecond
	svc, err := callbacks.New(cfg, e.pool, n.JS, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	failures := func() float64 {
		v, _ := testenv.Metric(t, "nuisance_gauge_refresh_failures_total", "gauge", "nuisance_callbacks")
		return v
	}
	before := failures()
	e.run(t, svc)
	if _, err := e.pool.Exec(e.ctx, `ALTER TABLE callbacks RENAME TO callbacks_away`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "failed counts counted", func() bool { return failures() >= before+3 })
	if n := logs.FilterMessage("gauge not refreshed").FilterField(zap.String("gauge", "nuisance_callbacks")).Len(); n != 1 {
		t.Errorf("%d warnings for the streak of failed counts, want 1", n)
	}
	if _, err := e.pool.Exec(e.ctx, `ALTER TABLE callbacks_away RENAME TO callbacks`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the count's return logged", func() bool {
		return logs.FilterMessage("gauge not refreshed: recovered").FilterField(zap.String("gauge", "nuisance_callbacks")).Len() == 1
	})
}
