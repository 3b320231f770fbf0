package console

// Work orders loaded as history (nuisance replay -history) that the
// pipeline could not place wait on the 分拣 tab apart from today's.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
)

// triaged puts complaint id of Siming on the triage list as unclassified,
// loaded as history or not, as the intake and the geocoder do.
func (s *system) triaged(t *testing.T, id, ticket string, history bool, received time.Time) {
	t.Helper()
	ctx := context.Background()
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, history)
			VALUES ($1, $2, $3, '路边一直有很大的异味和灰', '思明区莲前街道某路口', '陈美玲', $4, $5)`,
			id, ticket, received, callerPhone, history); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, received_at)
			VALUES ($1, true, 'siming', '思明区', $2)`, id, received); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind, history) VALUES ($1, 'no category', 'unclassified', $2)`, id, history)
		return err
	})
	if err != nil {
		t.Fatalf("triage %s: %v", id, err)
	}
}

// A year's backfill puts its unplaceable work orders on the triage list
// after today's: the supervisor's 分拣 shows today's alone, the history
// under 历史, marked, where one can still be corrected.
func TestTriageHistoryKeptApart(t *testing.T) {
	s := setup(t)
	s.triaged(t, "cmp_today", "XM12345-2025-000001", false, time.Now().Add(-time.Hour))
	lastYear := time.Now().AddDate(-1, 0, 0)
	s.triaged(t, "cmp_lastyear", "XM12345-2024-000777", true, lastYear)
	_, tok, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	today, old := `#list .card[data-complaint="cmp_today"]`, `#list .card[data-complaint="cmp_lastyear"]`
	p.step("open 分拣",
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(today)),
	)
	if p.eval(`document.querySelector('` + old + `') !== null`) {
		t.Errorf("分拣 shows a work order loaded as history beside today's: %q", p.str(`document.querySelector("#list").textContent`))
	}
	p.step("open the history",
		chromedp.Click(chromedp.CSS(`#triage-scope button[data-history="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(old)),
		chromedp.WaitNotPresent(chromedp.CSS(today)),
	)
	year := fmt.Sprintf("%d年", lastYear.In(shanghai).Year())
	if got := p.str(`document.querySelector('` + old + `').textContent`); !strings.Contains(got, "历史") || !strings.Contains(got, "XM12345-2024-000777") ||
		!strings.Contains(got, year) {
		t.Errorf("the history item reads %q: want it marked 历史, with its ticket and the year it was received (%s)", got, year)
	}
	if !p.eval(`document.querySelector('#triage-scope button[data-history="true"]').getAttribute("aria-pressed") === "true"`) {
		t.Error("the 历史 button does not say it is pressed")
	}
	p.step("correct it",
		chromedp.Click(chromedp.CSS(old+" .bottom button")),
		chromedp.WaitVisible(chromedp.CSS(old+" form")),
		chromedp.Evaluate[chromedp.Void](`(function () {
			var sel = document.querySelector('`+old+` form').querySelectorAll("select");
			sel[1].value = "dust";
			sel[1].dispatchEvent(new Event("change"));
			sel[2].value = "road";
		})()`),
		chromedp.Click(chromedp.CSS(old+" form button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS(old)),
		p.wait(`document.querySelector("#toast").textContent.includes("历史")`),
	)
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM triage_corrections WHERE complaint_id = 'cmp_lastyear' AND category = 'dust'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the history item's correction: %d rows (%v)", n, err)
	}
	p.step("back to today's",
		chromedp.Click(chromedp.CSS(`#triage-scope button[data-history="false"]`)),
		chromedp.WaitVisible(chromedp.CSS(today)),
	)
	// Another tab hides the switch; 分拣 comes back to today's list.
	p.step("leave 分拣", chromedp.Click(chromedp.CSS(`.tab[data-status="hotspots"]`)), chromedp.WaitNotVisible(chromedp.CSS("#triage-scope")))
	p.errMu.Lock()
	defer p.errMu.Unlock()
	for _, e := range p.errs {
		t.Errorf("the page logged: %s", e)
	}
}
