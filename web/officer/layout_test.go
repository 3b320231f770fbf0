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
// 实时, the tabs and the triage scope were 22 to 40; 执法工作台 in the bar
// 23 and the 改派至 select 42.
func TestTapTargetsAreTallEnough(t *testing.T) {
	rules := cssRules(t)
	for _, sel := range []string{".live", ".back", ".complaint button", ".tab", ".scope button", "button.primary, button.secondary, button.danger",
		".bar .brand", "select"} {
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

// em reads a length in em or rem as ems (the console's root is 16 px and
// the lists' text about as large), or -1.
func em(v string) float64 {
	for _, unit := range []string{"rem", "em"} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// 处置记录 is numbered, and runs past 9 entries: the marker "10." is drawn
// in the list's left padding, which must hold it (about 1.6 em) off the
// screen's edge, or the list draws its own markers.
func TestAuditNumbersFit(t *testing.T) {
	rules := cssRules(t)
	a := rules[".audit"]
	if a["list-style"] == "none" || a["list-style-type"] == "none" {
		return
	}
	if p := em(a["padding-left"]); p < 2 {
		t.Errorf(".audit: padding-left %q, want at least 2em for numbers of two digits", a["padding-left"])
	}
}

// A weekly report shown in the console is laid out for the box it is in
// (a 390 px phone's 364 px), by the console's own sheet: it does not keep
// the report's A4 width and scroll as a whole; its tables scroll each by
// itself, its tiles wrap, its text has room at the sides.
func TestWeeklyReportFitsItsBox(t *testing.T) {
	rules := cssRules(t)
	box := rules[".report-body"]
	if box["overflow-x"] == "auto" || box["overflow-x"] == "scroll" {
		t.Errorf(".report-body: overflow-x %q: the whole report scrolls sideways, every line with it", box["overflow-x"])
	}
	if rules[".report-body .report-host"]["min-width"] != "" {
		t.Errorf(".report-body .report-host: min-width %q keeps the report's A4 width", rules[".report-body .report-host"]["min-width"])
	}
	if box["padding"] == "" && box["padding-left"] == "" {
		t.Error(".report-body: no padding, the report's text touches the box's edge")
	}
	table := rules[".report-body table"]
	if table["display"] != "block" || table["overflow-x"] != "auto" {
		t.Errorf(".report-body table: display %q overflow-x %q, want a block scrolling sideways by itself", table["display"], table["overflow-x"])
	}
	for _, sel := range []string{".report-body .cards", ".report-body .grid3"} {
		if c := rules[sel]["grid-template-columns"]; !strings.Contains(c, "auto-fill") && !strings.Contains(c, "auto-fit") {
			t.Errorf("%s: grid-template-columns %q, want tiles that wrap (auto-fill)", sel, c)
		}
	}
}

// The report is shown without what the console's policy (style-src
// 'self') refuses: its inline <style> is taken out of its text before
// the text is parsed (parsing it logs a refusal), and no style sheet is
// built from it.
func TestWeeklyReportNeedsNoInlineStyle(t *testing.T) {
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?ms)^  function showReport\(.*?^  }\n`).Find(js)
	if m == nil {
		t.Fatal("no showReport in app.js")
	}
	if !regexp.MustCompile(`parseFromString\(reportText\(`).Match(m) {
		t.Error("showReport parses the report's text with its <style>")
	}
	for _, bad := range []string{"replaceSync", "adoptedStyleSheets", ".style.", "setAttribute(\"style\""} {
		if strings.Contains(string(m), bad) {
			t.Errorf("showReport styles the report by script (%s)", bad)
		}
	}
}

// A refusal of a form's own field (400, errors[]: 延期 to a rest day, a
// team not of the district) is said under the form of 延期, 退单, 改派,
// 办结 and 分拣更正, not only in a toast.
func TestFieldRefusalsAreSaidUnderTheForm(t *testing.T) {
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)var ACT_FORMS = (\{.*?\});`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no ACT_FORMS in app.js")
	}
	for _, c := range []struct{ action, form, field string }{
		{"resolve", "resolve-form", "/note"}, {`"return"`, "return-form", "/reason"},
		{"extend", "extend-form", "/resolve_due"}, {"reassign", "reassign-form", "/team"},
	} {
		re := regexp.MustCompile(regexp.QuoteMeta(c.action) + `: \{ form: "` + c.form + `", fields: \[[^\]]*"` + c.field + `"`)
		if !re.Match(m[1]) {
			t.Errorf("ACT_FORMS says no refusal of %s under %s: %s", c.field, c.form, m[1])
		}
	}
	if !regexp.MustCompile(`fieldRefusal\(err, TRIAGE_FIELDS\)`).Match(js) {
		t.Error("a refused 分拣更正 is not said under its form")
	}
}
