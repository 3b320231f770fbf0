package officers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// dueAt gives case id and its active assignment the resolve deadline due.
func (e *env) dueAt(id string, due time.Time) string {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), `WITH a AS (UPDATE assignments SET resolve_due = $2 WHERE case_id = $1 AND status = 'active')
		UPDATE cases SET resolve_due = $2 WHERE id = $1`, id, due); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// firstSaturdayAfter is the first Saturday after the day t.
func firstSaturdayAfter(t time.Time) time.Time {
	t = t.AddDate(0, 0, 1)
	for t.Weekday() != time.Saturday {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// Without the operator's file, 元旦 of the year after the built-in
// calendar is still no working day: the holidays fixed by date hold in a
// year whose announcement is not installed.
func TestExtendRefusesNewYearsDayOfAYearNotAnnounced(t *testing.T) {
	t.Parallel()
	sh, err := time.LoadLocation(workday.Zone)
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := workday.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, last := builtin.Years()
	jan1 := time.Date(last+1, time.January, 1, 23, 59, 59, 0, sh)
	if time.Until(jan1) < 24*time.Hour {
		t.Skipf("%s is past: the built-in calendar needs %d's announcement", jan1.Format(time.DateOnly), last+1)
	}
	e := setup(t, nil)
	id := e.dueAt(e.newCase(ownTeam, complaint{}), jan1.AddDate(0, 0, -5))
	code, body := e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/extend", map[string]string{"resolve_due": jan1.Format(time.RFC3339), "reason": "工地分阶段整改"})
	if code != http.StatusBadRequest {
		t.Fatalf("extension to %s: %d %s, want 400", jan1.Format(time.DateOnly), code, body)
	}
	if p := problem(t, body); !strings.Contains(p.Detail, jan1.Format(time.DateOnly)+" 是法定节假日（元旦，") {
		t.Errorf("extension to %s refused with %q, want it named 元旦", jan1.Format(time.DateOnly), p.Detail)
	}
}

// An extension (延期) ends on a working day of the calendar the router
// counts by, the operator's NUISANCE_CALENDAR on top of the built-in one:
// a rest day or a public holiday is refused with the day and the next
// working day; an adjusted working day (调休上班) is granted; a time other
// than the day's end is kept as given.
func TestExtendEndsOnAWorkingDay(t *testing.T) {
	t.Parallel()
	sh, err := time.LoadLocation(workday.Zone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(sh)
	// The operator's calendar: from the year after the built-in one to the
	// coming 元旦 at least a week away, each with 元旦 on 1 January and
	// its first Saturday after worked.
	builtin, err := workday.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, last := builtin.Years()
	newYear := now.AddDate(0, 0, 7).Year() + 1
	file := workday.File{Timezone: workday.Zone}
	for y := last + 1; y <= newYear; y++ {
		jan1 := time.Date(y, time.January, 1, 0, 0, 0, 0, sh)
		file.Years = append(file.Years, workday.Year{Year: y, Holidays: []workday.Holiday{{Name: "元旦",
			From: jan1.Format(time.DateOnly), To: jan1.Format(time.DateOnly), WorkingDays: []string{firstSaturdayAfter(jan1).Format(time.DateOnly)}}}})
	}
	if len(file.Years) == 0 {
		t.Skipf("the built-in calendar covers %d already", newYear)
	}
	b, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "calendar.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e := setup(t, nil, func(c *Config) { c.CalendarFile = path })

	endOf := func(d time.Time) string {
		return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, sh).Format(time.RFC3339)
	}
	extend := func(id, due string) (int, []byte) {
		t.Helper()
		return e.do(whoSupervisor, "POST", "/api/v1/cases/"+id+"/extend", map[string]string{"resolve_due": due, "reason": "工地分阶段整改"})
	}
	refused := func(name, id, due string, want ...string) {
		t.Helper()
		code, body := extend(id, due)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, body)
			return
		}
		p := problem(t, body)
		if p.Type != "https://nuisance.xm.gov/problems/invalid" || len(p.Errors) != 1 || p.Errors[0].Field != "/resolve_due" {
			t.Errorf("%s: problem %+v, want an invalid /resolve_due", name, p)
		}
		for _, w := range want {
			if !strings.Contains(p.Detail, w) {
				t.Errorf("%s: %q does not say %q", name, p.Detail, w)
			}
		}
	}

	// A Saturday that is no adjusted working day.
	sat := firstSaturdayAfter(now.AddDate(0, 0, 3))
	for e.svc.cal.IsWorkingDay(sat) {
		sat = firstSaturdayAfter(sat)
	}
	next := sat.AddDate(0, 0, 1)
	for !e.svc.cal.IsWorkingDay(next) {
		next = next.AddDate(0, 0, 1)
	}
	id := e.dueIn(e.newCase(ownTeam, complaint{}), 48*time.Hour)
	refused("a Saturday", id, endOf(sat), sat.Format(time.DateOnly)+" 是休息日（星期六）；下一个工作日是 "+next.Format(time.DateOnly),
		next.Format(time.DateOnly)+" 23:59:59 +08:00")
	// A time in another zone counts by its day in Xiamen: Friday 17:00 UTC
	// is Saturday 01:00 there.
	refused("a Saturday in UTC", id, time.Date(sat.Year(), sat.Month(), sat.Day()-1, 17, 0, 0, 0, time.UTC).Format(time.RFC3339),
		sat.Format(time.DateOnly)+" 是休息日（星期六）")

	// 元旦 of the operator's calendar, and the Saturday worked after it.
	jan1 := time.Date(newYear, time.January, 1, 0, 0, 0, 0, sh)
	worked := firstSaturdayAfter(jan1)
	after := jan1.AddDate(0, 0, 1)
	for !after.Equal(worked) && (after.Weekday() == time.Saturday || after.Weekday() == time.Sunday) {
		after = after.AddDate(0, 0, 1)
	}
	holiday := e.dueAt(e.newCase(ownTeam, complaint{}), jan1.AddDate(0, 0, -5))
	refused("元旦", holiday, endOf(jan1), jan1.Format(time.DateOnly)+" 是法定节假日（元旦，", "下一个工作日是 "+after.Format(time.DateOnly))
	if code, body := extend(holiday, endOf(worked)); code != http.StatusOK {
		t.Errorf("an adjusted working day %s: %d %s, want 200", worked.Format(time.DateOnly), code, body)
	}

	// On a working day the time given is the deadline, as it was.
	noon := time.Date(next.Year(), next.Month(), next.Day(), 12, 0, 0, 0, sh)
	kept := e.dueIn(e.newCase(ownTeam, complaint{}), 48*time.Hour)
	if code, body := extend(kept, noon.Format(time.RFC3339)); code != http.StatusOK {
		t.Fatalf("noon of a working day: %d %s", code, body)
	}
	var due time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT resolve_due FROM cases WHERE id = $1`, kept).Scan(&due); err != nil {
		t.Fatal(err)
	}
	if !due.Equal(noon) {
		t.Errorf("extended to noon, due %s", due)
	}

	// The caseflow's refusals reach the supervisor in Xiamen time.
	far := now.AddDate(0, 0, 45)
	for !e.svc.cal.IsWorkingDay(far) {
		far = far.AddDate(0, 0, 1)
	}
	current := time.Date(now.Year(), now.Month(), now.Day(), 16, 24, 0, 0, time.UTC).AddDate(0, 0, 2)
	tooFar := e.dueAt(e.newCase(ownTeam, complaint{}), current)
	refused("too far", tooFar, endOf(far), fmt.Sprintf("新的办结时限 %s 超出当前的办结时限 %s 之后 30 天",
		far.Format(time.DateOnly)+" 23:59:59 +08:00", current.In(sh).Format("2006-01-02 15:04 +08:00")))
}
