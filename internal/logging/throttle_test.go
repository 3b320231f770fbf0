package logging

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// clock is a test's clock, moved by hand, with its timers: step fires
// those it passes, in order.
type clock struct {
	t      time.Time
	timers []*timer
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *clock) now() time.Time { return c.t }
func (c *clock) step(d time.Duration) {
	end := c.t.Add(d)
	for {
		var next *timer
		for _, tm := range c.timers {
			if !tm.stopped && !tm.at.After(end) && (next == nil || tm.at.Before(next.at)) {
				next = tm
			}
		}
		if next == nil {
			break
		}
		next.stopped = true
		c.t = next.at
		next.f()
	}
	c.t = end
}
func (c *clock) after(d time.Duration, f func()) func() bool {
	tm := &timer{at: c.t.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool { was := !tm.stopped; tm.stopped = true; return was }
}

// armed counts the timers not fired nor stopped.
func (c *clock) armed() int {
	n := 0
	for _, tm := range c.timers {
		if !tm.stopped {
			n++
		}
	}
	return n
}
func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)} }
func throttled(every time.Duration) (*Throttle, *observer.ObservedLogs, *clock) {
	core, logs := observer.New(zapcore.DebugLevel)
	th := NewThrottle(zap.New(core, zap.AddCaller()), every)
	c := newClock()
	th.now, th.after = c.now, c.after
	return th, logs, c
}

