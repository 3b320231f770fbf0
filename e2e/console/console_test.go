// Package console drives the officers' web console in a real headless
// Chromium against the officers API, the outbox relay and the hotline
// callbacks on real PostgreSQL and NATS: an officer signs in on a phone,
// sees a case arrive live, signs for it, resolves it, and the hotline is
// told.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/internal/workday"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
	"github.com/xiamen-eeb/nuisance/services/officers"
	"github.com/xiamen-eeb/nuisance/web/officer"
)

const (
	chromiumPath = "/usr/bin/chromium"
	team         = "siming-urban"
	callerPhone  = "13812345678"
	maskedPhone  = "138****5678"
)

// chromium is the browser the test drives: $CHROMIUM or Debian's package.
// Without one the test is skipped, unless CHROMIUM_REQUIRED says the run
// must exercise the browser (make test sets it).
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = chromiumPath
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CHROMIUM_REQUIRED") != "" {
			t.Fatalf("CHROMIUM_REQUIRED is set but %s is missing (install it with scripts/install-deps.sh --chromium)", p)
		}
		t.Skipf("chromium not installed at %s: the console is not driven in a browser (scripts/install-deps.sh --chromium installs it; make test sets CHROMIUM_REQUIRED)", p)
	}
	return p
}

// artifactDir is where screenshots are kept: $NUISANCE_ARTIFACTS (CI
// uploads it) or the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("NUISANCE_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// hotline is the 12345 hotline's side of the callbacks: it checks each
// signature and keeps what it was told.
type hotline struct {
	hook *standardwebhooks.Webhook
	mu   sync.Mutex
	got  []map[string]any
	bad  []string
}

func (h *hotline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := h.hook.Verify(body, r.Header); err != nil {
		h.mu.Lock()
		h.bad = append(h.bad, err.Error())
		h.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, v)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// told reports whether the hotline received status for ticket.
func (h *hotline) told(ticket, status string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.got, func(v map[string]any) bool { return v["ticket_id"] == ticket && v["status"] == status })
}

func (h *hotline) callback(ticket, status string) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.got {
		if v["ticket_id"] == ticket && v["status"] == status {
			return v
		}
	}
	return nil
}

// system is the part of the pipeline the console talks to.
type system struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	url     string
	token   string
	hotline *hotline
	mux     *httpx.RecordingMux
	srv     *httptest.Server
	// streamDown makes the server refuse the live stream (503), as while
	// it restarts; streamRefused counts the refusals.
	streamDown    *atomic.Bool
	streamRefused *atomic.Int64
	// hook, when set, sees each request first and may answer it itself
	// (true): a flaky network in front of the API.
	hook *atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// setup starts the system; tune changes the officers' service
