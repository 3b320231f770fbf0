package report

import (
	"strings"
	"testing"
	"time"
)

// A revised report says so at its top: when it was first generated, which
// revision it is and why its figures changed.
func TestRenderHTMLSaysARevisionAndWhy(t *testing.T) {
	t.Parallel()
	r := sample()
	if strings.Contains(string(render(t, r, "html")), "修订说明") {
		t.Error("a report generated once calls itself a revision")
	}
	last := time.Date(2024, 3, 19, 10, 12, 0, 0, shanghai)
	r.Revision = &Revision{FirstGeneratedAt: time.Date(2024, 3, 18, 0, 5, 0, 0, shanghai), Revisions: 2, Corrected: 3, LastCorrectedAt: &last, Late: 1}
	html := string(render(t, r, "html"))
	for _, want := range []string{"修订说明", "首次生成于 2024-03-18 00:05", "第 2 次修订", "3 件投诉经分拣更正", "最近一次更正于 2024-03-19 10:12", "本周投诉 1 件"} {
		if !strings.Contains(html, want) {
			t.Errorf("the revised report's HTML lacks %q", want)
		}
	}
	if js := string(render(t, r, "json")); !strings.Contains(js, `"first_generated_at": "2024-03-18T00:05:00+08:00"`) || !strings.Contains(js, `"corrected": 3`) {
		t.Error("the revised report's JSON does not carry its revision")
	}
}