// A PostgreSQL outage of 100 s seen by a loop that fails every second:
// the first failure is logged at once, then one line each 30 s (its
// timer's, as the window ends) saying how many were not logged since the
// line before, and one line when it recovers, with the run's count. 100
// failures, 5 lines, and each failure counted once.
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
	// At 30 s the failures of 1 to 29 s; at 60 and 90 s those of the 30
	// s before.
	counted := 1
	for i, e := range all[1:4] {
		m := e.ContextMap()
		want := int64(30)
		if i == 0 {
			want = 29
		}
		if e.Level != zapcore.WarnLevel || e.Message != "outbox relay" || m["error"] != err.Error() || m["suppressed"] != want {
			t.Errorf("line %d: %v %q %v: want the failure with suppressed %d", i+2, e.Level, e.Message, m, want)
		}
		counted += int(m["suppressed"].(int64))
		if m["failures"] != int64(counted) {
			t.Errorf("line %d counts %v failures, want %d", i+2, m["failures"], counted)
		}
	}
	end := all[4]
	m := end.ContextMap()
	if end.Level != zapcore.InfoLevel || end.Message != "outbox relay: recovered" || m["failures"] != int64(100) ||
		m["suppressed"] != int64(10) || m["failing_for"] != 100*time.Second {
		t.Errorf("recovery line %v %q %v: want info, 100 failures over 100s, 10 not logged since the last", end.Level, end.Message, m)
	}
	if n := c.armed(); n != 0 {
		t.Errorf("%d timers armed after the recovery, want none", n)
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
// written once (by their timer, at Every); a key failing still is kept.
func TestThrottleForgetsQuietKeys(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	th.Warn("outbox relay")
	for i := range maxRuns {
		// Each key a millisecond after the one before: the key evicted
		// when the last comes is the quiet longest, outbox relay, and
		// not one of the same instant picked by the map's order.
		c.step(time.Millisecond)
		th.Fail(zapcore.ErrorLevel, fmt.Sprint("refused ", i), "store complaints")
		if i == 0 {
			th.Fail(zapcore.ErrorLevel, "refused 0", "store complaints") // suppressed
		}
	}
	before := logs.Len()
	c.step(31 * time.Second)
	lines := logs.AllUntimed()[before:]
	if len(lines) != 1 || lines[0].ContextMap()["suppressed"] != int64(1) {
		t.Errorf("30 s on, %v written: want the one failure of refused 0 not logged", lines)
	}
	th.Warn("outbox relay") // logged again: 31 s since its line
	before = logs.Len()
	th.Fail(zapcore.ErrorLevel, "refused new", "store complaints")
	if n := len(th.runs); n != 2 {
		t.Errorf("%d runs kept, want 2 (outbox relay, failing still; refused new)", n)
	}
	lines = logs.AllUntimed()[before:]
	if len(lines) != 1 || lines[0].ContextMap()["suppressed"] != nil {
		t.Errorf("forgetting wrote %v: want only the new key's first line", lines)
	}
}

// Keys all failing at once past maxRuns (a burst of work orders
// PostgreSQL refuses) are still bounded: the one quiet longest goes.
func TestThrottleBoundsKeysFailingAtOnce(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	for i := range 10 * maxRuns {
		key := fmt.Sprint("refused ", i)
		th.Fail(zapcore.ErrorLevel, key, "store complaints", zap.String("key", key))
		th.Fail(zapcore.ErrorLevel, key, "store complaints", zap.String("key", key)) // suppressed
		c.step(time.Millisecond)
	}
	if n := len(th.runs); n > maxRuns {
		t.Errorf("%d runs kept, want at most %d", n, maxRuns)
	}
	if n := c.armed(); n > maxRuns {
		t.Errorf("%d timers armed, want at most one a run kept (%d)", n, maxRuns)
	}
	// Each key's failure not logged is written once: at its eviction, or
	// by its timer for those kept.
	c.step(time.Minute)
	written := map[string]int{}
	for _, e := range logs.FilterField(zap.Int("suppressed", 1)).All() {
		written[e.ContextMap()["key"].(string)]++
	}
	if len(written) != 10*maxRuns {
		t.Errorf("%d keys' failure not logged written, want %d", len(written), 10*maxRuns)
	}
	for k, n := range written {
		if n != 1 {
			t.Errorf("%s: its failure not logged written %d times", k, n)
		}
	}
	if n := c.armed(); n != 0 {
		t.Errorf("%d timers armed once all were due, want none", n)
	}
}

// A loop that stops failing without a success (stopped, or failing at
// long intervals): its failures not logged are written once Every has
// passed since its line, with no call to write them, naming the line
// that failed; the run goes on from there.
func TestThrottleWritesFailuresNotLoggedWithoutAnotherCall(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	for range 3 {
		th.Warn("record callbacks", zap.Int("callbacks", 4))
		c.step(time.Second)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d lines for 3 failures within 3 s, want 1", n)
	}
	c.step(26 * time.Second)
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d lines 29 s after the first failure, want 1", n)
	}
	c.step(time.Second)
	all := logs.AllUntimed()
	if len(all) != 2 {
		t.Fatalf("%d lines 30 s after the first failure, want 2 (the first, then the 2 not logged): %v", len(all), all)
	}
	m := all[1].ContextMap()
	if all[1].Level != zapcore.WarnLevel || all[1].Message != "record callbacks" || m["suppressed"] != int64(2) ||
		m["failures"] != int64(3) || m["callbacks"] != int64(4) || !strings.HasSuffix(all[1].Caller.File, "throttle_test.go") {
		t.Errorf("line written at 30 s %v %q %v %s: want the failure, 2 suppressed of 3, naming the test", all[1].Level, all[1].Message, m, all[1].Caller)
	}
	c.step(time.Hour)
	if n := logs.Len(); n != 2 || c.armed() != 0 {
		t.Errorf("an hour on, %d lines and %d timers armed, want 2 and none", n, c.armed())
	}
	// The next failure, an hour on, is logged at once; the one after is
	// counted from it.
	th.Warn("record callbacks", zap.Int("callbacks", 1))
	th.Warn("record callbacks", zap.Int("callbacks", 1))
	th.OK("record callbacks")
	all = logs.AllUntimed()
	if len(all) != 4 || all[2].ContextMap()["suppressed"] != int64(0) || all[3].ContextMap()["suppressed"] != int64(1) ||
		all[3].ContextMap()["failures"] != int64(5) {
		t.Errorf("after an hour: %v, want the failure (none suppressed), then the recovery (1 suppressed, 5 failures)", all[2:])
	}
}