// configuration (a short heartbeat, for one).
func setup(t *testing.T, tune ...func(*officers.Config)) *system {
	t.Helper()
	pool := testenv.DB(t)
	nats := testenv.StartNATS(t)
	log := testenv.Log(t)
	secret := newSecret(t)
	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	hl := &hotline{hook: hook}
	receiver := httptest.NewServer(hl)
	t.Cleanup(receiver.Close)

	offCfg := officers.DefaultConfig()
	for _, f := range tune {
		f(&offCfg)
	}
	off, err := officers.New(offCfg, pool, nats.JS, log.Named("officers"))
	if err != nil {
		t.Fatal(err)
	}
	cbCfg := callbacks.DefaultConfig(receiver.URL, secret)
	cbCfg.Poll = 50 * time.Millisecond
	cb, err := callbacks.New(cbCfg, pool, nats.JS, log.Named("callbacks"))
	if err != nil {
		t.Fatal(err)
	}
	hsCfg := hotspots.DefaultConfig()
	hsCfg.Authorize = auth.NewStore(pool, 0).Authorizer()
	hs, err := hotspots.New(hsCfg, pool, nats.JS, log.Named("hotspots"))
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	off.Routes(mux)
	hs.Routes(mux)
	officer.Routes(mux)
	openapi.Routes(mux)
	streamDown, streamRefused := new(atomic.Bool), new(atomic.Int64)
	apiHook := new(atomic.Pointer[func(http.ResponseWriter, *http.Request) bool])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := apiHook.Load(); h != nil && (*h)(w, r) {
			return
		}
		if streamDown.Load() && r.URL.Path == "/api/v1/stream" {
			streamRefused.Add(1)
			httpx.WriteProblem(w, httpx.Problem{Status: http.StatusServiceUnavailable, Detail: "restarting"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []interface{ Run(context.Context) error }{
		off, cb, &outbox.Relay{Pool: pool, JS: nats.JS, Log: log.Named("relay"), Poll: 50 * time.Millisecond},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%T stopped: %v", r, err)
			}
		}()
	}
	// Runs before srv.Close (cleanups run last first): the services end
	// their event streams so the server can close.
	t.Cleanup(func() { cancel(); wg.Wait() })

	_, token, err := auth.NewStore(pool, 0).Add(context.Background(), auth.NewOfficer{Name: "林晓", Team: team, Role: auth.RoleOfficer})
	if err != nil {
		t.Fatal(err)
	}
	return &system{pool: pool, js: nats.JS, url: srv.URL, token: token, hotline: hl, mux: mux, srv: srv, streamDown: streamDown, streamRefused: streamRefused, hook: apiHook}
}

// feed opens a case for one new complaint and assigns it to the team, as
// the router does: through caseflow, so the outbox carries case.assigned
// to the officers' stream and to the callbacks.
func (s *system) feed(t *testing.T, n int, priority string, signDue time.Time) (caseID, ticket string) {
	t.Helper()
	ctx := context.Background()
	complaintID := fmt.Sprintf("cmp_console_%d", n)
	ticket = fmt.Sprintf("XM12345-2024-%06d", n)
	lon, lat := 118.0894+float64(n)*0.001, 24.4798
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		now := time.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, category, subcategory, address,
				loc_lon, loc_lat, loc_crs, caller_name, caller_phone, channel)
			VALUES ($1, $2, $3, $4, 'noise', 'construction', $5, $6, $7, 'wgs84', '陈美玲', $8, 'phone')`,
			complaintID, ticket, now.Add(-10*time.Minute), "晚上十一点了工地还在打桩，吵得睡不着，回电"+callerPhone,
			"思明区莲前西路2号工地", lon, lat, callerPhone); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, lon, lat, method,
				confidence, place, category, subcategory, priority, urgent, received_at)
			VALUES ($1, true, 'siming', '思明区', $2, $3, 'coordinates', 1, '莲前西路2号工地', 'noise', 'construction', true, true, $4)`,
			complaintID, lon, lat, now.Add(-10*time.Minute)); err != nil {
			return err
		}
		router := caseflow.Service("router")
		c, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{
			ID: caseflow.IDFor(complaintID), ComplaintID: complaintID, Category: "noise", Subcategory: "construction",
			District: "siming", Place: "莲前西路2号工地", PlaceKey: "莲前西路2号", Lon: &lon, Lat: &lat, OpenedAt: now,
		})
		if err != nil {
			return err
		}
		_, err = caseflow.Assign(ctx, tx, c.ID, router, caseflow.Assignment{
			Team: team, Mode: "on_site", Priority: priority, SignDue: signDue, ResolveDue: signDue.Add(72 * time.Hour),
			Reason: "rule noise-construction",
		})
		caseID = c.ID
		return err
	})
	if err != nil {
		t.Fatalf("feed case %d: %v", n, err)
	}
	return caseID, ticket
}

