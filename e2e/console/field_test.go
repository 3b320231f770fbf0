package console

// The console in the street: a phone on a poor mobile network, a token
// disabled while the page is open, a supervisor at a desk.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// page is one browser tab on the console.
type page struct {
	t       *testing.T
	ctx     context.Context
	browser context.Context
	start   time.Time
	dir     string
	errMu   sync.Mutex
	errs    []string
}

// openPhone starts Chromium as a phone of the given width, keeping
// Xiamen's time, and signs in with tok.
func openPhone(t *testing.T, s *system, width int, tok string) *page {
	t.Helper()
	return openPhoneIn(t, s, width, tok, "Asia/Shanghai")
}

// openPhoneIn is openPhone on a phone set to the time zone tz (an
// officer back from abroad, a phone set by hand).
func openPhoneIn(t *testing.T, s *system, width int, tok, tz string) *page {
	t.Helper()
	exec := chromium(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exec),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, 667),
		chromedp.Env("TZ="+tz),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser, chromedp.EmulateViewport(int64(width), 667, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 120*time.Second)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, browser: browser, start: time.Now(), dir: artifactDir(t)}
	consoleCtx, stop := context.WithCancel(browser)
	t.Cleanup(stop)
	go func() {
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			if m.IsException() {
				p.errMu.Lock()
				p.errs = append(p.errs, m.String())
				p.errMu.Unlock()
			}
		}
	}()
	p.step("sign in",
		chromedp.Navigate(s.url+"/officer/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), tok),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		p.wait(`document.querySelector("#live").classList.contains("on")`),
		p.wait(`document.querySelector("#who").textContent !== ""`),
	)
	return p
}

func (p *page) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	sctx, cancel := context.WithTimeout(p.ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	p.t.Logf("%5.1fs %s", time.Since(p.start).Seconds(), what)
}

func (p *page) wait(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

// waitFor is wait with a shorter patience: what a person would wait.
func (p *page) waitFor(expr string, d time.Duration) error {
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	return err
}

func (p *page) eval(expr string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p *page) str(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (s *system) setHook(h func(http.ResponseWriter, *http.Request) bool) {
	if h == nil {
		s.hook.Store(nil)
		return
	}
	s.hook.Store(&h)
}

// dropResponse lets the API act on the request, then cuts the connection
// before the answer reaches the phone: the mobile network lost it.
func (s *system) dropResponse(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, r)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// An officer signs for a case; the server records it, but the answer is
// lost on the way back. The console must then show the case as it is
// (处理中, 办结 offered), not invite a second 签收 that the server refuses.
func TestActionWhoseAnswerIsLostShowsTheCaseAsItIs(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
	)
	// The phone's network is poor: the live stream is gone too, so no
	// push comes to put the page right.
	s.streamDown.Store(true)
	s.srv.CloseClientConnections()
	p.step("lose the live stream", p.wait(`document.querySelector("#live").textContent === "离线"`))
	var dropped atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/accept") && dropped.Add(1) == 1 {
			s.dropResponse(w, r)
			return true
		}
		return false
	})
	p.step("sign for it on a flaky network",
		chromedp.Click(chromedp.CSS("#btn-accept")),
		p.wait(`!document.querySelector("#toast").hidden && document.querySelector("#toast").textContent !== ""`),
	)
	var status string
	if err := s.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, caseID).Scan(&status); err != nil || status != "accepted" {
		t.Fatalf("the server did not record the 签收: %s %v", status, err)
	}
	if err := p.waitFor(`document.querySelector("#case-head .state.accepted") !== null && !document.querySelector("#btn-resolve").hidden &&
		document.querySelector("#btn-accept").hidden`, 8*time.Second); err != nil {
		t.Errorf("after a 签收 whose answer was lost the page still shows %q with 签收 offered (accept hidden: %v): a second tap is refused by the server",
			p.str(`document.querySelector("#case-head .top").textContent`), p.eval(`document.querySelector("#btn-accept").hidden`))
	}
	if !p.eval(`!document.querySelector("#btn-resolve").disabled`) {
		t.Error("the action buttons stay disabled after a failed request")
	}
}

