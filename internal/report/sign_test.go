package report

import "testing"

// A fall too small to show a tenth of a percent keeps its sign, as a
// rise of the same size does (+0.0%): "-1（0.0%）" reads as no change
// beside "+1（+0.0%）", and the JavaScript-free page had "-0.0%" before
// it rounded from the counts.
func TestASmallFallKeepsItsSign(t *testing.T) {
	t.Parallel()
	if got := change(NewCount(3001, 3000)); got != "+1（+0.0%）" {
		t.Errorf("a rise of 1 in 3000 shown %s", got)
	}
	if got := change(NewCount(2999, 3000)); got != "-1（-0.0%）" {
		t.Errorf("a fall of 1 in 3000 shown %s, want -1（-0.0%%）", got)
	}
}