// Stop writes the failures not logged at once and leaves no timer; a
// Throttle used after it writes them at the next call, as it did.
func TestThrottleStopWritesFailuresNotLogged(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	th.Warn("sweep")
	th.Warn("sweep")
	th.Warn("retention pass")
	th.Stop()
	all := logs.AllUntimed()
	if len(all) != 3 || all[2].Message != "sweep" || all[2].ContextMap()["suppressed"] != int64(1) || c.armed() != 0 {
		t.Fatalf("at Stop: %v and %d timers armed, want sweep's failure not logged written and no timer", all, c.armed())
	}
	th.Warn("sweep")
	if c.armed() != 0 {
		t.Errorf("a stopped Throttle armed a timer")
	}
	c.step(31 * time.Second)
	if n := logs.Len(); n != 3 {
		t.Errorf("a stopped Throttle wrote %d lines with no call, want none", n-3)
	}
	th.Warn("sweep")
	if all := logs.AllUntimed(); len(all) != 4 || all[3].ContextMap()["suppressed"] != int64(1) {
		t.Errorf("the next call of a stopped Throttle: %v, want the failure with the one not logged", all[3:])
	}
}

// On time.AfterFunc, failures and recoveries of several goroutines
// while timers fire (go test -race): every failure is counted once, and
// after Stop nothing more is written.
func TestThrottleTimersRace(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	th := NewThrottle(zap.New(core), time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			key := fmt.Sprint("key ", g%3)
			for i := range 300 {
				if i%100 == 99 {
					th.OK(key)
					continue
				}
				th.Fail(zapcore.WarnLevel, key, key)
				if i%10 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		})
	}
	wg.Wait()
	th.Stop()
	n := logs.Len()
	time.Sleep(20 * time.Millisecond)
	if logs.Len() != n {
		t.Errorf("%d lines written after Stop", logs.Len()-n)
	}
	// Each run's last line (its recovery, or the one Stop wrote) counts
	// its failures.
	total, open := 0, map[string]int{}
	for _, e := range logs.AllUntimed() {
		n, ok := e.ContextMap()["failures"].(int64)
		if !ok {
			n = 1 // a run's first line
		}
		if key, ok := strings.CutSuffix(e.Message, ": recovered"); ok {
			total += int(n)
			delete(open, key)
			continue
		}
		open[e.Message] = int(n)
	}
	for _, n := range open {
		total += n
	}
	if total != 8*297 {
		t.Errorf("the lines count %d failures, want %d", total, 8*297)
	}
}

// A timer that fired while its key was logging a line, its call waiting
// for the Throttle, comes late: the key has logged, and armed a timer for
// its next failure not logged. The late call writes nothing (the window
// of the line just logged is not over) and leaves the new timer armed,
// which Stop then disarms: no line comes within Every of the one before,
// nor after Stop.
func TestThrottleTimerFiredLateWritesNothing(t *testing.T) {
	t.Parallel()
	th, logs, c := throttled(30 * time.Second)
	th.Warn("sweep")
	c.step(time.Second)
	th.Warn("sweep") // not logged: its timer is armed for 30 s
	if c.armed() != 1 {
		t.Fatalf("%d timers armed, want 1", c.armed())
	}
	// 30 s: the timer fires, as time.AfterFunc's do, in a goroutine of
	// its own, whose call waits for the lock held by a failure of the
	// key, which logs.
	c.t = c.t.Add(29 * time.Second)
	fired := c.timers[0]
	fired.stopped = true
	late := fired.f
	th.Warn("sweep")
	c.step(time.Second)
	th.Warn("sweep") // not logged: a new timer is armed
	late()
	all := logs.AllUntimed()
	if len(all) != 2 {
		t.Fatalf("%d lines, want 2 (the first failure, the one at 30 s); a late timer wrote %v", len(all), all[2:])
	}
	th.Stop()
	if c.armed() != 0 {
		t.Errorf("%d timers armed after Stop, want none", c.armed())
	}
	if all := logs.AllUntimed(); len(all) != 3 || all[2].ContextMap()["suppressed"] != int64(1) {
		t.Errorf("at Stop: %v, want the failure not logged written once", all)
	}
}
