package console

// The console on a phone in the street: requests its network swallows
// without an answer, the live stream lost for a while, news pushed while
// the officer pages through the list, a phone set to another time zone.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/officers"
)

// swallowed holds requests the network swallows: no answer and no error
// until the phone gives up on them (it closes the connection) or the
// test ends. Its cleanup is registered after setup's, so it runs before
// the server waits for its requests to end.
func swallowed(t *testing.T) func(r *http.Request) {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
}

// cardCount is the number of cases listed and of distinct ones, as "n/m".
const cardCount = `String(document.querySelectorAll("#list a.card").length) + "/" +
	String(new Set([...document.querySelectorAll("#list a.card")].map(a => a.dataset.case)).size)`

// A case opened on a network that swallows the request: the browser would
// wait minutes with 加载中… on the page. The console gives up, says the
// network did not answer, and offers to try again.
func TestCaseReadThatGetsNoAnswerGivesUp(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	swallow := swallowed(t)
	var stalled atomic.Bool
	stalled.Store(true)
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if stalled.Load() && r.Method == http.MethodGet && r.URL.Path == "/api/v1/cases/"+caseID {
			swallow(r)
			return true
		}
		return false
	})
	p.step("open the case on a network that swallows the request",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#view-case")),
	)
	if err := p.waitFor(`document.querySelector("#case-head").textContent.includes("网络无应答") && document.querySelector("#case-retry") !== null`, 40*time.Second); err != nil {
		t.Fatalf("40 s after opening a case whose request got no answer the page shows %q, and no 重试: it waits for the browser to give up",
			p.str(`document.querySelector("#case-head").textContent`))
	}
	stalled.Store(false)
	p.step("try again once the network is back",
		chromedp.Click(chromedp.CSS("#case-retry")),
		p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(caseID)+`)`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
	)
}

// An officer signs for a case; the server records it, but its answer
// never comes (the network swallowed it, with no error either). The
// console gives up on it, says the network did not answer, gives the
// buttons back and reads the case again, as for an answer lost with an
// error: the page shows the case as it is, 处理中 with 办结 offered.
func TestActionThatGetsNoAnswerGivesUpAndReadsTheCaseAgain(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
	)
	// No live push comes to put the page right: the stream is gone too.
	s.streamDown.Store(true)
	s.srv.CloseClientConnections()
	p.step("lose the live stream", p.wait(`document.querySelector("#live").textContent === "离线"`))
	swallow := swallowed(t)
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/accept") {
			s.mux.ServeHTTP(httptest.NewRecorder(), r)
			swallow(r)
			return true
		}
		return false
	})
	p.step("sign for it", chromedp.Click(chromedp.CSS("#btn-accept")))
	testenv.Eventually(t, 20*time.Second, "the server records the 签收", func() bool {
		var status string
		err := s.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, caseID).Scan(&status)
		return err == nil && status == "accepted"
	})
	if err := p.waitFor(`document.querySelector("#toast").textContent.includes("网络无应答")`, 40*time.Second); err != nil {
		t.Errorf("40 s after a 签收 that got no answer the console has not said the network did not answer (buttons disabled: %v)",
			p.eval(`[...document.querySelectorAll("#actions button")].every(b => b.disabled)`))
	}
	if err := p.waitFor(`document.querySelector("#case-head .state.accepted") !== null && document.querySelector("#btn-accept").hidden &&
		!document.querySelector("#btn-resolve").hidden && !document.querySelector("#btn-resolve").disabled`, 20*time.Second); err != nil {
		t.Errorf("after a 签收 that got no answer the page shows %q (签收 hidden %v, 办结 shown %v, enabled %v), not the case as the server holds it",
			p.str(`document.querySelector("#case-head .top").textContent`), p.eval(`document.querySelector("#btn-accept").hidden`),
			p.eval(`!document.querySelector("#btn-resolve").hidden`), p.eval(`!document.querySelector("#btn-resolve").disabled`))
	}
}