// mergeUrgent joins a complaint numbered n, due to be signed for by
// signDue and resolved a day after, to the case caseID, as the router does.
func (s *system) mergeUrgent(t *testing.T, caseID string, n int, signDue time.Time) {
	t.Helper()
	ctx := context.Background()
	complaintID := fmt.Sprintf("cmp_console_%d", n)
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, channel)
			VALUES ($1, $2, now(), '明天高考，工地还在夜间施工', 'phone')`, complaintID, fmt.Sprintf("XM12345-2024-%06d", n)); err != nil {
			return err
		}
		_, _, err := caseflow.Merge(ctx, tx, caseID, caseflow.Service("router"), complaintID, "", "urgent", signDue, signDue.Add(22*time.Hour))
		return err
	})
	if err != nil {
		t.Fatalf("merge an urgent complaint into %s: %v", caseID, err)
	}
}

// api calls the officers API with the officer's token and checks the
// answer against the OpenAPI document.
func (s *system) api(t *testing.T, doc *openapi.Document, op, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if err := doc.Validate(op, res.StatusCode, res.Header.Get("Content-Type"), body); err != nil {
		t.Errorf("the answer to %s breaks the OpenAPI document: %v\n%s", path, err, body)
	}
	return body
}

func TestOfficerResolvesLiveAssignmentOnPhone(t *testing.T) {
	t.Parallel()
	exec := chromium(t)
	s := setup(t)
	dir := artifactDir(t)

	// The routes the console relies on are described by the document.
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, op := range doc.Operations() {
		if strings.HasPrefix(op, "GET /api/") || strings.HasPrefix(op, "POST /api/v1/cases/") || strings.Contains(op, " /officer/") ||
			strings.Contains(op, "triage") || op == "GET /openapi.json" || strings.HasPrefix(op, "GET /schemas/") {
			ops = append(ops, op)
		}
	}
	if err := openapi.CheckRoutes(ops, s.mux.Patterns()); err != nil {
		t.Errorf("officers' routes and the OpenAPI document differ: %v", err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exec),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(375, 667),
		// An officer's phone in Xiamen keeps the city's time.
		chromedp.Env("TZ=Asia/Shanghai"),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// Start the browser on a context without a deadline: the first Run's
	// context owns the browser's lifetime.
	if err := chromedp.Do(browser, chromedp.EmulateViewport(375, 667, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var pageErrs []string
	var errMu sync.Mutex
	consoleCtx, stopConsole := context.WithCancel(browser)
	defer stopConsole()
	go func() {
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
				errMu.Lock()
				pageErrs = append(pageErrs, m.String())
				errMu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	start := time.Now()
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			fctx, cancel := context.WithTimeout(browser, 10*time.Second)
			defer cancel()
			shot(t, fctx, dir, "console-failed.png")
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%5.1fs %s", time.Since(start).Seconds(), what)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	wait := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
	}

	// Sign in.
	step("open the console",
		chromedp.Navigate(s.url+"/officer/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), s.token),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		wait(`document.querySelector("#live").classList.contains("on")`),
		wait(`document.querySelector("#who").textContent.includes("思明区城市管理综合执法大队")`),
	)
	if !eval(`localStorage.getItem("nuisance.officer.token") !== null`) {
		t.Error("the token is not kept in localStorage")
	}
	if n := eval(`document.querySelectorAll("#list .card").length === 0`); !n {
		t.Fatal("the list is not empty before any case was fed")
	}

	// An urgent case arrives while the page is open, and an overdue one.
	step("mark the page", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	caseID, ticket := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	lateID, _ := s.feed(t, 2, "normal", time.Now().Add(-10*time.Minute))
	card := `#list a.card[data-case="` + caseID + `"]`
	step("see the assignments arrive live",
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+lateID+`"]`)),
	)
	if !eval(`window.__sameDocument === true`) {
		t.Error("the page reloaded: the assignments did not arrive live")
	}
	got := text(card)
	for _, want := range []string{"紧急", "噪声 · 建筑施工噪声", "思明区", "莲前西路2号工地", "待签收"} {
		if !strings.Contains(got, want) {
			t.Errorf("card %q lacks %q", got, want)
		}
	}
	if !regexp.MustCompile(`签收剩余 0[01]:\d\d:\d\d`).MatchString(got) {
		t.Errorf("card %q has no sign-for countdown of under two hours", got)
	}
	late := `#list a.card[data-case="` + lateID + `"] .due`
	if lt := text(late); !strings.Contains(lt, "签收已超时 00:") || !eval(`document.querySelector('`+late+`').classList.contains("overdue")`) {
		t.Errorf("overdue case shows %q, want a red 签收已超时", lt)
	}
	// A supervisor moves a third case to another team: it leaves the
	// list live, and the officer is told it went elsewhere, not of a new
	// task.
	movedID, _ := s.feed(t, 3, "normal", time.Now().Add(5*time.Hour))
	step("see the third case arrive", chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+movedID+`"]`)))
	if err := pgstore.InTx(context.Background(), s.pool, func(tx pgx.Tx) error {
		sup := caseflow.Actor{ID: "officer:supervisor", District: "siming", Role: caseflow.RoleSupervisor}
		_, err := caseflow.Reassign(context.Background(), tx, movedID, sup, "siming-eco", "sewage works, not urban management")
		return err
	}); err != nil {
		t.Fatalf("reassign %s: %v", movedID, err)
	}
	step("see the reassigned case leave",
		wait(`document.querySelector("#toast").textContent.includes("转派") && !document.querySelector("#toast").hidden`),
		chromedp.WaitNotPresent(chromedp.CSS(`#list a.card[data-case="`+movedID+`"]`)),
	)
	if !eval(`window.__sameDocument === true`) {
		t.Error("the page reloaded: the reassignment did not arrive live")
	}

	// An urgent complaint joins the fourth case, due in five hours: its
	// sign-for deadline comes forward to the complaint's, live.
	soonerID, _ := s.feed(t, 4, "normal", time.Now().Add(5*time.Hour))
	sooner := `#list a.card[data-case="` + soonerID + `"] .due`
	step("see the fourth case arrive", chromedp.WaitVisible(chromedp.CSS(sooner)))
	s.mergeUrgent(t, soonerID, 5, time.Now().Add(30*time.Minute))
	step("see its deadline come sooner",
		wait(`document.querySelector("#toast").textContent.includes("时限提前") && !document.querySelector("#toast").hidden`),
		wait(`/签收剩余 00:[0-3]\d:\d\d/.test(document.querySelector('`+sooner+`').textContent)`),
	)
	if !eval(`window.__sameDocument === true`) {
		t.Error("the page reloaded: the earlier deadline did not arrive live")
	}

	before := text(card + " .due")
	step("let the countdown tick", wait(`document.querySelector('`+card+` .due').textContent !== `+jsString(before)))
	shot(t, ctx, dir, "console-list-375x667.png")

	// Open the case: its complaint with a masked caller, the map.
	step("open the case",
		tapLive(card),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		wait(`document.querySelectorAll("#map path.outline").length > 0 && document.querySelectorAll("#map circle").length > 0`),
	)
	if c := text("#complaints"); !strings.Contains(c, maskedPhone) || !strings.Contains(c, ticket) || strings.Contains(c, callerPhone) {
		t.Errorf("complaints show %q: want ticket %s, caller %s and never the full number", c, ticket, maskedPhone)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, callerPhone) {
		t.Error("the full phone number is in the page before any call-back was asked for")
	}
	if !eval(`(() => { const b = document.querySelector("#map circle").getBBox(); const v = document.querySelector("#map").viewBox.baseVal;
		return b.x >= 0 && b.y >= 0 && b.x <= v.width && b.y <= v.height; })()`) {
		t.Error("the complaint point lies outside the map")
	}
	s.api(t, doc, "GET /api/v1/cases/{id}", "/api/v1/cases/"+caseID)
	s.api(t, doc, "GET /api/v1/assignments", "/api/v1/assignments")
	s.api(t, doc, "GET /api/v1/me", "/api/v1/me")

	// Call the citizen back: the number is revealed on demand only.
	step("reveal the caller",
		tapLive(`#complaints button[data-complaint]`),
		wait(`!!document.querySelector('#complaints a.phone[href="tel:`+callerPhone+`"]')`),
	)

	// Sign for it, then resolve it.
	step("accept",
		chromedp.Click(chromedp.CSS("#btn-accept")),
		chromedp.WaitVisible(chromedp.CSS("#btn-resolve")),
		wait(`document.querySelector("#case-due .due").textContent.startsWith("办结剩余")`),
	)
	step("resolve",
		chromedp.Click(chromedp.CSS("#btn-resolve")),
		chromedp.WaitVisible(chromedp.CSS("#resolve-form")),
		chromedp.SetValue(chromedp.CSS("#outcome"), "penalized"),
		chromedp.SendKeys(chromedp.CSS("#resolve-note"), "现场责令停止夜间施工，已立案处罚"),
		chromedp.Click(chromedp.CSS("#resolve-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#case-head .state.resolved")),
		chromedp.WaitNotVisible(chromedp.CSS("#btn-resolve")),
	)
	if h := text("#case-head"); !strings.Contains(h, "已办结") || !strings.Contains(h, "已处罚") {
		t.Errorf("case head %q does not show 已办结 and 已处罚", h)
	}
	if a := text("#audit"); !strings.Contains(a, "签收") || !strings.Contains(a, "办结") || !strings.Contains(a, "查看来电号码") {
		t.Errorf("audit %q lacks the sign-for, the reveal or the resolution", a)
	}
	// The reasons the services record for the log are shown in the
	// console's words.
	if a := text("#audit"); strings.Contains(a, "rule ") || strings.Contains(a, "complaint") || strings.Contains(a, "noise-construction") ||
		strings.Contains(a, "penalized") || !strings.Contains(a, "已处罚：现场责令停止夜间施工") {
		t.Errorf("audit %q shows the services' reasons as written for the log", a)
	}
	shot(t, ctx, dir, "console-case-375x667.png")

	// The hotline hears of it, signed.
	testenv.Eventually(t, 30*time.Second, "the hotline callback of the resolution", func() bool { return s.hotline.told(ticket, "resolved") })
	if cb := s.hotline.callback(ticket, "resolved"); cb["case_id"] != caseID || cb["team"] != team || cb["note"] != "已处罚：现场责令停止夜间施工，已立案处罚" {
		t.Errorf("callback %v: want case %s, team %s, the note 已处罚：现场责令停止夜间施工，已立案处罚", cb, caseID, team)
	}
	if !s.hotline.told(ticket, "assigned") {
		t.Error("the hotline was not told of the assignment")
	}
	if len(s.hotline.bad) > 0 {
		t.Errorf("callbacks with bad signatures: %v", s.hotline.bad)
	}
	var status, outcome, actor string
	if err := s.pool.QueryRow(context.Background(), `SELECT c.status, c.outcome, a.actor FROM cases c
		JOIN case_audit a ON a.case_id = c.id AND a.action = 'resolve' WHERE c.id = $1`, caseID).Scan(&status, &outcome, &actor); err != nil {
		t.Fatal(err)
	}
	if status != "resolved" || outcome != "penalized" || !strings.HasPrefix(actor, "officer:") {
		t.Errorf("stored case: status %s, outcome %s, resolved by %s", status, outcome, actor)
	}

	// The router closes it out (办结销号) when no complaint came within the
	// reopen window: the record says why in the console's words, pushed
	// to the case on screen.
	if err := pgx.BeginFunc(context.Background(), s.pool, func(tx pgx.Tx) error {
		closed, err := caseflow.CloseResolved(context.Background(), tx, caseflow.Service("router"), time.Now().Add(time.Hour), 10,
			"no complaint within 30 days of the resolution")
		if err == nil && len(closed) != 1 {
			err = fmt.Errorf("closed %d cases, want the one resolved", len(closed))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	step("the case closed out",
		wait(`document.querySelector("#audit").textContent.includes("销号")`),
	)
	if a := text("#audit"); strings.Contains(a, "no complaint") || !strings.Contains(a, "办结后30日内该地点无新投诉") {
		t.Errorf("audit %q shows the closing out as written for the log", a)
	}

	// Back on the list the resolved case has left the inbox. The overdue
	// one is not the team's: it goes back (退单) with a reason.
	lateCard := `#list a.card[data-case="` + lateID + `"]`
	step("return the other case",
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS(lateCard)),
		chromedp.WaitNotPresent(chromedp.CSS(card)),
		tapLive(lateCard),
		chromedp.WaitVisible(chromedp.CSS("#btn-return")),
	)
	if !eval(`document.querySelector("#btn-extend").hidden`) {
		t.Error("an officer is offered 延期, which only a supervisor may grant")
	}
	if !eval(`document.querySelector('.tab[data-status="waiting"]').hidden`) {
		t.Error("an officer is shown 待派单, the supervisors' list of cases no team holds")
	}
	step("return it",
		chromedp.Click(chromedp.CSS("#btn-return")),
		chromedp.WaitVisible(chromedp.CSS("#return-form")),
		chromedp.SendKeys(chromedp.CSS("#return-reason"), "施工噪声夜间作业许可属生态环境部门职责"),
		chromedp.Click(chromedp.CSS("#return-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		chromedp.WaitNotPresent(chromedp.CSS(lateCard)),
	)
	var lateStatus string
	if err := s.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, lateID).Scan(&lateStatus); err != nil {
		t.Fatal(err)
	}
	if lateStatus != "returned" {
		t.Errorf("returned case is %s", lateStatus)
	}

	// The same page on a desktop screen, then signing out forgets the
	// token.
	step("desktop", chromedp.EmulateViewport(1280, 800), chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#case-head .state.closed")))
	desk, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-case-desktop.png"), desk, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot kept at %s", filepath.Join(dir, "console-case-desktop.png"))
	step("sign out",
		chromedp.Evaluate[chromedp.Void](acceptConfirm),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#view-login")),
	)
	if !eval(`localStorage.getItem("nuisance.officer.token") === null`) {
		t.Error("signing out left the token in localStorage")
	}
	if eval(`document.querySelector("#view-case").innerHTML.includes(` + jsString(callerPhone) + `)`) {
		t.Error("signing out left the revealed caller's number in the page")
	}

	// The district's supervisor grants a case more time (延期): a date and
	// a reason, and the case's deadline and record show it.
	_, supToken, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	extendID, _ := s.feed(t, 6, "normal", time.Now().Add(4*time.Hour))
	// An extension ends on a working day: the first from ten days on.
	cal, err := workday.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := time.Now().In(shanghai).AddDate(0, 0, 10)
	for !cal.IsWorkingDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	newDay := d.Format("2006-01-02")
	step("sign in as the supervisor and extend a case",
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), supToken),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		wait(`document.querySelector("#who").textContent.includes("郑明")`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+extendID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-extend")),
		chromedp.Click(chromedp.CSS("#btn-extend")),
		chromedp.WaitVisible(chromedp.CSS("#extend-form")),
	)
	// The date picker offers the days the server grants: from the day of
	// the current deadline (its end is later) to 30 days after it.
	var current time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT resolve_due FROM cases WHERE id = $1`, extendID).Scan(&current); err != nil {
		t.Fatal(err)
	}
	wantMin := current.In(shanghai).Format("2006-01-02")
	wantMax := current.Add(30*24*time.Hour - (23*time.Hour + 59*time.Minute + 59*time.Second)).In(shanghai).Format("2006-01-02")
	bounds, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector("#extend-date").min, document.querySelector("#extend-date").max]`))
	if err != nil || len(bounds) != 2 {
		t.Fatalf("the 延期 date's bounds: %v %v", bounds, err)
	}
	if lo, hi := bounds[0], bounds[1]; lo != wantMin || hi != wantMax {
		t.Errorf("延期 offers %s to %s for a deadline of %s, want %s to %s", lo, hi, current.In(shanghai), wantMin, wantMax)
	}
	step("extend it",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#extend-date").value = `+jsString(newDay)),
		chromedp.SendKeys(chromedp.CSS("#extend-reason"), "工地分阶段整改，已责令夜间停工"),
		chromedp.Click(chromedp.CSS("#extend-form button[type=submit]")),
		wait(`document.querySelector("#audit").textContent.includes("延期")`),
		wait(`document.querySelector("#extend-form").hidden`),
	)
	var due time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT resolve_due FROM cases WHERE id = $1`, extendID).Scan(&due); err != nil {
		t.Fatal(err)
	}
	if want, _ := time.ParseInLocation("2006-01-02 15:04:05", newDay+" 23:59:59", shanghai); !due.Equal(want) {
		t.Errorf("extended case due %s, want %s", due, want)
	}
	if audit := text("#audit"); !strings.Contains(audit, "工地分阶段整改") {
		t.Errorf("the case's record %q lacks the extension's reason", audit)
	}
	// The record says by how much: the new deadline and the one it replaced.
	newShown, oldShown := due.In(shanghai), current.In(shanghai)
	if audit := text("#audit"); !strings.Contains(audit, fmt.Sprintf("至 %d月%d日 23:59", newShown.Month(), newShown.Day())) ||
		!strings.Contains(audit, fmt.Sprintf("原 %d月%d日 %02d:%02d", oldShown.Month(), oldShown.Day(), oldShown.Hour(), oldShown.Minute())) {
		t.Errorf("the case's record %q does not show the deadline moved from %s to %s", audit, oldShown, newShown)
	}
	// The case the officer returned waits for a team: the supervisor finds
	// it under 待派单, which an officer is not shown.
	step("see the returned case waiting for a team",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		chromedp.Click(chromedp.CSS(`.tab[data-status="waiting"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+lateID+`"]`)),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+extendID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-reassign")),
	)
	// And moves it to another team of the district (改派).
	step("reassign the case",
		chromedp.WaitVisible(chromedp.CSS("#btn-reassign")),
		chromedp.Click(chromedp.CSS("#btn-reassign")),
		chromedp.WaitVisible(chromedp.CSS("#reassign-form")),
		wait(`document.querySelector("#reassign-team option[value='siming-eco']") !== null`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#reassign-team").value = "siming-eco"`),
		chromedp.SendKeys(chromedp.CSS("#reassign-reason"), "夜间施工噪声属生态环境部门职责"),
		chromedp.Click(chromedp.CSS("#reassign-form button[type=submit]")),
		wait(`document.querySelector("#audit").textContent.includes("改派")`),
	)
	if eval(`document.querySelector("#reassign-team option[value='` + team + `']") !== null`) {
		t.Error("the 改派 form offered the team that holds the case")
	}
	var newTeam string
	if err := s.pool.QueryRow(context.Background(), `SELECT team FROM assignments WHERE case_id = $1 AND status = 'active'`, extendID).Scan(&newTeam); err != nil || newTeam != "siming-eco" {
		t.Errorf("after 改派 the active assignment is with %q (%v), want siming-eco", newTeam, err)
	}

	// An overdue case is escalated (督办), not extended: 延期 is not
	// offered on it, though 改派 still is.
	overdueID, _ := s.feed(t, 8, "normal", time.Now().Add(-100*time.Hour))
	step("open an overdue case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+overdueID+`"`),
		wait(`document.querySelector("#case-due .due.overdue") !== null`),
		chromedp.WaitVisible(chromedp.CSS("#btn-reassign")),
	)
	if !eval(`document.querySelector("#btn-extend").hidden`) {
		t.Error("延期 is offered on an overdue case")
	}
	// The router escalates it (督办); the case's record says which
	// deadline passed, and when.
	if err := pgstore.InTx(context.Background(), s.pool, func(tx pgx.Tx) error {
		_, err := caseflow.EscalateDue(context.Background(), tx, caseflow.Service("router"), time.Now(), 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var signDue time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT sign_due FROM cases WHERE id = $1`, overdueID).Scan(&signDue); err != nil {
		t.Fatal(err)
	}
	sd := signDue.In(shanghai)
	step("see the escalation in the case's record",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/list"`),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+overdueID+`"`),
		wait(`document.querySelector("#audit").textContent.includes("督办")`),
	)
	if audit, want := text("#audit"), fmt.Sprintf("督办（签收时限 %d月%d日 %02d:%02d 已过）", sd.Month(), sd.Day(), sd.Hour(), sd.Minute()); !strings.Contains(audit, want) ||
		strings.Contains(audit, "deadline") {
		t.Errorf("the case's record %q does not say %q, in Chinese only", audit, want)
	}

	// The district's repeat-complaint places, on the 热点 tab.
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO hotspots (id, category, subcategory, district, subdistrict, status,
			complaint_count, first_at, last_at, lon, lat, place)
		VALUES ('hs_console', 'noise', 'construction', 'siming', '莲前街道', 'escalated', 7, now() - interval '3 days', now() - interval '1 hour',
			118.0894, 24.4798, '莲前西路2号工地')`); err != nil {
		t.Fatal(err)
	}
	hsCard := `#list .card[data-hotspot="hs_console"]`
	step("see the district's hotspots",
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		chromedp.Click(chromedp.CSS(`.tab[data-status="hotspots"]`)),
		chromedp.WaitVisible(chromedp.CSS(hsCard)),
	)
	if got := text(hsCard); !strings.Contains(got, "莲前西路2号工地") || !strings.Contains(got, "7 件投诉") || !strings.Contains(got, "升级") {
		t.Errorf("hotspot card %q, want its place, 7 complaints and 升级", got)
	}
	// A complaint the pipeline could not classify waits on the 分拣 tab;
	// the supervisor says what it is about, and it goes back into the
	// pipeline.
	triaged := "cmp_console_triage"
	if err := pgstore.InTx(context.Background(), s.pool, func(tx pgx.Tx) error {
		ctx := context.Background()
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone)
			VALUES ($1, 'XM12345-2024-000099', now() - interval '1 hour', '路边一直有很大的异味和灰，回电'||$2, '思明区莲前街道某路口', '陈美玲', $2)`,
			triaged, callerPhone); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, received_at)
			VALUES ($1, true, 'siming', '思明区', now() - interval '1 hour')`, triaged); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind, created_at) VALUES ($1, 'no category', 'unclassified', now())`, triaged)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	triageCard := `#list .card[data-complaint="` + triaged + `"]`
	step("correct a complaint in triage",
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(triageCard)),
		chromedp.Click(chromedp.CSS(triageCard+" .bottom button")),
		chromedp.WaitVisible(chromedp.CSS(triageCard+" form")),
		chromedp.Evaluate[chromedp.Void](`(function () {
			var f = document.querySelector('`+triageCard+` form');
			var sel = f.querySelectorAll("select");
			sel[1].value = "dust";
			sel[1].dispatchEvent(new Event("change"));
			sel[2].value = "road";
		})()`),
	)
	// A new assignment in the district arrives live while the correction
	// is being made: the list is not redrawn under the supervisor's hands.
	s.feed(t, 7, "normal", time.Now().Add(6*time.Hour))
	step("keep the correction through a live push",
		wait(`document.querySelector("#toast").textContent.includes("新任务")`),
		chromedp.Sleep(500*time.Millisecond),
	)
	if !eval(`(function () {
		var f = document.querySelector('` + triageCard + ` form');
		return !!f && !f.hidden && f.querySelectorAll("select")[2].value === "road";
	})()`) {
		t.Error("a live push redrew the triage list and lost the correction being made")
	}
	// The same event again (the sweeper republishes what a stage was slow
	// to handle; an operator may send a dead letter again) is not a new
	// assignment: no second 新任务.
	var assignedEvent string
	if err := s.pool.QueryRow(context.Background(), `SELECT event_id FROM outbox WHERE subject LIKE 'case.assigned.%' AND payload->>'case_id' = $1`,
		caseflow.IDFor("cmp_console_7")).Scan(&assignedEvent); err != nil {
		t.Fatal(err)
	}
	step("hide the toast", chromedp.Evaluate[chromedp.Void](`document.querySelector("#toast").hidden = true; document.querySelector("#toast").textContent = ""`))
	if n, err := outbox.Republish(context.Background(), s.pool, s.js, []string{assignedEvent}); err != nil || n != 1 {
		t.Fatalf("republish the assignment: %d %v", n, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if eval(`document.querySelector("#toast").textContent.includes("新任务")`) {
		t.Error("an assignment's event received twice announced 新任务 twice")
	}
	// The live stream is cut and refused for a while (the server
	// restarting): an assignment made meanwhile is announced once the
	// console's stream is back, from where it stopped.
	errMu.Lock()
	beforeOutage := len(pageErrs)
	errMu.Unlock()
	s.streamDown.Store(true)
	s.srv.CloseClientConnections()
	// The browser's own reconnection is refused, which closes the
	// EventSource: the console opens a new one later.
	testenv.Eventually(t, 15*time.Second, "the stream refused", func() bool { return s.streamRefused.Load() > 0 })
	s.feed(t, 9, "normal", time.Now().Add(6*time.Hour))
	time.Sleep(300 * time.Millisecond)
	s.streamDown.Store(false)
	step("announce the assignment made while the stream was down",
		wait(`document.querySelector("#live").textContent === "实时"`),
		wait(`document.querySelector("#toast").textContent.includes("新任务")`),
	)
	// The browser reports the cut stream and the refusals; nothing else
	// the page logged meanwhile is forgiven.
	errMu.Lock()
	kept := pageErrs[:beforeOutage]
	for _, e := range pageErrs[beforeOutage:] {
		if !strings.Contains(e, "Failed to load resource") {
			kept = append(kept, e)
		}
	}
	pageErrs = kept
	errMu.Unlock()
	step("send the correction",
		chromedp.Click(chromedp.CSS(triageCard+" form button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS(triageCard)),
	)
	if strings.Contains(text("#list"), callerPhone) {
		t.Error("the triage list shows the caller's phone number")
	}
	var district, category, subcategory string
	if err := s.pool.QueryRow(context.Background(), `SELECT district, category, subcategory FROM triage_corrections WHERE complaint_id = $1`,
		triaged).Scan(&district, &category, &subcategory); err != nil {
		t.Fatalf("the correction: %v", err)
	}
	if district != "siming" || category != "dust" || subcategory != "road" {
		t.Errorf("correction %s/%s/%s, want siming/dust/road", district, category, subcategory)
	}
	step("sign the supervisor out",
		chromedp.Evaluate[chromedp.Void](acceptConfirm),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#view-login")),
	)
	stopConsole()
	errMu.Lock()
	defer errMu.Unlock()
	for _, e := range pageErrs {
		t.Errorf("the page logged: %s", e)
	}
}

// shot saves a PNG of the viewport and checks it is a phone-sized page
// with something drawn on it.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 750 || h != 1334 {
		t.Errorf("screenshot %s is %dx%d, want a 375x667 phone at scale 2", name, w, h)
	}
	t.Logf("screenshot kept at %s", path)
}

// tapLive clicks the element sel selects in a part of the page that is
// redrawn when news arrives (the list, a case's complaints). A redraw
// between finding the element and clicking it removes the node the click
// was aimed at; a finger would land on its replacement, so the tap is
// aimed again at the element sel now selects.
func tapLive(sel string) chromedp.Action[chromedp.Void] {
	click := chromedp.Click(chromedp.CSS(sel))
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			_, err := click(ctx, tg)
			if err == nil || !isDetached(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("tap %s: %w (last: %v)", sel, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// isDetached reports whether err says the node a command was aimed at
// left the document.
func isDetached(err error) bool {
	msg := err.Error()
	for _, s := range []string{"Could not find node with given id", "No node with given id", "Node is detached"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// shanghai is Xiamen's time, in which the console counts days.
var shanghai = time.FixedZone("CST", 8*3600)

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
