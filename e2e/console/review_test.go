// What an enforcement officer found reviewing the console on a phone
// (390×844): a blank note that went through, a 回拨 offered to whom it
// always fails, a sign-out one tap away.
package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// acceptConfirm answers the page's next confirm() yes, keeping what it
// asked in window.__asked (Chromium's own dialog would stop the page).
const acceptConfirm = `window.__asked = ""; window.confirm = function (m) { window.__asked = String(m); return true; }`

// 办结 with only blanks in 处置说明: the browser's required takes spaces,
// and the note sent is trimmed to nothing. The form refuses it, saying
// so, and nothing is sent.
func TestBlankNoteIsRefused(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 390, s.token)
	p.step("open the case and sign for it",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		chromedp.Click(chromedp.CSS("#btn-accept")),
		chromedp.WaitVisible(chromedp.CSS("#btn-resolve")),
		p.wait(`!document.querySelector("#btn-resolve").disabled`),
	)
	p.step("resolve with a note of blanks",
		chromedp.Click(chromedp.CSS("#btn-resolve")),
		chromedp.WaitVisible(chromedp.CSS("#resolve-form")),
		chromedp.SendKeys(chromedp.CSS("#resolve-note"), "   "),
		chromedp.Click(chromedp.CSS("#resolve-form button[type=submit]")),
	)
	if err := p.waitFor(`[...document.querySelectorAll("#resolve-form .error")].some(e => !e.hidden && e.textContent.includes("请填写处置说明"))`, 5*time.Second); err != nil {
		t.Errorf("a note of blanks is not refused with 请填写处置说明 (form hidden %v, toast %q)",
			p.eval(`document.querySelector("#resolve-form").hidden`), p.str(`document.querySelector("#toast").textContent`))
	}
	time.Sleep(time.Second) // what a resolution sent would have done by now
	var status string
	if err := s.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, caseID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "accepted" {
		t.Errorf("after 办结 with a blank note the case is %s, want it still accepted", status)
	}
}

// A supervisor without the case's team is not offered 回拨 (the API
// reveals a caller's number to the assigned team only), as they are not
// offered 签收 or 办结; and 退出 asks first, saying the token is needed
// to sign in again.
func TestSupervisorOfAnotherTeamAndSignOut(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	_, supToken, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, supToken)
	p.step("open the team's case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-reassign")),
		p.wait(`document.querySelector("#complaints .caller") !== null`),
	)
	if p.eval(`document.querySelector("#complaints button[data-complaint]") !== null`) {
		t.Error("a supervisor of no team holding the case is offered 回拨, which the API refuses them")
	}
	if !p.eval(`document.querySelector("#btn-accept").hidden`) {
		t.Error("a supervisor of no team holding the case is offered 签收")
	}
	// 退出 asks; answered no, nothing happens.
	p.step("tap 退出 and answer no",
		chromedp.Evaluate[chromedp.Void](`window.__asked = ""; window.confirm = function (m) { window.__asked = String(m); return false; }`),
		chromedp.Click(chromedp.CSS("#signout")),
	)
	if asked := p.str(`window.__asked`); !strings.Contains(asked, "令牌") {
		t.Errorf("退出 asked %q: want a question saying the token is needed to sign in again", asked)
	}
	if !p.eval(`localStorage.getItem("nuisance.officer.token") !== null && document.querySelector("#view-login").hidden`) {
		t.Error("退出 answered no signed out all the same")
	}
	if p.eval(`document.querySelector("header.bar #signout") !== null`) {
		t.Error("退出 is in the bar next to 实时")
	}
	p.step("tap 退出 and answer yes",
		chromedp.Evaluate[chromedp.Void](acceptConfirm),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#view-login")),
	)
}

// recordToasts keeps every text the toast shows in window.__toasts.
const recordToasts = `window.__toasts = []; new MutationObserver(function () { window.__toasts.push(document.querySelector("#toast").textContent); })
	.observe(document.querySelector("#toast"), { childList: true, characterData: true, subtree: true })`

