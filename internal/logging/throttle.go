package logging

import (
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ThrottleEvery is how often a failure that goes on is logged again: once
// every 30 seconds, where a loop polling every second, or the intake at
// every request of the hotline, would log it hundreds of times over while
// PostgreSQL or NATS is unreachable.
const ThrottleEvery = 30 * time.Second

// maxRuns bounds the failures a Throttle remembers; past it, those not
// repeated for Every are forgotten (their count of lines not written is
// logged first).
const maxRuns = 64

// Throttle bounds the lines written by a failure that repeats, so that an
// outage does not drown the log and the operator reading it. A run of
// failures of one key (the same operation failing the same way) is logged
// at its first failure, then at most once every Every, each such line
// with the count of failures not logged since it ("suppressed"), and its
// end (OK) in one info line. Failures not logged are written Every after
// the line before them even when no call comes after them (the loop
// stopped failing without a success, or fails at long intervals): a
// timer of the key, armed at its first failure not logged, writes them
// then, as the latest failure with the count. A key's run does not hide
// another key's first line. It is safe for concurrent use.
//
// Its owner calls Stop when it is done with it (its loop ends), which
// writes the failures not logged yet and disarms the timers.
type Throttle struct {
	log   *zap.Logger // the caller of Fail is the line's caller
	sum   *zap.Logger // the lines written later: their caller is the failure's
	every time.Duration
	now   func() time.Time
	// after calls f once d has passed, unless the function it returns
	// stops it first (true when it did): time.AfterFunc, or a test's
	// clock.
	after func(d time.Duration, f func()) (stop func() bool)

	mu      sync.Mutex
	runs    map[string]*failing
	stopped bool // no timer is armed
}

// failing is one key's run of failures.
type failing struct {
	msg        string
	lvl        zapcore.Level
	fields     []zap.Field // the latest failure's
	since      time.Time   // the run's first failure
	last       time.Time   // its latest
	logged     time.Time   // its latest line
	failures   int
	suppressed int                 // failures since the latest line
	caller     zapcore.EntryCaller // the latest failure's, while suppressed
	stop       func() bool         // the timer writing the suppressed, while armed
	armed      uint64              // which of the key's timers stop is
}

// NewThrottle returns a Throttle writing to log (nil: nowhere), logging a
// run again at most once every every (ThrottleEvery when 0 or less).
func NewThrottle(log *zap.Logger, every time.Duration) *Throttle {
	if log == nil {
		log = zap.NewNop()
	}
	if every <= 0 {
		every = ThrottleEvery
	}
	// The caller of Fail, not the Throttle, is the line's caller.
	return &Throttle{log: log.WithOptions(zap.AddCallerSkip(2)), sum: log.WithOptions(zap.WithCaller(false)),
		every: every, now: time.Now, after: afterFunc, runs: map[string]*failing{}}
}

func afterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// SetClock makes the Throttle read the time from now (a test's clock,
// moved by hand) instead of time.Now. It is called before the Throttle's
// first use. On such a clock the Throttle arms no timer: failures not
// logged are written at the next call of their key, or at Stop.
func (t *Throttle) SetClock(now func() time.Time) {
	if now != nil {
		t.now = now
		t.after = nil
	}
}

// Warn is Fail at warn level with msg as its key.
func (t *Throttle) Warn(msg string, fields ...zap.Field) {
	t.fail(zapcore.WarnLevel, msg, msg, fields)
}

// Error is Fail at error level with msg as its key.
func (t *Throttle) Error(msg string, fields ...zap.Field) {
	t.fail(zapcore.ErrorLevel, msg, msg, fields)
}

// Fail counts a failure of key and logs it, msg with fields at lvl, when
// it starts a run of key's failures or when the run's last line is Every
// old or more; that line also says how many failures were not logged
// since the one before (suppressed), how many the run has had (failures)
// and since when (failing_since). Those between are counted, not logged;
// if none of key's comes once Every has passed since the last line, the
// key's timer writes them then, as a line of the latest failure with its
// counts, and the next failure is counted from there.
func (t *Throttle) Fail(lvl zapcore.Level, key, msg string, fields ...zap.Field) {
	t.fail(lvl, key, msg, fields)
}

// fail is Fail, one call below each of the exported methods, so that the
// line names their caller.
func (t *Throttle) fail(lvl zapcore.Level, key, msg string, fields []zap.Field) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.runs[key]
	if f == nil {
		t.forget(now)
		f = &failing{since: now, logged: now, failures: 1}
		t.runs[key] = f
		f.msg, f.lvl, f.fields, f.last = msg, lvl, fields, now
		t.log.Log(lvl, msg, fields...)
		return
	}
	f.failures++
	f.msg, f.lvl, f.fields, f.last = msg, lvl, fields, now
	if now.Sub(f.logged) < t.every {
		f.suppressed++
		// fail is called by Warn, Error or Fail: two frames up is theirs.
		f.caller = zapcore.NewEntryCaller(runtime.Caller(2))
		if f.stop == nil && !t.stopped && t.after != nil {
			f.armed++
			armed := f.armed
			f.stop = t.after(f.logged.Add(t.every).Sub(now), func() { t.due(key, f, armed) })
		}
		return
	}
	t.log.Log(lvl, msg, append(fields[:len(fields):len(fields)], t.counts(f)...)...)
	f.logged, f.suppressed = now, 0
	t.disarm(f)
}

