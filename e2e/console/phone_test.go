// What a second review of the console on a phone (390×844) found: a
// refusal of 延期 said in a toast gone in 3.5 s, a weekly report laid out
// for A4 in a 364 px box (and an inline style the policy refuses), a
// case listed twice by 加载更多, cards naming the wrong time.
package console

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// 延期 to a rest day is refused by the API naming the next working day:
// the form says so under it, where the supervisor picks another day, not
// a toast gone before it is read.
func TestExtendRefusalIsSaidUnderTheForm(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(2*time.Hour))
	cal, err := workday.Load()
	if err != nil {
		t.Fatal(err)
	}
	// A rest day after the case's deadline (75 h on) and within 30 days of it.
	day := time.Now().In(cal.Location()).Add(5 * 24 * time.Hour)
	for cal.IsWorkingDay(day) {
		day = day.Add(24 * time.Hour)
	}
	_, supToken, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, supToken)
	p.step("open the case and ask 延期 to a rest day",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-extend")),
		p.wait(`!document.querySelector("#btn-extend").disabled`),
		chromedp.Click(chromedp.CSS("#btn-extend")),
		chromedp.WaitVisible(chromedp.CSS("#extend-form")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#extend-date").value = `+jsString(day.Format("2006-01-02"))),
		chromedp.SendKeys(chromedp.CSS("#extend-reason"), "工地需分阶段整改"),
		chromedp.Evaluate[chromedp.Void](recordToasts),
		chromedp.Click(chromedp.CSS("#extend-form button[type=submit]")),
	)
	under := `[...document.querySelectorAll("#extend-form .form-error")].filter(e => !e.hidden).map(e => e.textContent).join("")`
	if err := p.waitFor(under+`.includes("下一个工作日")`, 10*time.Second); err != nil {
		t.Errorf("延期 to %s: the form says %q under it, the toasts %q; want the refusal naming the next working day under the form",
			day.Format("2006-01-02"), p.str(under), p.str(`window.__toasts.join(" | ")`))
	}
	if got := p.str(`window.__toasts.join(" | ")`); strings.Contains(got, "下一个工作日") {
		t.Errorf("the refusal of 延期 is toasted too: %q", got)
	}
	if p.eval(`document.querySelector("#extend-form").hidden`) {
		t.Error("the 延期 form closed on its refusal")
	}
}

// reportHTML is the reporter's golden weekly report.
func reportHTML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../services/reporter/testdata/golden/2024-W11.html")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reportRoot is where the report is drawn in its box: the box, or a
// shadow root in it.
const reportRoot = `(function () { var h = document.querySelector("#report-body .report-host");
	return h && h.shadowRoot ? h.shadowRoot : document.querySelector("#report-body"); })()`

