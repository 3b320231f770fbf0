package console

// A bad day (a geocoder down) or a year's backfill puts hundreds or
// thousands of complaints on the 分拣 list: a supervisor works through
// them all, page after page, and knows how many wait.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xiamen-eeb/nuisance/internal/auth"
)

func TestTriageListPagesThroughEveryEntry(t *testing.T) {
	s := setup(t)
	const n = 130
	for i := 1; i <= n; i++ {
		s.triaged(t, fmt.Sprintf("cmp_page_%03d", i), fmt.Sprintf("XM12345-2025-%06d", i), false, time.Now().Add(-time.Duration(n-i)*time.Minute))
	}
	caseID, _ := s.feed(t, 1, "normal", time.Now().Add(time.Hour))
	_, tok, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	const cards = `document.querySelectorAll("#list .card[data-complaint]").length`
	// The list is newest first: the oldest entry is the last of all.
	oldest := `#list .card[data-complaint="cmp_page_001"]`
	p.step("open 分拣",
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list .card[data-complaint="cmp_page_130"]`)),
	)
	if err := p.waitFor(`document.querySelector("#triage-total") !== null && document.querySelector("#triage-total").textContent.includes("共 130 条")`, 5*time.Second); err != nil {
		t.Errorf("分拣 does not say how many wait (共 130 条): %q", p.str(`document.querySelector("#view-list").innerText.slice(0, 200)`))
	}
	if err := p.waitFor(`!document.querySelector("#more").hidden`, 5*time.Second); err != nil {
		t.Fatalf("分拣 shows %s of %d entries and no 加载更多: entry 101 cannot be reached", p.str(`String(`+cards+`)`), n)
	}
	p.step("load the rest",
		chromedp.Click(chromedp.CSS("#more")),
		chromedp.WaitVisible(chromedp.CSS(oldest)),
	)
	if got := p.str(`String(` + cards + `)`); got != "130" {
		t.Errorf("after 加载更多 分拣 shows %s entries, want 130", got)
	}
	if !p.eval(`document.querySelector("#more").hidden`) {
		t.Error("加载更多 is still offered at the end of the list")
	}
	p.step("correct the oldest",
		chromedp.Click(chromedp.CSS(oldest+" .bottom button")),
		chromedp.WaitVisible(chromedp.CSS(oldest+" form")),
		chromedp.Evaluate[chromedp.Void](`(function () {
			var sel = document.querySelector('`+oldest+` form').querySelectorAll("select");
			sel[1].value = "dust";
			sel[1].dispatchEvent(new Event("change"));
			sel[2].value = "road";
		})()`),
		chromedp.Click(chromedp.CSS(oldest+" form button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS(oldest)),
	)
	if got := p.str(`String(` + cards + `)`); got != "129" {
		t.Errorf("after a correction 分拣 shows %s entries, want 129: the pages loaded were lost", got)
	}
	if got := p.str(`document.querySelector("#triage-total").textContent`); got != "共 129 条" {
		t.Errorf("after a correction the total reads %q, want 共 129 条", got)
	}
	// The geocoder applies the correction (none runs here): the entry
	// leaves triage.
	if _, err := s.pool.Exec(context.Background(), `UPDATE triage SET resolved_at = now(), resolved_by = 'geocoder' WHERE complaint_id = 'cmp_page_001'`); err != nil {
		t.Fatal(err)
	}
	// A case opened and left: the list is read again (the cards drawn
	// before, marked, are gone), with its pages.
	second := `#list .card[data-complaint="cmp_page_002"]`
	p.step("open a case and come back",
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#list .card").forEach(function (c) { c.setAttribute("data-drawn-before", ""); })`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/case/`+caseID+`"`),
		chromedp.WaitVisible(chromedp.CSS("#view-case")),
		chromedp.Click(chromedp.CSS("a.back")),
		chromedp.WaitVisible(chromedp.CSS(`.tab.on[data-status="triage"]`)),
		p.wait(`document.querySelector("#list .card[data-drawn-before]") === null && document.querySelector("#list .card") !== null`),
	)
	if p.eval(`document.querySelector('` + second + `') === null`) {
		t.Errorf("back from a case 分拣 shows %s entries, want 129: the page loaded with 加载更多 was dropped", p.str(`String(`+cards+`)`))
	}
	if got := p.str(`String(` + cards + `)`); got != "129" {
		t.Errorf("back from a case 分拣 shows %s entries, want 129", got)
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	for _, e := range p.errs {
		t.Errorf("the page logged: %s", e)
	}
}

// A backfill of more than 10,000 work orders nobody could place: the
// first page counts the newest 10,001 alone, and 分拣 says at least how
// many wait (共 10000+ 条), not a number that looks exact.
func TestTriageListSaysAtLeastPastTheCount(t *testing.T) {
	s := setup(t)
	if _, err := s.pool.Exec(context.Background(), `WITH c AS (
			INSERT INTO complaints (id, ticket_id, received_at, description)
			SELECT 'cmp_many_' || g, 'XM12345-2025-9' || lpad(g::text, 5, '0'), now() - g * interval '1 minute', '工地夜间施工噪声'
			FROM generate_series(1, 10050) g RETURNING id, received_at),
		l AS (INSERT INTO locations (complaint_id, located, received_at) SELECT id, false, received_at FROM c)
		INSERT INTO triage (complaint_id, reason, kind, created_at) SELECT id, 'no address', 'unlocated', received_at FROM c`); err != nil {
		t.Fatal(err)
	}
	_, tok, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	p.step("open 分拣",
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list .card[data-complaint="cmp_many_1"]`)),
	)
	if err := p.waitFor(`document.querySelector("#triage-total").textContent === "共 10000+ 条"`, 5*time.Second); err != nil {
		t.Errorf("分拣 with 10,050 waiting reads %q, want 共 10000+ 条", p.str(`document.querySelector("#triage-total").textContent`))
	}
}

// The triage list has no push: a supervisor working down it is told,
// without its being redrawn under a correction being typed, that
// entries arrived or left, and a tap reads it again.
func TestTriageListSaysItChanged(t *testing.T) {
	s := setup(t)
	s.triaged(t, "cmp_watch_1", "XM12345-2025-000001", false, time.Now().Add(-time.Hour))
	s.triaged(t, "cmp_watch_2", "XM12345-2025-000002", false, time.Now().Add(-time.Minute))
	_, tok, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	p.step("open 分拣 and start a correction",
		chromedp.Evaluate[chromedp.Void](`window.NUISANCE_TRIAGE_WATCH_MS = 1000`),
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list .card[data-complaint="cmp_watch_1"]`)),
		chromedp.Click(chromedp.CSS(`#list .card[data-complaint="cmp_watch_1"] .bottom button`)),
		chromedp.WaitVisible(chromedp.CSS(`#list .card[data-complaint="cmp_watch_1"] form`)),
	)
	if err := p.waitFor(`document.querySelector("#triage-news").hidden`, 3*time.Second); err != nil {
		t.Fatal("分拣 says it changed before anything changed")
	}
	// A complaint the geocoder could not place arrives.
	s.triaged(t, "cmp_watch_3", "XM12345-2025-000003", false, time.Now())
	if err := p.waitFor(`!document.querySelector("#triage-news").hidden && document.querySelector("#triage-news").textContent.includes("共 3 条")`, 15*time.Second); err != nil {
		t.Fatalf("15 s after a complaint arrived on the triage list the page does not say so: %q", p.str(`document.querySelector("#view-list").innerText.slice(0, 200)`))
	}
	if !p.eval(`document.querySelector('#list .card[data-complaint="cmp_watch_1"] form') !== null && document.querySelector('#list .card[data-complaint="cmp_watch_3"]') === null`) {
		t.Error("the list was redrawn by itself: the correction being typed is gone")
	}
	p.step("tap the news",
		chromedp.Click(chromedp.CSS("#triage-news")),
		chromedp.WaitVisible(chromedp.CSS(`#list .card[data-complaint="cmp_watch_3"]`)),
	)
	if !p.eval(`document.querySelector("#triage-news").hidden`) {
		t.Error("the list read again still says it changed")
	}
	// A colleague's correction is applied: the entry leaves the list.
	if _, err := s.pool.Exec(context.Background(), `UPDATE triage SET resolved_at = now(), resolved_by = 'geocoder' WHERE complaint_id = 'cmp_watch_2'`); err != nil {
		t.Fatal(err)
	}
	if err := p.waitFor(`!document.querySelector("#triage-news").hidden && document.querySelector("#triage-news").textContent.includes("共 2 条")`, 15*time.Second); err != nil {
		t.Errorf("15 s after an entry left the triage list the page does not say so: %q", p.str(`document.querySelector("#view-list").innerText.slice(0, 200)`))
	}
}