// A token disabled while the console is open (a lost phone reported, an
// officer moved on): the console goes back to sign-in by itself, rather
// than sitting "离线" and retrying the stream for ever.
func TestDisabledTokenGoesBackToSignIn(t *testing.T) {
	s := setup(t)
	store := auth.NewStore(s.pool, 0)
	o, tok, err := store.Add(context.Background(), auth.NewOfficer{Name: "王磊", Team: team, Role: auth.RoleOfficer})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	if err := store.Disable(context.Background(), o.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond) // the service's token cache
	s.srv.CloseClientConnections()      // the stream ends, as at its next heartbeat
	if err := p.waitFor(`!document.querySelector("#view-login").hidden && !document.querySelector("#login-error").hidden`, 20*time.Second); err != nil {
		t.Errorf("20 s after its token was disabled the console still shows %q, live %q, not the sign-in",
			p.str(`["login","list","case"].filter(v => !document.querySelector("#view-" + v).hidden).join()`),
			p.str(`document.querySelector("#live").textContent`))
	}
}

// On a slow network, opening a second case must not show the first one
// (its head, its 签收 button) while the second loads: a tap on that 签收
// would sign for the case not shown.
func TestOpeningACaseNeverShowsThePreviousOne(t *testing.T) {
	s := setup(t)
	first, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	second, _ := s.feed(t, 2, "normal", time.Now().Add(5*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the first case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+first+`"`),
		p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(first)+`)`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
	)
	release := make(chan struct{})
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/cases/"+second {
			<-release
		}
		return false
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	p.step("open the second case on a slow network",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+second+`"`),
		chromedp.WaitVisible(chromedp.CSS("#view-case")),
		chromedp.Sleep(300*time.Millisecond),
	)
	if p.eval(`document.querySelector("#case-head").textContent.includes(` + jsString(first) + `)`) {
		t.Error("while the second case loads, the page shows the first case's head")
	}
	if p.eval(`!document.querySelector("#btn-accept").hidden && !document.querySelector("#btn-accept").disabled`) {
		t.Error("while the second case loads, a 签收 button (the first case's) can be tapped")
	}
	close(release)
	p.step("the second case arrives", p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(second)+`)`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")))
}

// Paging on a slow network: a second tap on 加载更多 while the first is
// on its way, or a tab changed before the last one answered, must not
// show a case twice or the wrong tab's (empty) list.
func TestListOnASlowNetwork(t *testing.T) {
	s := setup(t)
	ids := map[string]bool{}
	for n := 1; n <= 51; n++ {
		id, _ := s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
		ids[id] = true
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the first page", p.wait(`document.querySelectorAll("#list a.card").length === 50`), chromedp.WaitVisible(chromedp.CSS("#more")))
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if r.URL.Path == "/api/v1/assignments" && (q.Get("cursor") != "" || q.Get("status") == "resolved,closed") {
			time.Sleep(1500 * time.Millisecond)
		}
		return false
	})
	p.step("tap 加载更多 twice",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#more").click(); document.querySelector("#more").click()`),
		chromedp.Sleep(3500*time.Millisecond),
	)
	if n := p.str(`String(document.querySelectorAll("#list a.card").length) + "/" + String(new Set([...document.querySelectorAll("#list a.card")].map(a => a.dataset.case)).size)`); n != fmt.Sprintf("%d/%d", len(ids), len(ids)) {
		t.Errorf("after two taps on 加载更多 the list has %s cards/distinct cases, want %d/%d", n, len(ids), len(ids))
	}
	p.step("tap 已办结 then 待办 before it answers",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.tab[data-status="done"]').click()`),
		chromedp.Sleep(200*time.Millisecond),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.tab[data-status="active"]').click()`),
		chromedp.Sleep(2500*time.Millisecond),
	)
	if !p.eval(`document.querySelector('.tab.on').dataset.status === "active" && document.querySelectorAll("#list a.card").length > 0 && document.querySelector("#list-empty").hidden`) {
		t.Errorf("待办 is shown with %s cards and %q: the late answer of 已办结 replaced it",
			p.str(`String(document.querySelectorAll("#list a.card").length)`), p.str(`document.querySelector("#list-empty").hidden ? "" : document.querySelector("#list-empty").textContent`))
	}
}

