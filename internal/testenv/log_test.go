package testenv

import (
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
)

// A line logged after its test ended is written, named for the test, to
// the standard error rather than dropped: a goroutine that outlived its
// test (a late timer, a panic's log) stays visible.
func TestLateLinesAreKept(t *testing.T) {
	t.Parallel()
	var late lockedBuffer
	var name string
	var lg *zap.Logger
	t.Run("inner", func(t *testing.T) {
		name = t.Name()
		lg = logTo(t, &late)
		lg.Warn("during the test")
	})
	lg.Warn("after the test")
	got := late.String()
	if !strings.Contains(got, name+" (logged after it ended): ") || !strings.Contains(got, "after the test") {
		t.Errorf("a line logged after %s ended wrote %q, want it named for the test", name, got)
	}
	if strings.Contains(got, "during the test") {
		t.Errorf("a line logged during the test went to the late writer: %q", got)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