// A weekly report opened in the console on a 390 px phone reads in its
// box: no line runs past it (only a wide table scrolls, by itself), its
// text keeps off the box's edge, and nothing the console's policy refuses
// (an inline style sheet) is applied, or logged as refused.
func TestWeeklyReportReadsOnAPhone(t *testing.T) {
	s := setup(t)
	html := reportHTML(t)
	serve := func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/reports/weekly/":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"reports": []map[string]any{{
				"week": "2024-W11", "total": 120, "generated_at": "2024-03-18T01:00:00Z",
				"links": map[string]string{"html": "/reports/weekly/2024-W11.html"},
			}}})
			return true
		case "/reports/weekly/2024-W11.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(html)
			return true
		}
		return false
	}
	s.hook.Store(&serve)
	_, supToken, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, supToken)
	var mu sync.Mutex
	var refused []string
	logCtx, stop := context.WithCancel(p.browser)
	t.Cleanup(stop)
	go func() {
		for m, err := range chromedp.Console(logCtx) {
			if err != nil {
				return
			}
			if strings.Contains(m.String(), "Content Security Policy") {
				mu.Lock()
				refused = append(refused, m.String())
				mu.Unlock()
			}
		}
	}()
	p.step("open the week's report",
		p.wait(`!document.querySelector('.tab[data-status="reports"]').hidden`),
		chromedp.Click(chromedp.CSS(`.tab[data-status="reports"]`)),
		chromedp.WaitVisible(chromedp.CSS("#list button.card.report")),
		chromedp.Click(chromedp.CSS("#list button.card.report")),
		chromedp.WaitVisible(chromedp.CSS("#report-view")),
		p.wait(reportRoot+`.querySelector("table") !== null`),
	)
	box := `document.querySelector("#report-body")`
	if !p.eval(box + `.scrollWidth <= ` + box + `.clientWidth + 1`) {
		t.Errorf("the report runs past its box: %s px wide in %s px", p.str(`String(`+box+`.scrollWidth)`), p.str(`String(`+box+`.clientWidth)`))
	}
	// Every paragraph and heading wraps within the box, off its edges.
	outside := `(function () {
		var b = document.querySelector("#report-body").getBoundingClientRect();
		return [...` + reportRoot + `.querySelectorAll("p, h1, h2, h3, .cards, figure")]
			.filter(e => { var r = e.getBoundingClientRect(); return r.width > 0 && (r.left < b.left + 8 || r.right > b.right - 8); })
			.map(e => e.tagName + " " + e.textContent.slice(0, 20)).join(" | ");
	})()`
	if got := p.str(outside); got != "" {
		t.Errorf("text of the report runs to or past the box's edge: %s", got)
	}
	// The overview's tiles wrap: none past the box.
	if !p.eval(`(function () { var b = document.querySelector("#report-body").getBoundingClientRect();
		return [...` + reportRoot + `.querySelectorAll(".cards .card")].every(c => c.getBoundingClientRect().right <= b.right); })()`) {
		t.Error("the report's tiles run past its box")
	}
	// A table wider than the box scrolls by itself.
	if !p.eval(`[...` + reportRoot + `.querySelectorAll("table")].some(t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === "auto")`) {
		t.Error("no table of the report scrolls sideways by itself")
	}
	time.Sleep(300 * time.Millisecond) // the log's entries arrive after the page is drawn
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("opening the report the browser refused what the console's policy forbids: %s", strings.Join(refused, " | "))
	}
}

// The bar's 执法工作台, the 改派至 select are 44 px tall on a phone, and
// the 处置记录's numbers of two digits stay inside the screen.
func TestBarLinkAndSelectAreTallEnough(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(2*time.Hour))
	_, supToken, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, supToken)
	if h := p.str(`String(document.querySelector(".bar .brand").getBoundingClientRect().height)`); !p.eval(`document.querySelector(".bar .brand").getBoundingClientRect().height >= 44`) {
		t.Errorf("执法工作台 in the bar is %s px tall, want at least 44", h)
	}
	p.step("open 改派",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-reassign")),
		p.wait(`!document.querySelector("#btn-reassign").disabled`),
		chromedp.Click(chromedp.CSS("#btn-reassign")),
		chromedp.WaitVisible(chromedp.CSS("#reassign-form")),
	)
	if h := p.str(`String(document.querySelector("#reassign-team").getBoundingClientRect().height)`); !p.eval(`document.querySelector("#reassign-team").getBoundingClientRect().height >= 44`) {
		t.Errorf("改派至 is %s px tall, want at least 44", h)
	}
	// Twelve entries: the marker "12." is drawn left of the entry, inside
	// its list's padding, which must hold it (its width at this size is
	// about 1.6em) and keep it off the screen's edge.
	room := `(function () { var a = document.querySelector("#audit"); for (var i = 0; i < 12; i++) { a.appendChild(document.createElement("li")).textContent = "x"; }
		var li = a.lastElementChild.getBoundingClientRect(); var fs = parseFloat(getComputedStyle(a).fontSize);
		return li.left - 2.2 * fs; })()`
	if !p.eval(room + ` >= 4`) {
		t.Errorf("处置记录's numbers of two digits start %s px from the screen's edge", p.str(`String(`+room+`)`))
	}
}

// functions is the source of app.js's top-level functions named, to be
// run alone in a page (the console's logic, with no server).
func functions(t *testing.T, names ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../web/officer/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, n := range names {
		// A function of one line, else one ending at the first "  }".
		m := regexp.MustCompile(`(?m)^  function ` + n + `\(.*\}\n`).Find(b)
		if m == nil {
			m = regexp.MustCompile(`(?ms)^  function ` + n + `\(.*?^  }\n`).Find(b)
		}
		if m == nil {
			t.Fatalf("no function %s in app.js", n)
		}
		out.Write(m)
	}
	return out.String()
}