// A screen reader: the page's live region must not hold the countdown
// that changes every second, and opening a case moves the focus to it.
func TestScreenReaderBasics(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	card := `#list a.card[data-case="` + caseID + `"]`
	p.step("see the case", chromedp.WaitVisible(chromedp.CSS(card)))
	if p.eval(`document.querySelector('[aria-live] [data-due]') !== null`) {
		t.Error("a countdown ticking every second lies in an aria-live region: a screen reader reads it out every second")
	}
	p.step("open it", tapLive(card), chromedp.WaitVisible(chromedp.CSS("#btn-accept")), chromedp.Sleep(200*time.Millisecond))
	if !p.eval(`document.querySelector("#view-case").contains(document.activeElement)`) {
		t.Errorf("after opening a case the focus is on %s, not in the case", p.str(`document.activeElement.tagName + "#" + document.activeElement.id`))
	}
}

// A 360 px phone: long Chinese places and notes, a long reason in the
// record, the map: nothing is wider than the screen.
func TestNarrowPhoneWithLongChineseText(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	long := strings.Repeat("思明区莲前街道莲前西路二号建筑工地东侧围挡外人行道", 4)
	if _, err := s.pool.Exec(context.Background(), `UPDATE cases SET place = $2 WHERE id = $1`, caseID, long); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(context.Background(), `UPDATE complaints SET address = $1, description = $2, caller_name = $3 WHERE id = 'cmp_console_1'`,
		long, strings.Repeat("夜间施工噪声扰民严重影响休息", 10), "欧阳陈美玲欧阳陈美玲"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(context.Background(), `UPDATE case_audit SET reason = $2 WHERE case_id = $1`, caseID,
		"https://xm.example.gov.cn/"+strings.Repeat("a", 80)+" "+strings.Repeat("夜间施工", 30)); err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 360, s.token)
	card := `#list a.card[data-case="` + caseID + `"]`
	p.step("see the case", chromedp.WaitVisible(chromedp.CSS(card)))
	wide := `[...document.querySelectorAll("body *")].filter(e => e.offsetParent !== null && (e.getBoundingClientRect().right > 360.5 || e.scrollWidth > e.clientWidth + 1) && !e.closest(".tabs") && e.id !== "who").map(e => e.tagName + "." + e.className + "#" + e.id).slice(0, 5).join(" ") + " / page " + document.documentElement.scrollWidth`
	if w := p.str(wide); !strings.HasSuffix(w, "page 360") || !strings.HasPrefix(w, " /") {
		t.Errorf("the list at 360 px overflows: %s", w)
	}
	p.step("open it", tapLive(card), chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		p.wait(`document.querySelectorAll("#map path.outline").length > 0`))
	if w := p.str(wide); !strings.HasSuffix(w, "page 360") || !strings.HasPrefix(w, " /") {
		t.Errorf("the case at 360 px overflows: %s", w)
	}
}

// A tab changed and 加载更多 tapped before the new tab's list answers (the
// button of the previous tab's list is still there on a slow network):
// the new tab must show its own list, not the previous tab's cases
// continued with a page fetched by that tab's cursor.
func TestMoreTappedAsTheTabChanges(t *testing.T) {
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the first page", p.wait(`document.querySelectorAll("#list a.card").length === 50`), chromedp.WaitVisible(chromedp.CSS("#more")))
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if r.URL.Path == "/api/v1/assignments" && (q.Get("cursor") != "" || q.Get("status") == "resolved,closed") {
			time.Sleep(1500 * time.Millisecond)
		}
		return false
	})
	p.step("tap 已办结, then 加载更多 before it answers",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.tab[data-status="done"]').click(); document.querySelector("#more").click()`),
		chromedp.Sleep(4*time.Second),
	)
	if !p.eval(`document.querySelector('.tab.on').dataset.status === "done" && document.querySelectorAll("#list a.card").length === 0`) {
		t.Errorf("已办结 (no case resolved) shows %s cards: the 待办 list, continued by the tap on 加载更多",
			p.str(`String(document.querySelectorAll("#list a.card").length)`))
	}
}