// An officer's own 退单 is announced as done (已退单): the push it
// causes (the router sends the case on, away from the team) is the
// officer's own doing, not news of a case taken away (案件已转派其他队伍).
func TestOwnReturnIsNotNews(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 390, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-return")),
		chromedp.Evaluate[chromedp.Void](recordToasts),
	)
	p.step("return it",
		chromedp.Click(chromedp.CSS("#btn-return")),
		chromedp.WaitVisible(chromedp.CSS("#return-form")),
		chromedp.SendKeys(chromedp.CSS("#return-reason"), "施工噪声夜间作业许可属生态环境部门职责"),
		chromedp.Click(chromedp.CSS("#return-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-list")),
		p.wait(`window.__toasts.some(t => t.includes("已退单"))`),
	)
	// The router sends the returned case to the next team at once, as it
	// does; the relay publishes it, and the stream pushes it.
	if err := pgstore.InTx(context.Background(), s.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reassign(context.Background(), tx, caseID, caseflow.Service("router"), "siming-eco", "rule noise.construction.returned")
		return err
	}); err != nil {
		t.Fatalf("route the returned case: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, "the return published", func() bool {
		var left int
		err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE payload->>'case_id' = $1 AND sent_at IS NULL`, caseID).Scan(&left)
		return err == nil && left == 0
	})
	time.Sleep(1500 * time.Millisecond) // as long as a push takes to be shown, with room
	if got := p.str(`window.__toasts.join(" | ")`); strings.Contains(got, "转派") {
		t.Errorf("after the officer's own 退单 the toasts read %q: the push of the return announced as news", got)
	}
}

// 督办 goes by the deadline the case runs to now: a case escalated for the
// team before, moved by 改派 (which gives the new team the time to sign
// for it), is not shown 督办 to the new team. A case waiting for 改派 (its
// team returned it) names no 承办单位: no team holds it.
func TestOverdueAndTeamGoByTheCaseAsItIs(t *testing.T) {
	s := setup(t)
	movedID, _ := s.feed(t, 1, "normal", time.Now().Add(-100*time.Hour))
	returnedID, _ := s.feed(t, 2, "normal", time.Now().Add(3*time.Hour))
	ctx := context.Background()
	sup := caseflow.Actor{ID: "officer:supervisor", District: "siming", Role: caseflow.RoleSupervisor}
	if err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.EscalateDue(ctx, tx, caseflow.Service("router"), time.Now(), 100); err != nil {
			return err
		}
		if _, err := caseflow.Reassign(ctx, tx, movedID, sup, "siming-eco", "夜间施工噪声属生态环境部门职责"); err != nil {
			return err
		}
		_, err := caseflow.Return(ctx, tx, returnedID, caseflow.Actor{ID: "officer:o1", Team: team, District: "siming", Role: caseflow.RoleOfficer}, "不属于本单位职责")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var escalated bool
	if err := s.pool.QueryRow(ctx, `SELECT escalated FROM cases WHERE id = $1`, movedID).Scan(&escalated); err != nil || !escalated {
		t.Fatalf("the case moved is not escalated (%v): the test proves nothing", err)
	}
	_, supToken, err := auth.NewStore(s.pool, 0).Add(ctx, auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, supToken)
	card := `#list a.card[data-case="` + movedID + `"]`
	p.step("see the case moved", chromedp.WaitVisible(chromedp.CSS(card)))
	if got := p.str(`document.querySelector('` + card + `').textContent`); strings.Contains(got, "督办") {
		t.Errorf("the card of a case moved to a team with time to sign for it reads %q: 督办 for the team before", got)
	}
	p.step("open it", chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+movedID+`"`),
		p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(movedID)+`)`))
	if got := p.str(`document.querySelector("#case-head").textContent`); strings.Contains(got, "督办") {
		t.Errorf("the case moved reads %q: 督办 for the team before", got)
	}
	p.step("open the case returned", chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+returnedID+`"`),
		p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(returnedID)+`)`))
	if got := p.str(`document.querySelector("#case-head").textContent`); strings.Contains(got, "承办单位") {
		t.Errorf("the case returned, which no team holds, reads %q", got)
	}
}

// A case reopened (重新交办: the nuisance came back after the resolution)
// says so on its card and its page, and its last resolution reads as
// such (上次办结), not as the case's current 说明.
func TestReopenedCaseSaysSo(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(4*time.Hour))
	ctx := context.Background()
	if err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, caseID, caseflow.Service("test")); err != nil {
			return err
		}
		if _, err := caseflow.Resolve(ctx, tx, caseID, caseflow.Service("test"), caseflow.OutcomeRectified, "已责令工地夜间停工"); err != nil {
			return err
		}
		_, err := caseflow.Reopen(ctx, tx, caseID, caseflow.Service("router"), time.Now().Add(24*time.Hour), time.Now().Add(72*time.Hour), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 390, s.token)
	card := `#list a.card[data-case="` + caseID + `"]`
	p.step("see the case", chromedp.WaitVisible(chromedp.CSS(card)))
	if got := p.str(`document.querySelector('` + card + `').textContent`); !strings.Contains(got, "重新交办") {
		t.Errorf("the card of a reopened case reads %q: no 重新交办", got)
	}
	p.step("open it", chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		p.wait(`document.querySelector("#case-head").textContent.includes(`+jsString(caseID)+`)`))
	head := p.str(`document.querySelector("#case-head").textContent`)
	if !strings.Contains(head, "重新交办") {
		t.Errorf("the reopened case reads %q: no 重新交办", head)
	}
	if strings.Contains(head, "说明：已责令") || strings.Contains(head, "处置结果：") {
		t.Errorf("the reopened case reads %q: its last resolution as the current one", head)
	}
	if strings.Contains(head, "已责令工地夜间停工") && !strings.Contains(head, "上次办结") {
		t.Errorf("the reopened case reads %q: the last resolution not named 上次办结", head)
	}
}
