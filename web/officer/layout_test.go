package officer

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cssRules reads app.css as selector → declarations, a later rule's
// declaration overriding an earlier one's (the cascade among equals).
func cssRules(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := staticFS.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	out := map[string]map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)([^{}@]+)\{([^{}]*)\}`).FindAllStringSubmatch(css, -1) {
		for _, sel := range strings.Split(m[1], ",") {
			sel = strings.Join(strings.Fields(sel), " ")
			if out[sel] == nil {
				out[sel] = map[string]string{}
			}
			for _, d := range strings.Split(m[2], ";") {
				k, v, ok := strings.Cut(d, ":")
				if ok {
					out[sel][strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
		}
	}
	return out
}

// What a finger taps on a phone is at least 44 px high: 返回列表, 回拨,
// 实时, the tabs and the triage scope were 22 to 40.
func TestTapTargetsAreTallEnough(t *testing.T) {
	rules := cssRules(t)
	for _, sel := range []string{".live", ".back", ".complaint button", ".tab", ".scope button", "button.primary, button.secondary, button.danger"} {
		var h string
		for _, s := range strings.Split(sel, ", ") {
			if v := rules[s]["min-height"]; v != "" {
				h = v
			}
		}
		px, err := strconv.ParseFloat(strings.TrimSuffix(h, "px"), 64)
		if err != nil || !strings.HasSuffix(h, "px") || px < 44 {
			t.Errorf("%s: min-height %q, want at least 44px", sel, h)
		}
	}
}

// A supervisor's seven tabs do not fit 390 px: they wrap, and a tab past
// the edge is never cut to a sliver. The badges of a card and of the
// case page (优先, 待签收, 督办) stand apart.
func TestTabsWrapAndBadgesStandApart(t *testing.T) {
	rules := cssRules(t)
	if rules[".tabs"]["flex-wrap"] != "wrap" {
		t.Errorf(".tabs: flex-wrap %q, want wrap", rules[".tabs"]["flex-wrap"])
	}
	if g := rules[".top"]["gap"]; g == "" || rules[".top"]["display"] != "flex" {
		t.Errorf(".top (a card's and the case's badges): display %q gap %q, want a flex row with a gap", rules[".top"]["display"], g)
	}
	if rules[".bar .who"]["white-space"] == "nowrap" {
		t.Error("the officer's unit and name in the bar are kept on one line, and cut on a phone")
	}
}

// 退出 is not next to 实时 in the bar, and asks before it signs out: a
// token is shown once, when it is made, and is needed to sign in again.
func TestSignOutIsApartAndAsks(t *testing.T) {
	page, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	bar := regexp.MustCompile(`(?s)<header[^>]*>.*?</header>`).Find(page)
	if bar == nil {
		t.Fatal("no header in index.html")
	}
	if strings.Contains(string(bar), `id="signout"`) {
		t.Errorf("退出 is in the bar, next to 实时: %s", bar)
	}
	if !strings.Contains(string(page), `id="signout"`) {
		t.Fatal("no 退出 in index.html")
	}
	m := regexp.MustCompile(`(?s)\$\("signout"\)\.addEventListener\("click", function \(\) \{(.*?)\n    \}\);`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no click handler of 退出 in app.js")
	}
	if !regexp.MustCompile(`confirm\("[^"]*令牌[^"]*"\)`).Match(m[1]) {
		t.Errorf("退出 signs out without asking, or asks without naming the token: %s", m[1])
	}
}

// A routing rule is named by the kind it routes, never by its id
// ("按派单规则 noise.social_life").
func TestRuleIDsAreNotShown(t *testing.T) {
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`"按派单规则 " \+ m\[1\]`).Match(js) {
		t.Error("app.js shows a routing rule by its id")
	}
}
