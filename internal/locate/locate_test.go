package locate

import (
	"sync"
	"testing"
)

var (
	sharedOnce sync.Once
	shared     *Locator
	sharedErr  error
)

// setup returns a Locator built from the embedded seeds, shared by the
// package's tests since it is read-only.
func setup(t testing.TB) *Locator {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}