// A toast (a case pushed live, an action done) lies over the bottom of
// the screen for 3.5 s: a tap meant for what lies under it, 加载更多 at the
// end of the list or the last card, must reach it rather than the toast,
// which a screen reader still reads (a status, shown).
func TestToastLetsTapsThrough(t *testing.T) {
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the first page", p.wait(`document.querySelectorAll("#list a.card").length === 50`), chromedp.WaitVisible(chromedp.CSS("#more")))
	s.feed(t, 52, "urgent", time.Now().Add(time.Hour))
	// Scrolled to the end of the list (退出登录 lies below it, out of
	// sight), while the toast of the case pushed live is shown: what would
	// a finger on 加载更多, under the toast, touch?
	under := `(() => {
		document.querySelector("#more").scrollIntoView({ block: "end" });
		const toast = document.querySelector("#toast"), more = document.querySelector("#more");
		if (toast.hidden || !toast.textContent.includes("新任务") || more.disabled) { return "wait"; }
		const a = toast.getBoundingClientRect(), b = more.getBoundingClientRect();
		const x = (Math.max(a.left, b.left) + Math.min(a.right, b.right)) / 2, y = (Math.max(a.top, b.top) + Math.min(a.bottom, b.bottom)) / 2;
		if (Math.max(a.left, b.left) >= Math.min(a.right, b.right) || Math.max(a.top, b.top) >= Math.min(a.bottom, b.bottom)) { return "apart"; }
		const hit = document.elementFromPoint(x, y);
		return hit === more ? "more" : hit && hit.closest("#toast") ? "toast" : String(hit && hit.tagName + "#" + hit.id);
	})()`
	if err := p.waitFor(`(() => { const r = `+under+`; window.__under = r; return r !== "wait"; })()`, 20*time.Second); err != nil {
		t.Fatalf("no toast for the case pushed live over a list ready for 加载更多: %v", err)
	}
	switch got := p.str(`window.__under`); got {
	case "apart":
		t.Fatal("the toast does not lie over 加载更多 scrolled to the bottom: the test proves nothing")
	case "more":
	default:
		t.Errorf("a tap on 加载更多 under the toast lands on %s", got)
	}
	if !p.eval(`(() => { const t = document.querySelector("#toast"); return t.getAttribute("role") === "status" && t.getAttribute("aria-hidden") !== "true" &&
		getComputedStyle(t).visibility === "visible" && getComputedStyle(t).display !== "none"; })()`) {
		t.Error("the toast is no longer a status a screen reader reads")
	}
	p.step("tap 加载更多", chromedp.Click(chromedp.CSS("#more")))
	if err := p.waitFor(cardCount+` === "52/52"`, 20*time.Second); err != nil {
		t.Errorf("after a tap on 加载更多 the list has %s cards/distinct cases, want 52/52", p.str(cardCount))
	}
}

// 加载更多 tapped while the list is read again because a case was pushed
// live (the read slow to answer): the tap is not lost on a button
// disabled under the finger; once the read is in, the page after it is
// read, and all the cases are listed.
func TestMoreTappedWhileTheListIsReadAgain(t *testing.T) {
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the first page", p.wait(`document.querySelectorAll("#list a.card").length === 50`), chromedp.WaitVisible(chromedp.CSS("#more")))
	var reading atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/assignments" && r.URL.Query().Get("cursor") == "" {
			reading.Add(1)
			time.Sleep(2 * time.Second)
		}
		return false
	})
	s.feed(t, 52, "urgent", time.Now().Add(time.Hour))
	testenv.Eventually(t, 20*time.Second, "the list read again for the case pushed live", func() bool { return reading.Load() > 0 })
	p.step("tap 加载更多 while it is read", chromedp.Evaluate[chromedp.Void](`document.querySelector("#more").click()`))
	if err := p.waitFor(cardCount+` === "52/52"`, 20*time.Second); err != nil {
		t.Errorf("加载更多 tapped while the list was read again: the list has %s cards/distinct cases, want 52/52", p.str(cardCount))
	}
}

