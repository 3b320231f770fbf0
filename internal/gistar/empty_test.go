package gistar

import (
	"math"
	"testing"
)

// A hot spot is a place with complaints. Gi* sums a cell with its
// neighbours, so the empty cells around a busy one score nearly as high
// as it does: they are significant only through it and must not be
// listed as hot spots of their own. Their statistics stay what Gi*
// says, and the busy cell's z and q are those of the full grid.
func TestAnalyzeListsNoEmptyCellAsAHotSpot(t *testing.T) {
	t.Parallel()
	// The hot cell has 8 complaints every week; its eight neighbours none.
	res, err := Analyze(scenario(t, "2024-W11", [9]int{8, 8, 8, 8, 8, 8, 8, 8, 8}), "2024-W11", Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := cellID(cellOf(hotLon, hotLat, defaultCellMeters))
	hot, ok := findCell(res.Cells, id)
	if !ok {
		t.Fatalf("the busy cell %s is not a hot spot; got %d cells", id, len(res.Cells))
	}
	empty := 0
	for _, c := range res.Cells {
		if c.Count == 0 {
			empty++
		}
	}
	if empty > 0 {
		t.Errorf("%d of %d hot spots of the week hold no complaint of the week", empty, len(res.Cells))
	}
	for _, c := range append(res.Cells, res.Cooled...) {
		for w, n := range c.WeekCounts {
			if n == 0 && c.HotWeeks == len(c.WeekCounts) {
				t.Errorf("%s counted hot in week %d, which it had no complaint in", c.ID, w)
			}
		}
	}
	// The neighbours are significant by Gi*: counted, not listed.
	if res.Omitted < 8 {
		t.Errorf("omitted %d significant empty cells, want the busy cell's 8 neighbours at least", res.Omitted)
	}
	// The statistic is the full grid's: the neighbours still weigh in
	// the mean, the variance and the false-discovery correction.
	direct, err := Analyze(scenario(t, "2024-W11", [9]int{8, 8, 8, 8, 8, 8, 8, 8, 8}), "2024-W11", Options{MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := findCell(direct.Cells, id)
	if hot.Z != d.Z || hot.Q != d.Q || math.IsNaN(hot.Z) || hot.Z < 3 {
		t.Errorf("busy cell z %v q %v, want %v %v and z well above 3", hot.Z, hot.Q, d.Z, d.Q)
	}
	// A higher minimum leaves out the cells with fewer complaints.
	strict, err := Analyze(scenario(t, "2024-W11", [9]int{8, 8, 8, 8, 8, 8, 8, 8, 8}), "2024-W11", Options{MinCount: 9})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findCell(strict.Cells, id); ok {
		t.Errorf("with a minimum of 9 complaints, the cell of 8 is still listed")
	}
}