// A supervisor's own correction takes the entry off the list shown at
// once, while the pipeline applies it a moment later: until then the
// server still lists it, and that is no news. The bar says nothing of
// it, then or once it is applied; an entry arriving meanwhile is news.
func TestTriageListOwnCorrectionIsNoNews(t *testing.T) {
	s := setup(t)
	s.triaged(t, "cmp_own_1", "XM12345-2025-000011", false, time.Now().Add(-time.Hour))
	s.triaged(t, "cmp_own_2", "XM12345-2025-000012", false, time.Now().Add(-time.Minute))
	_, tok, err := auth.NewStore(s.pool, 0).Add(context.Background(), auth.NewOfficer{Name: "郑明", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	p := openPhone(t, s, 375, tok)
	newest := `#list .card[data-complaint="cmp_own_2"]`
	p.step("open 分拣 and correct the newest",
		chromedp.Evaluate[chromedp.Void](`window.NUISANCE_TRIAGE_WATCH_MS = 1000`),
		chromedp.Click(chromedp.CSS(`.tab[data-status="triage"]`)),
		chromedp.WaitVisible(chromedp.CSS(newest)),
		chromedp.Click(chromedp.CSS(newest+" .bottom button")),
		chromedp.WaitVisible(chromedp.CSS(newest+" form")),
		chromedp.Evaluate[chromedp.Void](`(function () {
			var sel = document.querySelector('`+newest+` form').querySelectorAll("select");
			sel[1].value = "dust";
			sel[1].dispatchEvent(new Event("change"));
			sel[2].value = "road";
		})()`),
		chromedp.Click(chromedp.CSS(newest+" form button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS(newest)),
	)
	// No geocoder runs here: the correction stays unapplied, as it is
	// for a moment in production, for longer than the watch's turn.
	time.Sleep(3 * time.Second)
	if !p.eval(`document.querySelector("#triage-news").hidden`) {
		t.Errorf("while the supervisor's own correction is being applied 分拣 says %q", p.str(`document.querySelector("#triage-news").textContent`))
	}
	// It is applied.
	if _, err := s.pool.Exec(context.Background(), `UPDATE triage SET resolved_at = now(), resolved_by = 'geocoder' WHERE complaint_id = 'cmp_own_2'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if !p.eval(`document.querySelector("#triage-news").hidden`) {
		t.Errorf("once the supervisor's own correction was applied 分拣 says %q", p.str(`document.querySelector("#triage-news").textContent`))
	}
	// A complaint arrives: that is news.
	s.triaged(t, "cmp_own_3", "XM12345-2025-000013", false, time.Now())
	if err := p.waitFor(`!document.querySelector("#triage-news").hidden && document.querySelector("#triage-news").textContent.includes("共 2 条")`, 15*time.Second); err != nil {
		t.Errorf("15 s after a complaint arrived on the triage list the page does not say so: %q", p.str(`document.querySelector("#view-list").innerText.slice(0, 200)`))
	}
}
