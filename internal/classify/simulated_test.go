package classify_test

import (
	"sort"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
)

// TestSimulatedWeeks classifies the descriptions of four demo weeks (3,000
// complaints each, as `nuisance up --demo` replays them) from the text
// alone and counts, by the simulator's intended subcategory, those left
// undecided, those put in another category and those put in another
// subcategory of the right one. A few of the simulator's texts are read
// otherwise though their label is DOMAIN.md's (BENCHMARKS.md lists them),
// so the bounds are not zero.
func TestSimulatedWeeks(t *testing.T) {
	t.Parallel()
	c, err := classify.New()
	if err != nil {
		t.Fatal(err)
	}
	type count struct{ n, undecided, wrongCat, wrongSub int }
	by := map[string]*count{}
	var all count
	for w := range 4 {
		start := time.Date(2025, time.November, 3+7*w, 0, 0, 0, 0, simulate.Shanghai)
		feed, err := simulate.Generate(simulate.Config{Seed: start.Unix(), Start: start, Days: 7, Count: 3000})
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range feed.Complaints {
			key := cp.Truth.Category + "/" + cp.Truth.Subcategory
			k := by[key]
			if k == nil {
				k = &count{}
				by[key] = k
			}
			got, err := c.Classify(classify.Input{Description: cp.Description})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []*count{k, &all} {
				k.n++
				switch {
				case got.Category == "":
					k.undecided++
				case got.Category != cp.Truth.Category:
					k.wrongCat++
				case got.Subcategory != cp.Truth.Subcategory:
					k.wrongSub++
				}
			}
		}
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range append(keys, "all") {
		v := by[k]
		if k == "all" {
			v = &all
		}
		t.Logf("%-26s %5d: undecided %4d, other category %4d, other subcategory %4d", k, v.n, v.undecided, v.wrongCat, v.wrongSub)
	}
	if pct := 100 * float64(all.undecided) / float64(all.n); pct > 0.5 {
		t.Errorf("%.2f%% undecided, want at most 0.5%%", pct)
	}
	if pct := 100 * float64(all.wrongCat) / float64(all.n); pct > 1.5 {
		t.Errorf("%.2f%% in another category, want at most 1.5%%", pct)
	}
	if pct := 100 * float64(all.wrongSub) / float64(all.n); pct > 1.5 {
		t.Errorf("%.2f%% in another subcategory of the right category, want at most 1.5%%", pct)
	}
}
