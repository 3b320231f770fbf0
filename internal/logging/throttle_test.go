package logging

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// clock is a test's clock, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) step(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                { return &clock{t: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)} }
func throttled(every time.Duration) (*Throttle, *observer.ObservedLogs, *clock) {
	core, logs := observer.New(zapcore.DebugLevel)
	th := NewThrottle(zap.New(core, zap.AddCaller()), every)
	c := newClock()
	th.now = c.now
	return th, logs, c
}

// A PostgreSQL outage of 100 s seen by a loop that fails every second:
// the first failure is logged at once, then one line each 30 s saying how
// many were not logged, and one line when it recovers, with the run's
// count. 100 failures, 5 lines, and each failure counted once.
func TestThrottleBoundsARunOfFailures(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	err := errors.New("failed to connect: connection refused")
	for range 100 {
		th.Warn("outbox relay", zap.Error(err))
		c.step(time.Second)
	}
	th.OK("outbox relay")
	all := logs.AllUntimed()
	if len(all) != 5 {
		t.Fatalf("%d lines for 100 failures in 100 s, want 5 (the first, one at 30, 60 and 90 s, the recovery): %v", len(all), all)
	}
	if all[0].Level != zapcore.WarnLevel || all[0].Message != "outbox relay" || all[0].ContextMap()["error"] != err.Error() {
		t.Errorf("first line %v %q %v: want the failure as it came", all[0].Level, all[0].Message, all[0].ContextMap())
	}
	for _, e := range all {
		if !strings.HasSuffix(e.Caller.File, "throttle_test.go") {
			t.Errorf("%q names the caller %s, not the line that failed", e.Message, e.Caller)
		}
	}
	if _, ok := all[0].ContextMap()["suppressed"]; ok {
		t.Errorf("the first line says something was suppressed: %v", all[0].ContextMap())
	}
	logged := 1
	for i, e := range all[1:4] {
		m := e.ContextMap()
		if e.Level != zapcore.WarnLevel || e.Message != "outbox relay" || m["error"] != err.Error() || m["suppressed"] != int64(29) {
			t.Errorf("line %d: %v %q %v: want the failure with suppressed 29", i+2, e.Level, e.Message, m)
		}
		logged += 1 + int(m["suppressed"].(int64))
		if m["failures"] != int64(logged) {
			t.Errorf("line %d counts %v failures, want %d", i+2, m["failures"], logged)
		}
	}
	end := all[4]
	m := end.ContextMap()
	if end.Level != zapcore.InfoLevel || end.Message != "outbox relay: recovered" || m["failures"] != int64(100) ||
		m["suppressed"] != int64(9) || m["failing_for"] != 100*time.Second {
		t.Errorf("recovery line %v %q %v: want info, 100 failures over 100s, 9 not logged since the last", end.Level, end.Message, m)
	}
	// Recovered, the next failure is logged at once.
	th.Warn("outbox relay", zap.Error(err))
	if n := logs.Len(); n != 6 {
		t.Errorf("a failure after the recovery: %d lines, want 6", n)
	}
	// OK without a run writes nothing.
	th.OK("sweep")
	if n := logs.Len(); n != 6 {
		t.Errorf("OK of a key that was not failing wrote a line")
	}
}

// Keys are counted apart: a run of one does not hide the first failure of
// another, and OK ends its own key's run only.
func TestThrottleKeysApart(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	th.Warn("fire deadline timers")
	th.Warn("close out resolved cases")
	c.step(time.Second)
	th.Warn("fire deadline timers")
	th.OK("close out resolved cases")
	th.Fail(zapcore.ErrorLevel, "refused T-1", "store complaints", zap.String("ticket_id", "T-1"))
	th.Fail(zapcore.ErrorLevel, "refused T-2", "store complaints", zap.String("ticket_id", "T-2"))
	var got []string
	for _, e := range logs.AllUntimed() {
		got = append(got, e.Message+fmt.Sprint(e.ContextMap()["ticket_id"]))
	}
	want := "fire deadline timers<nil>|close out resolved cases<nil>|close out resolved cases: recovered<nil>|store complaintsT-1|store complaintsT-2"
	if strings.Join(got, "|") != want {
		t.Errorf("lines %q, want %q", strings.Join(got, "|"), want)
	}
}

// Keys that are never OK (one for each work order PostgreSQL refuses) are
// forgotten once many and quiet for Every, their failures not logged
// written first; a key failing still is kept.
func TestThrottleForgetsQuietKeys(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	th.Warn("outbox relay")
	for i := range maxRuns {
		th.Fail(zapcore.ErrorLevel, fmt.Sprint("refused ", i), "store complaints")
		if i == 0 {
			th.Fail(zapcore.ErrorLevel, "refused 0", "store complaints") // suppressed
		}
	}
	c.step(31 * time.Second)
	th.Warn("outbox relay") // logged again: 31 s since its line
	before := logs.Len()
	th.Fail(zapcore.ErrorLevel, "refused new", "store complaints")
	if n := len(th.runs); n != 2 {
		t.Errorf("%d runs kept, want 2 (outbox relay, failing still; refused new)", n)
	}
	lines := logs.AllUntimed()[before:]
	if len(lines) != 2 || lines[0].ContextMap()["suppressed"] != int64(1) || lines[1].ContextMap()["suppressed"] != nil {
		t.Errorf("forgetting wrote %v: want the one failure of refused 0 not logged, then the new key's", lines)
	}
}

// Keys all failing at once past maxRuns (a burst of work orders
// PostgreSQL refuses) are still bounded: the one quiet longest goes.
func TestThrottleBoundsKeysFailingAtOnce(t *testing.T) {
	t.Parallel()
	th, _, _ := throttled(30 * time.Second)
	for i := range 10 * maxRuns {
		th.Fail(zapcore.ErrorLevel, fmt.Sprint("refused ", i), "store complaints")
	}
	if n := len(th.runs); n > maxRuns {
		t.Errorf("%d runs kept, want at most %d", n, maxRuns)
	}
}
