package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/workday"
	"github.com/xiamen-eeb/nuisance/services/router"
)

const calendarUsage = `usage: nuisance calendar [-partial] [FILE]

Shows the public holidays and adjusted working days that deadlines follow:
the built-in years and those of FILE (default NUISANCE_CALENDAR), a
calendar.json of the layout of seeds/calendar.json whose years are added
to the built-in ones or replace them. Fails, naming the problem, when the
router would refuse the file, and when a year lists fewer than 6
holidays: a year's announcement lists every one of 元旦, 春节, 清明节,
劳动节, 端午节, 中秋节 and 国庆节 (中秋 and 国庆 may be one entry), and a
year that lacks some makes the Spring Festival, say, working days while
the calendar, and its alerts, count the year as known.

  -partial   only warn of a year with fewer holidays (a file being written)
`

// runCalendar shows the working-day calendar the deadlines follow: the
// built-in years and those of an operator's file (NUISANCE_CALENDAR, or
// the file given), checked as the router checks them at start.
func runCalendar(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var partial bool
	file, helped, err := fileArgFlags("calendar", calendarUsage, "NUISANCE_CALENDAR", args, getenv, stdout, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&partial, "partial", false, "only warn of a year with fewer holidays")
	})
	if err != nil || helped {
		return err
	}
	cal, err := workday.LoadWith(file)
	if err != nil {
		return fmt.Errorf("calendar: %w", err)
	}
	tw := newTable(stdout, "YEAR", "HOLIDAY", "DAYS OFF", "WORKED WEEKEND DAYS")
	for _, y := range cal.Announcements() {
		for _, h := range y.Holidays {
			days := h.From
			if h.To != h.From {
				days += " – " + h.To
			}
			worked := "—"
			if len(h.WorkingDays) > 0 {
				worked = strings.Join(h.WorkingDays, ", ")
			}
			tw.row(strconv.Itoa(y.Year), h.Name, days, worked)
		}
	}
	if err := tw.flush(); err != nil {
		return err
	}
	// Each year's announcement has seven holidays (元旦, 春节, 清明节,
	// 劳动节, 端午节, 中秋节, 国庆节; 中秋 and 国庆 sometimes as one): a
	// year with fewer is a file not filled in, which the services would
	// load as a known year with its Spring Festival worked, and which
	// ends the calendar's alerts.
	var incomplete []string
	for _, y := range cal.Announcements() {
		if len(y.Holidays) < minHolidays {
			incomplete = append(incomplete, fmt.Sprintf("%d lists %d holidays (missing %s)", y.Year, len(y.Holidays), strings.Join(missingHolidays(y.Holidays), ", ")))
		}
	}
	if len(incomplete) > 0 {
		msg := strings.Join(incomplete, "; ") + ": a year's announcement lists every holiday — 元旦、春节、清明节、劳动节、端午节、中秋节、国庆节 (中秋 and 国庆 may be one entry) — and a year with fewer than 6 entries is incomplete"
		if !partial {
			return fmt.Errorf("calendar: %s: refused; add every holiday of the notice, or give -partial to check a file still being written", msg)
		}
		fmt.Fprintf(stderr, "warning: %s (-partial: do not install it)\n", msg)
	}
	first, last := cal.Years()
	source := "built-in"
	if file != "" {
		source = "built-in and " + file
	}
	fmt.Fprintf(stdout, "\n%s: %d to %d. After %d, deadlines count weekends and the holidays fixed by date (元旦, 劳动节, 国庆节) only.\n", source, first, last, last)
	if time.Now().Add(router.CalendarWarnAhead).In(cal.Location()).Year() > last {
		fmt.Fprintf(stderr, "warning: the calendar ends with %d: add next year's holidays (国务院办公厅 部分节假日安排的通知) in a file and set NUISANCE_CALENDAR to it\n", last)
	}
	return nil
}

// minHolidays is the fewest holiday entries a year's announcement has:
// seven, or six when 中秋节 and 国庆节 are one.
const minHolidays = 6

// announced are the holidays every announcement names, each found in an
// entry's name by its first two characters (an entry 中秋节、国庆节 names
// two).
var announced = []string{"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}

// missingHolidays are the holidays of announced that no entry of hs names.
func missingHolidays(hs []workday.Holiday) []string {
	var out []string
	for _, a := range announced {
		key := string([]rune(a)[:2])
		found := false
		for _, h := range hs {
			if strings.Contains(h.Name, key) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// fileArg reads the arguments of a command that shows the built-in
// reference data with an operator's file added: at most one FILE, else
// the file the environment variable env names ("" for none). helped is
// set when the command's usage was asked for and written.
func fileArg(cmd, usage, env string, args []string, getenv func(string) string, stdout, stderr io.Writer) (file string, helped bool, err error) {
	return fileArgFlags(cmd, usage, env, args, getenv, stdout, stderr, nil)
}

// fileArgFlags is fileArg for a command with flags of its own, which
// flags (if not nil) defines on the flag set before the arguments are
// parsed.
func fileArgFlags(cmd, usage, env string, args []string, getenv func(string) string, stdout, stderr io.Writer, flags func(*flag.FlagSet)) (file string, helped bool, err error) {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		_, err := io.WriteString(stdout, usage)
		return "", true, err
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if flags != nil {
		flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return "", false, err
	}
	if fs.NArg() > 1 {
		return "", false, fmt.Errorf("%s: give at most one file", cmd)
	}
	if fs.NArg() == 1 {
		return fs.Arg(0), false, nil
	}
	return getenv(env), false, nil
}