// due is key's timer armed: run's failures not logged, if it is key's
// run still and has some, are written now. A timer that fired while its
// key was logging, disarmed too late to stop its call, finds another
// timer armed, or none: it writes nothing, and leaves the other armed.
func (t *Throttle) due(key string, run *failing, armed uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if run.stop == nil || run.armed != armed {
		return
	}
	run.stop = nil
	if t.runs[key] != run {
		return
	}
	t.flush(run, t.now())
}

// flush writes f's failures not logged, if it has some, as its latest
// failure with the counts, at now.
func (t *Throttle) flush(f *failing, now time.Time) {
	t.disarm(f)
	if f.suppressed == 0 {
		return
	}
	if ce := t.sum.Check(f.lvl, f.msg); ce != nil {
		ce.Caller = f.caller
		ce.Write(append(f.fields[:len(f.fields):len(f.fields)], t.counts(f)...)...)
	}
	f.logged, f.suppressed = now, 0
}

// disarm stops f's timer, if armed.
func (t *Throttle) disarm(f *failing) {
	if f.stop != nil {
		f.stop()
		f.stop = nil
	}
}

// Stop writes the failures not logged of every run and disarms their
// timers; it is called when the Throttle's owner is done with it (its
// loop ends, the process stops), so that no line comes after the owner
// is gone and none is lost. A Throttle still used after Stop logs as
// before, except that failures not logged wait for the next call of
// their key to be written.
func (t *Throttle) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	now := t.now()
	for _, f := range t.runs {
		t.flush(f, now)
	}
}

// OK ends key's run of failures, if it has one, with one info line:
// msg of its latest failure and ": recovered", how many failures it had
// and for how long, and how many were not logged since its last line.
func (t *Throttle) OK(key string) {
	t.ok(key)
}

func (t *Throttle) ok(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.runs[key]
	if f == nil {
		return
	}
	delete(t.runs, key)
	t.disarm(f)
	t.log.Info(f.msg+": recovered", zap.Int("failures", f.failures), zap.Int("suppressed", f.suppressed),
		zap.Duration("failing_for", t.now().Sub(f.since)))
}

func (t *Throttle) counts(f *failing) []zap.Field {
	return []zap.Field{zap.Int("suppressed", f.suppressed), zap.Int("failures", f.failures), zap.Time("failing_since", f.since)}
}

// forget drops, once the Throttle holds maxRuns runs, those whose last
// failure is Every old or more, after logging the latest failure of
// those that have some not logged: keys may be many (one for each work
// order PostgreSQL refuses), and most are never OK. If all failed
// lately, the one whose last failure is the oldest goes, so that the
// runs stay bounded.
func (t *Throttle) forget(now time.Time) {
	if len(t.runs) < maxRuns {
		return
	}
	drop := func(k string, f *failing) {
		t.flush(f, now)
		delete(t.runs, k)
	}
	oldest := ""
	for k, f := range t.runs {
		if now.Sub(f.last) >= t.every {
			drop(k, f)
			continue
		}
		if oldest == "" || f.last.Before(t.runs[oldest].last) {
			oldest = k
		}
	}
	if len(t.runs) >= maxRuns && oldest != "" {
		drop(oldest, t.runs[oldest])
	}
}
