package logging

import (
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
// end (OK) in one info line. A key's run does not hide another key's
// first line. It is safe for concurrent use.
type Throttle struct {
	log   *zap.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	runs map[string]*failing
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
	suppressed int // failures since the latest line
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
	return &Throttle{log: log.WithOptions(zap.AddCallerSkip(2)), every: every, now: time.Now, runs: map[string]*failing{}}
}

// SetClock makes the Throttle read the time from now (a test's clock,
// moved by hand) instead of time.Now. It is called before the Throttle's
// first use.
func (t *Throttle) SetClock(now func() time.Time) {
	if now != nil {
		t.now = now
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
// and since when (failing_since). Those between are counted, not logged.
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
		return
	}
	t.log.Log(lvl, msg, append(fields[:len(fields):len(fields)], t.counts(f)...)...)
	f.logged, f.suppressed = now, 0
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
		if f.suppressed > 0 {
			t.log.Log(f.lvl, f.msg, append(f.fields[:len(f.fields):len(f.fields)], t.counts(f)...)...)
		}
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
