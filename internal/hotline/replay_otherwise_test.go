package hotline

import (
	"strings"
	"testing"
)

// The workers answer out of order: the summary names the first lines of
// the file stored the other way, not the first answered, and says how
// many more.
func TestSummaryNamesTheFirstLinesStoredOtherwise(t *testing.T) {
	t.Parallel()
	s := Summary{Reasons: map[string]int{}, Lines: map[string][]int{}}
	for _, n := range []int{40, 12, 3, 99, 7, 15, 1, 30, 22, 8, 50, 2, 61} {
		s.otherwise(n, "T")
	}
	s.Duplicate = s.Otherwise
	got := s.String()
	want := "(line, ticket: 1 T, 2 T, 3 T, 7 T, 8 T, 12 T, 15 T, 22 T, 30 T, 40 T and 3 more)"
	if !strings.Contains(got, want) || !strings.Contains(got, "duplicate 13 (stored as history, not handled: 13)") {
		t.Fatalf("summary:\n%s\nwant %s", got, want)
	}
}
