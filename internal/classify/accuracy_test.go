package classify

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// labelled is one line of a labelled description set.
type labelled struct {
	line                        int
	text, category, subcategory string
}

func readLabelled(t testing.TB, name string) []labelled {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if len(rows) < 2 || fmt.Sprint(rows[0]) != "[text category subcategory]" {
		t.Fatalf("%s: want header text,category,subcategory and rows", name)
	}
	out := make([]labelled, 0, len(rows)-1)
	for i, r := range rows[1:] {
		out = append(out, labelled{line: i + 2, text: r[0], category: r[1], subcategory: r[2]})
	}
	return out
}

// accuracy classifies every description of a set from its text alone and
// returns the share classified exactly, category and subcategory.
func accuracy(t *testing.T, c *Classifier, set []labelled) float64 {
	t.Helper()
	right := 0
	for _, d := range set {
		got, err := c.Classify(Input{Description: d.text})
		if err != nil {
			t.Fatalf("line %d: %v", d.line, err)
		}
		if got.Method != MethodDescription {
			t.Fatalf("line %d: method %q, want %q", d.line, got.Method, MethodDescription)
		}
		if got.Category == d.category && got.Subcategory == d.subcategory {
			right++
			continue
		}
		t.Logf("line %d: got %s/%s (%.2f, also %v), want %s/%s: %s", d.line,
			got.Category, got.Subcategory, got.Score, got.AlsoMentioned, d.category, d.subcategory, d.text)
	}
	return float64(right) / float64(len(set))
}

func TestAccuracy(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tc := range []struct {
		file    string
		minRows int
	}{
		{"descriptions.csv", 200},
		{"holdout.csv", 60},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			set := readLabelled(t, tc.file)
			if len(set) < tc.minRows {
				t.Fatalf("%d descriptions, want at least %d", len(set), tc.minRows)
			}
			acc := accuracy(t, c, set)
			t.Logf("accuracy %.1f%% of %d", 100*acc, len(set))
			if acc < 0.90 {
				t.Errorf("accuracy %.1f%%, want at least 90%%", 100*acc)
			}
		})
	}
}
