package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A Gi* hot spot in the report is a place of repeat complaints: the
// cells around a busy one with none or one complaint, significant mostly
// through it, are left out of every format, counted, and the legend says
// the rule.
func TestTheReportListsNoEmptyGistarCell(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	seed(t, pool)
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
	var doc struct {
		Gistar []struct {
			Category string           `json:"category"`
			Omitted  *int             `json:"omitted"`
			Cells    []map[string]any `json:"cells"`
		} `json:"gistar"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	listed, omitted := 0, 0
	for _, g := range doc.Gistar {
		empty := 0
		for _, c := range g.Cells {
			if n, _ := c["count"].(float64); n < 2 {
				empty++
			}
		}
		listed += len(g.Cells)
		if empty > 0 {
			t.Errorf("%s: %d of %d Gi* hot spots hold fewer than two complaints of the week", g.Category, empty, len(g.Cells))
		}
		if g.Omitted == nil {
			t.Errorf("%s: the JSON does not count the significant empty cells left out", g.Category)
		} else {
			omitted += *g.Omitted
		}
	}
	if listed == 0 || omitted == 0 {
		t.Errorf("%d cells listed, %d empty ones left out: the fixture does not exercise the rule", listed, omitted)
	}
	if !strings.Contains(html.String(), "热点网格须本周有重复投诉（至少 2 件）") {
		t.Error("the HTML legend does not say that a Gi* hot spot must hold repeat complaints of the week")
	}
}
