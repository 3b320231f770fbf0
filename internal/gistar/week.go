package gistar

import (
	"fmt"
	"strconv"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on hosts without a zoneinfo database.
)

// shanghai is the bureau's time zone: report weeks run Monday to Monday
// there, whatever the zone of the host.
var shanghai = loadShanghai()

func loadShanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// China has kept UTC+8 without daylight saving since 1991, so a
		// fixed zone gives the same week boundaries for every date we handle.
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}

// WeekBounds returns the instants that open and close an ISO week such as
// "2024-W11": Monday 00:00 to the next Monday 00:00 in Asia/Shanghai, so
// the weekly report and the API count the same complaints in the same week.
// The end is exclusive.
func WeekBounds(week string) (start, end time.Time, err error) {
	year, num, err := parseWeek(week)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	start = isoWeekOneMonday(year).AddDate(0, 0, 7*(num-1))
	return start, start.AddDate(0, 0, 7), nil
}

// WeekOf names the ISO week that holds t in Asia/Shanghai, the label
// WeekBounds and Analyze accept; the reporter uses it to find last week.
func WeekOf(t time.Time) string {
	y, w := t.In(shanghai).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// parseWeek reads "YYYY-Www" and checks that the week exists in that year.
func parseWeek(week string) (year, num int, err error) {
	if len(week) != 8 || week[4] != '-' || week[5] != 'W' {
		return 0, 0, fmt.Errorf("parse week %q: want YYYY-Www, e.g. 2024-W11", week)
	}
	year, errY := strconv.Atoi(week[:4])
	num, errW := strconv.Atoi(week[6:])
	if errY != nil || errW != nil || year < 1 || week[6] == '+' || week[6] == '-' {
		return 0, 0, fmt.Errorf("parse week %q: want YYYY-Www, e.g. 2024-W11", week)
	}
	if n := isoWeeksIn(year); num < 1 || num > n {
		return 0, 0, fmt.Errorf("parse week %q: %d has ISO weeks 1 to %d", week, year, n)
	}
	return year, num, nil
}

// isoWeekOneMonday is the Monday of the week that holds 4 January, which
// ISO 8601 defines as week 1.
func isoWeekOneMonday(year int) time.Time {
	jan4 := time.Date(year, time.January, 4, 0, 0, 0, 0, shanghai)
	sinceMonday := (int(jan4.Weekday()) + 6) % 7
	return jan4.AddDate(0, 0, -sinceMonday)
}

// isoWeeksIn is 52 or 53: 28 December always lies in the last ISO week.
func isoWeeksIn(year int) int {
	_, w := time.Date(year, time.December, 28, 12, 0, 0, 0, shanghai).ISOWeek()
	return w
}
