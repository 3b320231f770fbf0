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

const calendarUsage = `usage: nuisance calendar [FILE]

Shows the public holidays and adjusted working days that deadlines follow:
the built-in years and those of FILE (default NUISANCE_CALENDAR), a
calendar.json of the layout of seeds/calendar.json whose years are added
to the built-in ones or replace them. Fails, naming the problem, when the
router would refuse the file.
`

// runCalendar shows the working-day calendar the deadlines follow: the
// built-in years and those of an operator's file (NUISANCE_CALENDAR, or
// the file given), checked as the router checks them at start.
func runCalendar(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	file, helped, err := fileArg("calendar", calendarUsage, "NUISANCE_CALENDAR", args, getenv, stdout, stderr)
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
	// year with fewer is likely a file not yet filled in.
	for _, y := range cal.Announcements() {
		if len(y.Holidays) < 6 {
			fmt.Fprintf(stderr, "warning: %d lists %d holidays; an announcement has seven (元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节)\n", y.Year, len(y.Holidays))
		}
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

// fileArg reads the arguments of a command that shows the built-in
// reference data with an operator's file added: at most one FILE, else
// the file the environment variable env names ("" for none). helped is
// set when the command's usage was asked for and written.
func fileArg(cmd, usage, env string, args []string, getenv func(string) string, stdout, stderr io.Writer) (file string, helped bool, err error) {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		_, err := io.WriteString(stdout, usage)
		return "", true, err
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
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
