package reporter

import (
	"context"
	"fmt"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The plan names priority districts for construction and social-life
// noise (思明, 湖里, 集美) and for construction-site and road dust (翔安,
// 同安, 集美), not for traffic or industrial noise, nor for storage-yard
// dust. The report marks a priority district's whole category 重点: in a
// simulated week 55 of 思明's 460 noise complaints, 59 of 集美's 254 and
// 35 of 翔安's 155 dust complaints were of kinds the plan does not name.
// Each priority row must also say how many complaints were of the plan's
// priority kinds, this week and the week before.
func TestPriorityDistrictsCountThePlansKinds(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	week, prev := "2024-W11", "2024-W10"
	n := 0
	add := func(w, cat, sub, district string, count int) {
		for i := 0; i < count; i++ {
			n++
			id := fmt.Sprintf("cmp-prio-%d", n)
			when := at(t, w, i%7, 10)
			if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address) VALUES ($1, $1, $2, '投诉', '厦门')`, id, when); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, subcategory, received_at)
				VALUES ($1, true, $2, $3, $4, $5)`, id, district, cat, sub, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(week, "noise", "construction", "siming", 5)
	add(week, "noise", "social_life", "siming", 4)
	add(week, "noise", "traffic", "siming", 6)
	add(week, "noise", "industrial", "siming", 2)
	add(prev, "noise", "social_life", "siming", 3)
	add(prev, "noise", "traffic", "siming", 1)
	add(week, "dust", "yard", "xiangan", 7)
	add(week, "dust", "road", "xiangan", 2)
	add(week, "noise", "traffic", "haicang", 3)
	r, err := Generate(ctx, pool, week, at(t, "2024-W12", 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string][2]int{{"noise", "siming"}: {9, 3}, {"dust", "xiangan"}: {2, 0}}
	for _, cs := range r.Categories {
		for _, d := range cs.Districts {
			w, isWant := want[[2]string{cs.Category, d.District}]
			switch {
			case !d.Priority && d.PriorityCount != nil:
				t.Errorf("%s in %s, not a priority district, has a priority count %+v", cs.Category, d.District, *d.PriorityCount)
			case d.Priority && d.PriorityCount == nil:
				t.Errorf("%s in %s (重点, %d complaints) does not say how many were of the plan's priority kinds", cs.Category, d.District, d.Count.Count)
			case isWant && (d.PriorityCount.Count != w[0] || d.PriorityCount.Previous != w[1]):
				t.Errorf("%s in %s: priority kinds %d (previous %d) of %d, want %d (previous %d)", cs.Category, d.District,
					d.PriorityCount.Count, d.PriorityCount.Previous, d.Count.Count, w[0], w[1])
			}
		}
	}
}