// The officers API holds each token to its rate: past it, 429 with
// Retry-After and an English detail. The console says so in Chinese and
// sends nothing before the wait is over (a request sent sooner is refused
// again, and spends the budget): the 签收 refused is not done, its button
// comes back after the wait, and a tap then signs for the case.
func TestRateLimitedActionWaits(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
	)
	const wait = 5 * time.Second
	var (
		mu        sync.Mutex
		refusedAt time.Time
		early     []string
	)
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api/v1/stream" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if !refusedAt.IsZero() && time.Since(refusedAt) < wait {
			early = append(early, r.Method+" "+r.URL.Path)
		}
		if refusedAt.IsZero() && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/accept") {
			refusedAt = time.Now()
			// As services/officers answers past the rate.
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/rate_limited", Status: http.StatusTooManyRequests,
				Detail: "too many requests with this token; retry after 5 s"})
			return true
		}
		return false
	})
	p.step("sign for it past the rate", chromedp.Click(chromedp.CSS("#btn-accept")))
	// The toast and the button, read at once.
	said := `(() => { const t = document.querySelector("#toast"); return t.hidden || t.textContent === "" ? "" :
		t.textContent + " / 签收 " + (document.querySelector("#btn-accept").disabled ? "disabled" : "enabled"); })()`
	if err := p.waitFor(said+` !== ""`, 20*time.Second); err != nil {
		t.Fatal("no word after a 签收 refused for the rate")
	}
	if got := p.str(said); !strings.Contains(got, "操作过于频繁") || !strings.Contains(got, "5秒") || regexp.MustCompile(`[A-Za-z]{3}`).MatchString(strings.Split(got, " / ")[0]) {
		t.Errorf("after a 签收 refused for the rate the console says %q, not in Chinese that it may be tried again in 5 seconds", got)
	} else if !strings.HasSuffix(got, "disabled") {
		t.Errorf("as it says %q, 签收 can be tapped again at once", got)
	}
	if err := p.waitFor(`!document.querySelector("#btn-accept").hidden && !document.querySelector("#btn-accept").disabled`, 20*time.Second); err != nil {
		t.Fatalf("20 s after a 签收 refused for 5 s its button has not come back (hidden %v)", p.eval(`document.querySelector("#btn-accept").hidden`))
	}
	mu.Lock()
	sent := early
	mu.Unlock()
	if len(sent) > 0 {
		t.Errorf("within the %s the server asked to wait the console sent %q", wait, sent)
	}
	if st := p.str(`document.querySelector("#case-head .state").className`); !strings.Contains(st, "assigned") {
		t.Errorf("the case refused its 签收 shows as %q", st)
	}
	var status string
	if err := s.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, caseID).Scan(&status); err != nil || status != "assigned" {
		t.Fatalf("a 签收 refused for the rate left the case %s (%v)", status, err)
	}
	p.step("sign for it after the wait",
		chromedp.Click(chromedp.CSS("#btn-accept")),
		p.wait(`document.querySelector("#case-head .state.accepted") !== null && !document.querySelector("#btn-resolve").hidden`),
	)
}

// An officer working down a long list opens a case far down, then comes
// back to the list, by 返回列表 or the phone's back: the list is where it
// was, the case opened still in view, not back at its top.
func TestBackToTheListKeepsItsPlace(t *testing.T) {
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the list", p.wait(`document.querySelectorAll("#list a.card").length === 50`))
	card := `#list a.card[data-case="` + p.str(`document.querySelectorAll("#list a.card")[40].dataset.case`) + `"]`
	where := `(() => { const r = document.querySelector('` + card + `').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`
	for _, back := range []struct {
		how string
		do  chromedp.Action[chromedp.Void]
	}{
		{"返回列表", chromedp.Click(chromedp.CSS("a.back"))},
		{"the phone's back", chromedp.Evaluate[chromedp.Void](`history.back()`)},
	} {
		p.step("scroll to the 41st card and open it",
			chromedp.Evaluate[chromedp.Void](`document.querySelector('`+card+`').scrollIntoView({block: "center"})`),
			tapLive(card),
			chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		)
		p.step("back to the list by "+back.how, back.do,
			chromedp.WaitVisible(chromedp.CSS("#view-list")),
			// read again, and drawn
			p.wait(`!document.querySelector("#more").disabled`),
		)
		if err := p.waitFor(where, 5*time.Second); err != nil {
			t.Errorf("back to the list by %s the case opened is out of sight (scrolled to %s px): the officer lost their place",
				back.how, p.str(`String(Math.round(scrollY))`))
		}
	}
}