// The phone loses its network with a case open, before any live push
// came (so there is no event to resume the stream after); meanwhile
// another officer of the team signs for the case. When the stream is
// back the case on screen shows it. Then, the list open, the network is
// lost again, the browser reconnecting by itself this time, and a case
// is assigned meanwhile: the list shows it once the stream is back.
func TestStreamBackReadsTheScreenAgain(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
	)
	// The server refuses the stream while the phone is away: the console
	// opens a new one later.
	s.streamDown.Store(true)
	s.srv.CloseClientConnections()
	p.step("lose the network with the case open", p.wait(`document.querySelector("#live").textContent === "离线"`))
	testenv.Eventually(t, 20*time.Second, "the stream refused", func() bool { return s.streamRefused.Load() > 0 })
	if err := pgstore.InTx(context.Background(), s.pool, func(tx pgx.Tx) error {
		colleague := caseflow.Actor{ID: "officer:colleague", Team: team, District: "siming", Role: caseflow.RoleOfficer}
		_, err := caseflow.Accept(context.Background(), tx, caseID, colleague)
		return err
	}); err != nil {
		t.Fatalf("a colleague signs for %s: %v", caseID, err)
	}
	s.streamDown.Store(false)
	p.step("the stream is back", p.wait(`document.querySelector("#live").textContent === "实时"`))
	if err := p.waitFor(`document.querySelector("#case-head .state.accepted") !== null && document.querySelector("#btn-accept").hidden`, 20*time.Second); err != nil {
		t.Errorf("20 s after the stream came back the case page still shows %q with 签收 offered: a colleague signed for it meanwhile",
			p.str(`document.querySelector("#case-head .top").textContent`))
	}
	p.step("back to the list",
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+caseID+`"]`)),
	)
	// The browser's own reconnection is held until the case is assigned,
	// the phone still out of reach.
	back := make(chan struct{})
	var reopen sync.Once
	reachable := func() { reopen.Do(func() { close(back) }) }
	t.Cleanup(reachable)
	var held atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/stream" {
			held.Add(1)
			select {
			case <-back:
			case <-r.Context().Done():
			}
		}
		return false
	})
	s.srv.CloseClientConnections()
	p.step("lose the network with the list open", p.wait(`document.querySelector("#live").textContent === "离线"`))
	testenv.Eventually(t, 20*time.Second, "the browser reconnecting", func() bool { return held.Load() > 0 })
	newID, _ := s.feed(t, 2, "normal", time.Now().Add(5*time.Hour))
	reachable()
	p.step("the stream is back by itself", p.wait(`document.querySelector("#live").textContent === "实时"`))
	if err := p.waitFor(`document.querySelector('#list a.card[data-case="`+newID+`"]') !== null`, 20*time.Second); err != nil {
		t.Errorf("20 s after the stream came back the list (%s cards) lacks the case assigned meanwhile", p.str(cardCount))
	}
}

// The officer loaded a second page with 加载更多; a case assigned then,
// pushed live, must not take the second page away, nor the list shown
// again after a case.
func TestLivePushKeepsThePagesLoaded(t *testing.T) {
	s := setup(t)
	for n := 1; n <= 51; n++ {
		s.feed(t, n, "normal", time.Now().Add(time.Duration(n)*time.Hour))
	}
	p := openPhone(t, s, 375, s.token)
	p.step("load both pages",
		p.wait(`document.querySelectorAll("#list a.card").length === 50`),
		chromedp.WaitVisible(chromedp.CSS("#more")),
		chromedp.Click(chromedp.CSS("#more")),
		p.wait(`document.querySelectorAll("#list a.card").length === 51`),
	)
	newID, _ := s.feed(t, 52, "urgent", time.Now().Add(time.Hour))
	p.step("see the new case arrive",
		p.wait(`document.querySelector("#toast").textContent.includes("新任务")`),
		chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+newID+`"]`)),
	)
	if err := p.waitFor(cardCount+` === "52/52"`, 10*time.Second); err != nil {
		t.Errorf("after a live push the list has %s cards/distinct cases, want 52/52: the page loaded with 加载更多 was dropped", p.str(cardCount))
	}
	// Nor does opening a case of the second page, and coming back.
	oldest := `#list a.card[data-case="` + caseflow.IDFor("cmp_console_1") + `"]`
	p.step("open a case of the second page and come back",
		tapLive(oldest),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS(oldest)),
	)
	if got := p.str(cardCount); got != "52/52" {
		t.Errorf("back from a case the list has %s cards/distinct cases, want 52/52", got)
	}
}

