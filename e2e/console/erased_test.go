package console

// A caller whose personal data the retention job erased
// (NUISANCE_PII_RETENTION) is shown as erased, and when, not as nothing.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// eraseAndReopen resolves the case 40 days ago, lets the retention job
// erase its callers (NUISANCE_PII_RETENTION=30d) and reopens it for the
// team, as the router does when the nuisance comes back within 30 days.
// It returns when the callers were erased.
func (s *system) eraseAndReopen(t *testing.T, caseID string) time.Time {
	t.Helper()
	ctx := context.Background()
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, caseID, caseflow.Service("test")); err != nil {
			return err
		}
		if _, err := caseflow.Resolve(ctx, tx, caseID, caseflow.Service("test"), caseflow.OutcomeRectified, ""); err != nil {
			return err
		}
		// Resolved, and made, long ago.
		_, err := tx.Exec(ctx, `WITH k AS (UPDATE cases SET resolved_at = now() - interval '40 days' WHERE id = $1)
			UPDATE complaints SET created_at = now() - interval '45 days'
			WHERE id IN (SELECT complaint_id FROM case_complaints WHERE case_id = $1)`, caseID)
		return err
	})
	if err != nil {
		t.Fatalf("resolve %s long ago: %v", caseID, err)
	}
	job, err := retention.New(retention.Config{PII: 30 * 24 * time.Hour}, s.pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := job.RunOnce(ctx); err != nil || res.Erased == 0 {
		t.Fatalf("retention pass: %+v %v", res, err)
	}
	var at time.Time
	if err := s.pool.QueryRow(ctx, `SELECT max(m.pii_erased_at) FROM case_complaints cc JOIN complaints m ON m.id = cc.complaint_id
		WHERE cc.case_id = $1`, caseID).Scan(&at); err != nil {
		t.Fatal(err)
	}
	err = pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reopen(ctx, tx, caseID, caseflow.Service("router"), time.Now().Add(24*time.Hour), time.Now().Add(72*time.Hour), "test")
		return err
	})
	if err != nil {
		t.Fatalf("reopen %s: %v", caseID, err)
	}
	return at
}

// A case reopened after its caller was erased: the officer reads, where
// the masked number was, that the caller's data was deleted under the
// retention policy and on which day, with no 回拨 to tap; and a 回拨
// tapped on a page drawn before the erasure says the same, not
// 没有来电号码.
func TestErasedCallerShownAsErased(t *testing.T) {
	s := setup(t)
	erasedID, _ := s.feed(t, 1, "normal", time.Now().Add(4*time.Hour))
	at := s.eraseAndReopen(t, erasedID).In(shanghai)
	day := fmt.Sprintf("%d年%d月%d日", at.Year(), at.Month(), at.Day())
	p := openPhone(t, s, 375, s.token)
	p.step("open the reopened case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+erasedID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#btn-accept")),
		p.wait(`document.querySelector("#complaints li") !== null`),
	)
	if err := p.waitFor(`document.querySelector("#complaints").textContent.includes("已按保存期限删除")`, 5*time.Second); err != nil {
		t.Errorf("the erased caller's complaint reads %q: want 来电人信息已按保存期限删除 and the day", p.str(`document.querySelector("#complaints").textContent`))
	} else if got := p.str(`document.querySelector("#complaints .caller").textContent`); !strings.Contains(got, day) {
		t.Errorf("the erased caller reads %q: want the day it was erased, %s", got, day)
	}
	if p.eval(`document.querySelector("#complaints button[data-complaint]") !== null`) {
		t.Error("回拨 is offered for a caller whose number was erased")
	}
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	if body := s.api(t, doc, "GET /api/v1/cases/{id}", "/api/v1/cases/"+erasedID); !strings.Contains(string(body), `"caller_erased_at"`) {
		t.Errorf("the case's complaints say nothing of the erasure: %s", body)
	}

	// The page was drawn while the number was held; the retention job
	// erases it before the officer taps 回拨. (The case arrives in the
	// list live first, its push and the list's reading again over, so
	// that no news of it draws the page again after the tap.)
	heldID, _ := s.feed(t, 2, "normal", time.Now().Add(4*time.Hour))
	p.step("open a case whose caller is held",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`),
		p.wait(`document.querySelector("#toast").textContent.includes("新任务")`),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.WaitVisible(chromedp.CSS(`#list a.card[data-case="`+heldID+`"]`)),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+heldID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#complaints button[data-complaint]")),
	)
	if _, err := s.pool.Exec(context.Background(), `UPDATE complaints SET caller_name = NULL, caller_phone = NULL, caller_erased = true, pii_erased_at = now()
		WHERE id = 'cmp_console_2'`); err != nil {
		t.Fatal(err)
	}
	p.step("tap 回拨", chromedp.Click(chromedp.CSS("#complaints button[data-complaint]")))
	if err := p.waitFor(`document.querySelector("#complaints").textContent.includes("已按保存期限删除")`, 5*time.Second); err != nil {
		t.Errorf("after 回拨 the complaint reads %q and the toast %q: want 来电人信息已按保存期限删除",
			p.str(`document.querySelector("#complaints").textContent`), p.str(`document.querySelector("#toast").textContent`))
	}
	if p.eval(`document.querySelector("#toast").textContent.includes("没有来电号码")`) {
		t.Error("回拨 of an erased caller says 没有来电号码")
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	for _, e := range p.errs {
		t.Errorf("the page logged: %s", e)
	}
}

// 回拨 tapped, and the case drawn again before the number comes (news of
// it pushed meanwhile, a complaint merged): the number is shown in the
// case as drawn now, not in the row tapped, which is no longer on the
// page.
func TestRevealAnsweredAfterTheCaseIsDrawnAgain(t *testing.T) {
	s := setup(t)
	caseID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	p := openPhone(t, s, 375, s.token)
	p.step("open the case",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#complaints button[data-complaint]")),
	)
	var asked atomic.Int64
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/callback-reveal") {
			asked.Add(1)
			time.Sleep(3 * time.Second)
		}
		return false
	})
	p.step("tap 回拨", chromedp.Click(chromedp.CSS("#complaints button[data-complaint]")))
	testenv.Eventually(t, 10*time.Second, "回拨 asked for", func() bool { return asked.Load() > 0 })
	s.mergeUrgent(t, caseID, 2, time.Now().Add(time.Hour))
	p.step("the case is drawn again with the complaint merged", p.wait(`document.querySelectorAll("#complaints li").length === 2`))
	if err := p.waitFor(`document.querySelector('#complaints a.phone[href^="tel:"]') !== null`, 10*time.Second); err != nil {
		t.Errorf("the number asked for before the case was drawn again is not shown: the complaints read %q",
			p.str(`document.querySelector("#complaints").textContent`))
	}
}
