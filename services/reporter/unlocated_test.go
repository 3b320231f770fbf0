package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A category's table adds up: its district rows and its row of the
// complaints not yet placed in a district (未定位, awaiting triage) sum
// to its total (合计), this week and the week before, in the JSON and
// in the HTML table.
func TestACategoryTableAddsUpWithItsUnlocatedComplaints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	// Noise this week: 3 in Siming, 2 the geocoder could not place. The
	// week before: 1 in Huli, 1 not placed. Dust: 1 in Jimei.
	for i, c := range []struct {
		week, category, district string
	}{
		{fixtureWeek, "noise", "siming"}, {fixtureWeek, "noise", "siming"}, {fixtureWeek, "noise", "siming"},
		{fixtureWeek, "noise", ""}, {fixtureWeek, "noise", ""},
		{"2024-W10", "noise", "huli"}, {"2024-W10", "noise", ""},
		{fixtureWeek, "dust", "jimei"},
	} {
		id := "u" + string(rune('a'+i))
		when := at(t, c.week, i%7, 10)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address) VALUES ($1, $1, $2, '噪声', '厦门')`, id, when); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, category, received_at)
			VALUES ($1, $2, NULLIF($3, ''), $4, $5)`, id, c.district != "", c.district, c.category, when); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Generate(ctx, pool, fixtureWeek, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	var js, html bytes.Buffer
	if err := Render(r, "json", &js); err != nil {
		t.Fatal(err)
	}
	if err := Render(r, "html", &html); err != nil {
		t.Fatal(err)
	}
	type count struct{ Count, Previous int }
	var doc struct {
		Categories []struct {
			Category string `json:"category"`
			count
			Unlocated *count `json:"unlocated"`
			Districts []struct {
				count
			} `json:"districts"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"noise": {2, 1}, "dust": {0, 0}, "cooking_smoke": {0, 0}}
	for _, c := range doc.Categories {
		var rows count
		for _, d := range c.Districts {
			rows.Count += d.Count
			rows.Previous += d.Previous
		}
		var un count
		if c.Unlocated == nil {
			t.Errorf("%s: the JSON has no unlocated row", c.Category)
		} else {
			un = *c.Unlocated
		}
		if rows.Count+un.Count != c.Count || rows.Previous+un.Previous != c.Previous {
			t.Errorf("%s: districts %d + unlocated %d = %d, total %d; the week before %d + %d, total %d",
				c.Category, rows.Count, un.Count, rows.Count+un.Count, c.Count, rows.Previous, un.Previous, c.Previous)
		}
		if w := want[c.Category]; un.Count != w[0] || un.Previous != w[1] {
			t.Errorf("%s: unlocated %d (the week before %d), want %d (%d)", c.Category, un.Count, un.Previous, w[0], w[1])
		}
	}
	// The noise table of the HTML: 未定位 2, the week before 1, above 合计 5 and 2.
	page := html.String()
	i := strings.Index(page, "<h3>噪声投诉</h3>")
	j := strings.Index(page[max(i, 0):], "</table>")
	if i < 0 || j < 0 {
		t.Fatal("the HTML has no noise table")
	}
	table := page[i : i+j]
	row := regexp.MustCompile(`<tr><td>未定位[^<]*(?:<[^>]*>[^<]*)*?</td><td class="n">(\d+)</td><td class="n">(\d+)</td>`).FindStringSubmatch(table)
	if row == nil || row[1] != "2" || row[2] != "1" {
		t.Errorf("the HTML noise table has no 未定位 row of 2 (the week before 1): %v", row)
	}
	if !strings.Contains(table, `<tr><th>合计</th><th class="n">5</th><th class="n">2</th>`) {
		t.Errorf("the HTML noise table's total is not 5 (the week before 2)")
	}
	if !strings.Contains(page, "未定位＝") {
		t.Error("the HTML does not say what 未定位 counts")
	}
}
