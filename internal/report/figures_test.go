package report

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// A hotspot is "new" when it had fewer complaints than its category's
// minimum before the week (the generator's rule): it may well have had
// its first complaint the week before, and shows it in the 上周 column.
// The page's legend must not tell leadership that a new hotspot's first
// complaint came in the week: in a simulated week (2026-W49, 6,000
// complaints) 39 of the 47 new hotspots had theirs before it.
func TestTheLegendOfNewMatchesTheRule(t *testing.T) {
	t.Parallel()
	r := sample()
	r.Hotspots[1].PreviousCount, r.Hotspots[1].TotalCount, r.Hotspots[1].WeekCount = 2, 7, 5
	r.Hotspots[1].FirstAt = r.Start.Add(-72 * time.Hour)
	page := string(render(t, r, "html"))
	if strings.Contains(page, "首件投诉在本周") {
		t.Errorf("the legend says a new hotspot's first complaint came in the week; hotspot %s is new with %d complaints the week before",
			r.Hotspots[1].ID, r.Hotspots[1].PreviousCount)
	}
}

// The page's percentages are the counts' ratio rounded once to one
// decimal (half up), not the four-decimal rate of the JSON rounded again:
// 15 of 19 is 78.947…%, shown 78.9%, never 79.0%; 1 of 16 is 6.25%,
// shown 6.3%.
func TestPagePercentagesRoundOnce(t *testing.T) {
	t.Parallel()
	exact := func(a, b int) string {
		// half up at one decimal, in exact arithmetic
		x := new(big.Rat).SetFrac64(int64(2000*a+b), int64(2*b))
		n := new(big.Int).Quo(x.Num(), x.Denom())
		return fmt.Sprintf("%d.%d%%", n.Int64()/10, n.Int64()%10)
	}
	for b := 1; b <= 400; b++ {
		for a := 0; a <= b; a++ {
			if got, want := ratePct(NewRate(b, a)), exact(a, b); got != want {
				t.Fatalf("rate %d of %d shown %s, want %s", a, b, got, want)
			}
		}
	}
	r := sample()
	r.Repeat = Repeat{Complaints: 19, Repeats: 15, Rate: Ratio(15, 19)}
	if page := string(render(t, r, "html")); !strings.Contains(page, ">78.9%<") {
		t.Errorf("repeat rate of 15 / 19 not shown as 78.9%%")
	}
	if got := change(NewCount(17, 16)); got != "+1（+6.3%）" {
		t.Errorf("change from 16 to 17 shown %s, want +1（+6.3%%）", got)
	}
}
