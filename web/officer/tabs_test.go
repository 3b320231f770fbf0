package officer

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
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

// The API's refusals name a case's status as caseflow.StatusNames does
// ("案件 … 为待签收"): the console must show the statuses by the same
// names, or a refusal would name a status the reader never sees.
func TestConsoleNamesStatusesAsTheAPI(t *testing.T) {
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`var STATUS = (\{[^;]*\});`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no STATUS in app.js")
	}
	lit := regexp.MustCompile(`([{,]\s*)([a-z_]+):`).ReplaceAllString(string(m[1]), `$1"$2":`)
	var names map[string]string
	if err := json.Unmarshal([]byte(lit), &names); err != nil {
		t.Fatalf("STATUS %s: %v", lit, err)
	}
	if !maps.Equal(names, caseflow.StatusNames) {
		t.Errorf("the console names statuses %v, the API %v", names, caseflow.StatusNames)
	}
}
