package classify

import "testing"

func newClassifier(t testing.TB) *Classifier {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatalf("new classifier: %v", err)
	}
	return c
}