// A case pushed live makes the list read again; if that read is refused
// for the token's rate (429), the list is read again once the wait is
// over, without another push or a tap: the new case appears after the
// wait, and nothing is sent before it.
func TestRateLimitedListRefreshIsReadAgain(t *testing.T) {
	s := setup(t)
	s.feed(t, 1, "normal", time.Now().Add(5*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("see the list", p.wait(`document.querySelectorAll("#list a.card").length === 1`),
		p.wait(`document.querySelector("#live").textContent === "实时"`))
	const wait = 3 * time.Second
	var (
		mu        sync.Mutex
		refusedAt time.Time
		early     []string
	)
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api/v1/stream" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if !refusedAt.IsZero() && time.Since(refusedAt) < wait {
			early = append(early, r.Method+" "+r.URL.Path)
		}
		if refusedAt.IsZero() && r.Method == http.MethodGet && r.URL.Path == "/api/v1/assignments" {
			refusedAt = time.Now()
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/rate_limited", Status: http.StatusTooManyRequests,
				Detail: "too many requests with this token; retry after 3 s"})
			return true
		}
		return false
	})
	newID, _ := s.feed(t, 2, "urgent", time.Now().Add(time.Hour))
	testenv.Eventually(t, 20*time.Second, "the list's read after the push refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !refusedAt.IsZero()
	})
	if err := p.waitFor(`document.querySelector('#list a.card[data-case="`+newID+`"]') !== null`, 20*time.Second); err != nil {
		t.Errorf("20 s after the list's read was refused for %s the list (%s cards) still lacks the case pushed live", wait, p.str(cardCount))
	}
	mu.Lock()
	sent := early
	mu.Unlock()
	if len(sent) > 0 {
		t.Errorf("within the %s the server asked to wait the console sent %q", wait, sent)
	}
}

// refusedRead is a phone showing the first page of 51 cases, on which
// case 52 was pushed live and 加载更多 tapped while the list's read again
// was on its way, that read refused for the token's rate (429, after 2 s,
// Retry-After wait seconds). pages counts the pages read with a cursor
// from then on.
type refusedRead struct {
	s       *system
	p       *page
	newID   string
	refused *atomic.Bool
	pages   *atomic.Int64
}

func tapDuringRefusedRead(t *testing.T, wait int) refusedRead {
	t.Helper()
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("see the first page", p.wait(`document.querySelectorAll("#list a.card").length === 50`), chromedp.WaitVisible(chromedp.CSS("#more")))
	var refused atomic.Bool
	var reading, pages atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v1/assignments" {
			return false
		}
		if r.URL.Query().Get("cursor") != "" {
			pages.Add(1)
			return false
		}
		if refused.Load() {
			return false
		}
		reading.Add(1)
		time.Sleep(2 * time.Second)
		refused.Store(true)
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/rate_limited", Status: http.StatusTooManyRequests,
			Detail: fmt.Sprintf("too many requests with this token; retry after %d s", wait)})
		return true
	})
	newID, _ := s.feed(t, 52, "urgent", time.Now().Add(time.Hour))
	testenv.Eventually(t, 20*time.Second, "the list read again for the case pushed live", func() bool { return reading.Load() > 0 })
	p.step("tap 加载更多 while it is read", chromedp.Evaluate[chromedp.Void](`document.querySelector("#more").click()`))
	return refusedRead{s: s, p: p, newID: newID, refused: &refused, pages: &pages}
}

// 加载更多 tapped while the list is read again after a push, and that
// read refused for the token's rate (429): the tap is not lost with the
// read; once the wait is over the list is read again and the page after
// it too.
func TestMoreTappedWhileARefusedReadIsOnItsWay(t *testing.T) {
	p := tapDuringRefusedRead(t, 2).p
	if err := p.waitFor(cardCount+` === "52/52"`, 20*time.Second); err != nil {
		t.Errorf("加载更多 tapped while a read refused for the rate was on its way: the list has %s cards/distinct cases, want 52/52", p.str(cardCount))
	}
}

