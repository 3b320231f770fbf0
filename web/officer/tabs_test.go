package officer

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A supervisor 改派s a case that is open or returned (caseflow.Reassign
// takes them; a returned case no team is left for waits for exactly
// that), so the console must list such cases in one of its tabs: the
// cases of the district are read only through the tabs' status filters.
func TestConsoleListsTheCasesASupervisorMustReassign(t *testing.T) {
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	page, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`var TABS = (\{[^;]*\});`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no TABS in app.js")
	}
	// The object literal is JSON once its keys are quoted.
	lit := regexp.MustCompile(`([{,]\s*)([a-z_]+):`).ReplaceAllString(string(m[1]), `$1"$2":`)
	var tabs map[string][]string
	if err := json.Unmarshal([]byte(lit), &tabs); err != nil {
		t.Fatalf("TABS %s: %v", lit, err)
	}
	shown := map[string]bool{}
	for _, b := range regexp.MustCompile(`data-status="([a-z_]+)"`).FindAllStringSubmatch(string(page), -1) {
		shown[b[1]] = true
	}
	for _, status := range []string{"open", "returned"} {
		var in []string
		for tab, statuses := range tabs {
			if shown[tab] && slices.Contains(statuses, status) {
				in = append(in, tab)
			}
		}
		if len(in) == 0 {
			t.Errorf("no tab of the console lists %s cases (tabs %s): a supervisor cannot find them to reassign", status, strings.TrimSpace(lit))
		}
	}
}