// A phone set to another time zone (Los Angeles: 15 or 16 hours behind)
// shows every time as Xiamen keeps it, as the bureau and the hotline do.
func TestTimesInShanghaiOnAPhoneSetElsewhere(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhoneIn(t, s, 375, s.token, "America/Los_Angeles")
	if tz := p.str(`Intl.DateTimeFormat().resolvedOptions().timeZone`); tz != "America/Los_Angeles" {
		t.Fatalf("the phone keeps %s, not the zone it was set to: the test proves nothing", tz)
	}
	shown := func(at time.Time) string {
		at = at.In(shanghai)
		return fmt.Sprintf("%d月%d日 %02d:%02d", at.Month(), at.Day(), at.Hour(), at.Minute())
	}
	var assigned, received, opened time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT a.assigned_at, m.received_at, o.at FROM cases c
		JOIN assignments a ON a.case_id = c.id AND a.status = 'active' JOIN complaints m ON m.id = 'cmp_console_1'
		JOIN case_audit o ON o.case_id = c.id AND o.action = 'open'
		WHERE c.id = $1`, caseID).Scan(&assigned, &received, &opened); err != nil {
		t.Fatal(err)
	}
	card := `#list a.card[data-case="` + caseID + `"]`
	p.step("see the case", chromedp.WaitVisible(chromedp.CSS(card)))
	if got := p.str(`document.querySelector('` + card + `').textContent`); !strings.Contains(got, shown(assigned)) {
		t.Errorf("the card %q does not show its assignment at %s, Xiamen's time", got, shown(assigned))
	}
	p.step("open it", tapLive(card), p.wait(`document.querySelectorAll("#audit li").length > 0`))
	if got := p.str(`document.querySelector("#complaints").textContent`); !strings.Contains(got, shown(received)) {
		t.Errorf("the complaint %q does not show its time %s, Xiamen's", got, shown(received))
	}
	if got := p.str(`document.querySelector("#audit").textContent`); !strings.Contains(got, shown(opened)+" 立案") {
		t.Errorf("the case's record %q does not say 立案 at %s, Xiamen's time", got, shown(opened))
	}
}

// blackHole is a response the network swallows: while silent is set,
// what the server writes never reaches the phone, and nothing tells
// either side (no error, no close).
type blackHole struct {
	http.ResponseWriter
	silent *atomic.Bool
}

func (b *blackHole) Write(p []byte) (int, error) {
	if b.silent.Load() {
		return len(p), nil
	}
	return b.ResponseWriter.Write(p)
}

func (b *blackHole) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// The phone's network swallows the live stream without closing it (a
// black hole: no event, no heartbeat, no error). The console must not
// show 实时 for ever: once nothing has come for three heartbeats it says
// 离线 and opens the stream again, and once the network is back a case
// assigned meanwhile is listed. The stream opened again opens (its
// headers pass) and then carries nothing; the case is assigned after it
// opened and the network comes back before it is given up: the case is
// listed at the first heartbeat that passes, not only when a stream
// opens. The heartbeat is 2 s here (given up after 6 s), 15 s in
// service.
func TestSilentStreamIsNotLive(t *testing.T) {
	s := setup(t, func(c *officers.Config) { c.Heartbeat = 2 * time.Second })
	var silent atomic.Bool
	var opened atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v1/stream" {
			return false
		}
		opened.Add(1)
		s.mux.ServeHTTP(&blackHole{ResponseWriter: w, silent: &silent}, r)
		return true
	})
	p := openPhone(t, s, 375, s.token)
	first := opened.Load()
	silent.Store(true)
	if err := p.waitFor(`document.querySelector("#live").textContent === "离线"`, 20*time.Second); err != nil {
		t.Fatalf("20 s after the network swallowed the stream (heartbeats every 300 ms) the console still shows %q",
			p.str(`document.querySelector("#live").textContent`))
	}
	testenv.Eventually(t, 20*time.Second, "the console opening the stream again", func() bool { return opened.Load() > first })
	reopened := time.Now()
	newID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	if err := p.waitFor(`document.querySelector("#live").textContent === "实时"`, 2*time.Second); err == nil {
		t.Error("a stream opened again through the black hole, with not a heartbeat through, shows 实时")
	}
	if opened.Load() != first+1 {
		t.Logf("the stream was opened again %d times before the network came back (%v after the first): the case may be listed as one opened, not at a heartbeat",
			opened.Load()-first, time.Since(reopened).Round(time.Millisecond))
	}
	silent.Store(false)
	p.step("the network is back", p.wait(`document.querySelector("#live").textContent === "实时"`))
	if err := p.waitFor(`document.querySelector('#list a.card[data-case="`+newID+`"]') !== null`, 20*time.Second); err != nil {
		t.Errorf("20 s after the stream came back the list (%s cards) lacks the case assigned while it was swallowed", p.str(cardCount))
	}
}