// 加载更多 tapped while a read after a push is refused for the token's
// rate, then tapped again during the wait, the list unchanged: the second
// tap waits with the first for the list's read again, where it read the
// page after the list shown with its old cursor and the read again was
// never made: the case pushed live stayed unseen until the next push.
func TestMoreTappedAgainDuringTheWaitOfARefusedRead(t *testing.T) {
	r := tapDuringRefusedRead(t, 3)
	p, refused, pages := r.p, r.refused, r.pages
	testenv.Eventually(t, 20*time.Second, "the read refused", func() bool { return refused.Load() })
	p.step("tap 加载更多 again during the wait", p.wait(`!document.querySelector("#more").disabled`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#more").click()`))
	if err := p.waitFor(cardCount+` === "52/52"`, 20*time.Second); err != nil {
		t.Errorf("加载更多 tapped during the wait of a refused read: the list has %s cards/distinct cases, want 52/52", p.str(cardCount))
	}
	if !p.eval(`document.querySelector('#list a.card[data-case="` + r.newID + `"]') !== null`) {
		t.Error("the case pushed live is not listed: the list was not read again")
	}
	if n := pages.Load(); n != 1 {
		t.Errorf("%d pages after the first read, want 1", n)
	}
}

// 加载更多 tapped while a read after a push is refused for the token's
// rate, and the officer opens a case before the wait is over: the tap
// goes with the list left, as with a read that answers while the list is
// not shown. Back on the list, it is read again, without the page more
// the officer tapped for before they left (which was read then, its cards
// under those they came back to).
func TestMoreTappedBeforeLeavingTheListDuringARefusedRead(t *testing.T) {
	r := tapDuringRefusedRead(t, 5)
	p, refused, pages := r.p, r.refused, r.pages
	testenv.Eventually(t, 20*time.Second, "the read refused", func() bool { return refused.Load() })
	p.step("open a case during the wait, and stay past it", tapLive("#list a.card"),
		p.wait(`document.querySelector("#view-list").hidden`), chromedp.Sleep(6*time.Second),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")))
	p.step("back to the list", chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.CSS("#view-list")),
		p.wait(`document.querySelector('#list a.card') !== null && !document.querySelector("#more").disabled`),
		chromedp.Sleep(2*time.Second))
	if n := pages.Load(); n != 0 {
		t.Errorf("back on the list, %d pages more were read for a tap made before the officer left it (%s cards/distinct cases)", n, p.str(cardCount))
	}
}

// So is the case shown, read again after a push and refused for the
// token's rate: the complaint merged into it appears after the wait.
func TestRateLimitedCaseRefreshIsReadAgain(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(5*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		p.wait(`document.querySelector("#live").textContent === "实时"`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		p.wait(`document.querySelectorAll("#complaints li").length === 1`),
	)
	var refused atomic.Bool
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/cases/"+caseID && refused.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "2")
			httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/rate_limited", Status: http.StatusTooManyRequests,
				Detail: "too many requests with this token; retry after 2 s"})
			return true
		}
		return false
	})
	s.mergeUrgent(t, caseID, 2, time.Now().Add(2*time.Hour))
	testenv.Eventually(t, 20*time.Second, "the case's read after the push refused", refused.Load)
	if err := p.waitFor(`document.querySelectorAll("#complaints li").length === 2`, 20*time.Second); err != nil {
		t.Errorf("20 s after the case's read was refused for 2 s it shows %s complaints, not the one merged into it",
			p.str(`String(document.querySelectorAll("#complaints li").length)`))
	}
}

// Two reads of the case shown, both refused for the token's rate (a push
// and the officer's own refresh, say), read it again once the wait is
// over, and once: each refused read does not keep a retry of its own,
// which would read the case as many times after every wait and spend the
// token's budget on copies.
func TestRateLimitedCaseIsReadAgainOnce(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(5*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		p.wait(`document.querySelector("#live").textContent === "实时"`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		p.wait(`document.querySelectorAll("#complaints li").length === 1`),
	)
	var (
		mu      sync.Mutex
		refused int
		after   int // reads of the case after the two refused
	)
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/cases/"+caseID {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if refused < 2 {
			refused++
			w.Header().Set("Retry-After", "2")
			httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/rate_limited", Status: http.StatusTooManyRequests,
				Detail: "too many requests with this token; retry after 2 s"})
			return true
		}
		after++
		return false
	})
	// Two reads of the case at once, as a push and a refresh make them.
	p.step("read the case twice", chromedp.Evaluate[chromedp.Void](
		`window.dispatchEvent(new HashChangeEvent("hashchange")); window.dispatchEvent(new HashChangeEvent("hashchange"))`))
	testenv.Eventually(t, 20*time.Second, "both reads of the case refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return refused == 2
	})
	time.Sleep(7 * time.Second) // the wait, and more than twice over
	mu.Lock()
	n := after
	mu.Unlock()
	if n != 1 {
		t.Errorf("after two reads refused for 2 s the case was read %d times, want once", n)
	}
}