// The console's list logic, run in the browser on its own: 加载更多 lists
// a case once (the list's order moves a case changed since between
// pages), as read last; a card names the time that matters now; 重新交办
// is said only while a reopened case is worked again.
func TestListLogic(t *testing.T) {
	exec := chromium(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exec), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	src := `var SHANGHAI = null; var STATUS = {}; var DISTRICT = { siming: "思明区" }; var DEPT = { urban: "城管", eco: "生态环境" }; ` + functions(t, "pad", "inShanghai", "when", "caseIdOf", "reopenedOf", "reopenedNow", "timeText", "appendPage", "teamText", "label", "reassignText")
	run := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () { `+src+` return JSON.stringify(`+expr+`); })()`))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	// Page one listed c1 (assigned) and c2; c1 was accepted meanwhile and
	// comes again on page two, with c3.
	got := run(`appendPage([{case_id: "c1", status: "assigned"}, {case_id: "c2", status: "assigned"}],
		[{case_id: "c1", status: "accepted"}, {case_id: "c3", status: "accepted"}], false).map(o => o.case_id + ":" + o.status)`)
	if got != `["c2:assigned","c1:accepted","c3:accepted"]` {
		t.Errorf("加载更多 lists %s, want each case once, as read last", got)
	}
	got = run(`appendPage([{complaint_id: "k1"}, {complaint_id: "k2"}], [{complaint_id: "k2"}, {complaint_id: "k3"}], true).map(o => o.complaint_id)`)
	if got != `["k1","k2","k3"]` {
		t.Errorf("加载更多 of the triage list lists %s, want each entry once", got)
	}
	for _, c := range []struct{ o, want string }{
		{`{status: "resolved", assigned_at: "2026-12-01T21:28:00Z", resolved_at: "2026-12-02T02:05:00Z"}`, `"办结 12月2日 10:05"`},
		{`{status: "closed", assigned_at: "2026-12-01T21:28:00Z", resolved_at: "2026-12-02T02:05:00Z", closed_at: "2026-12-09T02:05:00Z"}`, `"销号 12月9日 10:05"`},
		{`{status: "assigned", assigned_at: "2026-12-01T21:28:00Z", reopened_at: "2026-12-05T01:00:00Z", reopened: 1}`, `"重新交办 12月5日 09:00"`},
		{`{status: "assigned", assigned_at: "2026-12-06T01:00:00Z", reopened_at: "2026-12-05T01:00:00Z", reopened: 1}`, `"派单 12月6日 09:00"`},
	} {
		if got := run(`timeText(` + c.o + `)`); got != c.want {
			t.Errorf("a card of %s says %s, want %s", c.o, got, c.want)
		}
	}
	// 改派 of a case no team held (open, or returned by its team) is from 待派单.
	for _, c := range []struct{ a, want string }{
		{`{action: "reassign", from: "open", to: "assigned", to_team: "siming-eco", to_team_name: "思明区生态环境局"}`, `"改派：待派单 → 思明区生态环境局"`},
		{`{action: "reassign", from: "returned", to: "assigned", from_team: "siming-urban", from_team_name: "思明区城管局", to_team: "siming-eco", to_team_name: "思明区生态环境局"}`, `"改派：待派单 → 思明区生态环境局"`},
		{`{action: "reassign", from: "assigned", to: "assigned", from_team: "siming-urban", from_team_name: "思明区城管局", to_team: "siming-eco"}`, `"改派：思明区城管局 → 思明区生态环境"`},
	} {
		if got := run(`reassignText(` + c.a + `)`); got != c.want {
			t.Errorf("the record of %s reads %s, want %s", c.a, got, c.want)
		}
	}
	if got := run(`[reopenedNow({status: "resolved", reopened: 1}), reopenedNow({status: "accepted", reopened: 1}), reopenedNow({status: "accepted"})]`); got != `[false,true,false]` {
		t.Errorf("重新交办 said for (resolved again, worked again, never reopened): %s, want [false,true,false]", got)
	}
}
