// Package workday answers which days the city's offices work, so that the
// deadlines of the 12345 hotline ("sign for within 1 working day, resolve
// within 5") follow China's public holidays and adjusted working days (调休).
package workday

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on hosts without zoneinfo.

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// SeedFile is the calendar's file name in the seeds file system.
const SeedFile = "calendar.json"

// Zone is the time zone every working-day rule is evaluated in: a day off
// in Xiamen is a local calendar day, whatever zone a timestamp arrives in.
const Zone = "Asia/Shanghai"

// day numbers local calendar dates from 1970-01-01 (day 0), so that the
// deadline arithmetic is integer arithmetic rather than time.Time calls.
type day int

// civil is the day number of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
func civil(y int, m time.Month, d int) day {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (int(m) + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return day(era*146097 + doe - 719468)
}

// date is the inverse of civil.
func (d day) date() (int, time.Month, int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	m := (mp+2)%12 + 1
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return y, time.Month(m), dd
}

// String formats the day as YYYY-MM-DD for error messages.
func (d day) String() string {
	y, m, dd := d.date()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// weekday of a day number; 1970-01-01 was a Thursday.
func (d day) weekday() time.Weekday {
	return time.Weekday(((int(d)+4)%7 + 7) % 7)
}

func (d day) weekend() bool {
	wd := d.weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// dayOf is the day number of t's date in t's own location.
func dayOf(t time.Time) day {
	return civil(t.Date())
}

// Holiday is one announced holiday period: its days off and the weekend
// days worked in exchange (调休上班).
type Holiday struct {
	Name        string   `json:"name"`
	NameEN      string   `json:"name_en,omitempty"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	WorkingDays []string `json:"work"`
}

// Year is one year's announcement by the General Office of the State
// Council.
type Year struct {
	Year     int       `json:"year"`
	Source   string    `json:"source,omitempty"`
	Holidays []Holiday `json:"holidays"`
}

// File is the layout of seeds/calendar.json, exported so that operators'
// tools can validate a new year's announcement before it ships.
type File struct {
	Timezone string `json:"timezone"`
	Note     string `json:"note,omitempty"`
	Years    []Year `json:"years"`
}

// Calendar knows the working days of the years it was given. Outside those
// years it falls back to weekends and the holidays fixed by date (元旦,
// 劳动节, 国庆节): Monday to Friday work, Saturday, Sunday and those days
// off, with neither the lunar holidays nor adjusted working days. Covers reports whether a time is
// inside the announced years, so callers can flag a deadline computed on
// the fallback (for instance when next year's announcement, usually
// published in November, has not been added to the seed yet).
type Calendar struct {
	loc       *time.Location
	off       map[day]string // holiday name of each day off
	work      map[day]string // holiday name of each adjusted working day
	firstYear int
	lastYear  int
	years     []Year // as announced, in order
	// working answers for every day of the covered years, from day base.
	base    day
	working []bool
}

// Load reads the calendar embedded in the seeds package.
func Load() (*Calendar, error) {
	return LoadFS(seeds.FS)
}

// coveredUntil is, for each calendar a process loaded with LoadWith (the
// one its deadlines follow: the router's, the officers'), when it stops
// knowing public holidays. A process that loads none exports nothing, so
// an alert on the smallest value is one on the processes that set
// deadlines, each of which must be given next year's announcement.
var coveredUntil = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "nuisance_calendar_covered_until_timestamp_seconds",
	Help: "When the working-day calendar this process sets deadlines by stops knowing public holidays (1 January 00:00 Asia/Shanghai after its last year), by calendar (built-in, or the NUISANCE_CALENDAR file); after it, deadlines count weekends and the holidays fixed by date (元旦, 劳动节, 国庆节) only.",
}, []string{"calendar"})

// LoadWith reads the embedded calendar and, when path is not empty, the
// calendar file at path on top of it: each year the file lists replaces
// the embedded year of that number or adds to them. This is how an
// operator adds next year's announcement (usually published in November)
// without a new build. The result must still be whole years without a gap.
// The calendar loaded is the one the process sets deadlines by: its
// CoveredUntil is exported for the alert that next year is missing.
func LoadWith(path string) (*Calendar, error) {
	c, err := loadWith(path)
	if err != nil {
		return nil, err
	}
	source := path
	if source == "" {
		source = "built-in"
	}
	coveredUntil.WithLabelValues(source).Set(float64(c.CoveredUntil().Unix()))
	return c, nil
}

func loadWith(path string) (*Calendar, error) {
	if path == "" {
		return Load()
	}
	base, err := readFile(seeds.FS, SeedFile)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read calendar: %w", err)
	}
	var extra File
	if err := json.Unmarshal(b, &extra); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if len(extra.Years) == 0 {
		return nil, fmt.Errorf("%s lists no years", path)
	}
	if extra.Timezone != "" && extra.Timezone != base.Timezone {
		return nil, fmt.Errorf("%s: time zone %q, the calendar's is %q", path, extra.Timezone, base.Timezone)
	}
	c, err := New(Merge(base, extra))
	if err != nil {
		return nil, fmt.Errorf("%s on top of the built-in calendar: %w", path, err)
	}
	return c, nil
}

// Merge returns base with the years of extra: a year in both is extra's.
func Merge(base, extra File) File {
	out := base
	out.Years = nil
	replaced := make(map[int]bool, len(extra.Years))
	for _, y := range extra.Years {
		replaced[y.Year] = true
	}
	for _, y := range base.Years {
		if !replaced[y.Year] {
			out.Years = append(out.Years, y)
		}
	}
	out.Years = append(out.Years, extra.Years...)
	slices.SortStableFunc(out.Years, func(a, b Year) int { return a.Year - b.Year })
	return out
}

func readFile(fsys fs.FS, name string) (File, error) {
	var f File
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return f, fmt.Errorf("read calendar: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("decode %s: %w", name, err)
	}
	return f, nil
}

// LoadFS reads calendar.json from fsys; tests and tools pass their own.
func LoadFS(fsys fs.FS) (*Calendar, error) {
	f, err := readFile(fsys, SeedFile)
	if err != nil {
		return nil, err
	}
	c, err := New(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SeedFile, err)
	}
	return c, nil
}

// New builds a calendar from decoded data and rejects announcements that
// cannot be right: a day both off and worked, an adjusted working day that
// is not a weekend day, days outside their year, or a gap between years.
func New(f File) (*Calendar, error) {
	zone := f.Timezone
	if zone == "" {
		zone = Zone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("load time zone %q: %w", zone, err)
	}
	if len(f.Years) == 0 {
		return nil, errors.New("calendar has no years")
	}
	c := &Calendar{
		loc:  loc,
		off:  make(map[day]string),
		work: make(map[day]string),
	}
	seen := make(map[int]bool)
	for _, y := range f.Years {
		if seen[y.Year] {
			return nil, fmt.Errorf("year %d listed twice", y.Year)
		}
		seen[y.Year] = true
		if len(y.Holidays) == 0 {
			// Every announcement has at least New Year's Day: a year without
			// holidays is a year not yet filled in, and would claim coverage.
			return nil, fmt.Errorf("year %d lists no holidays", y.Year)
		}
		if c.firstYear == 0 || y.Year < c.firstYear {
			c.firstYear = y.Year
		}
		if y.Year > c.lastYear {
			c.lastYear = y.Year
		}
		for _, h := range y.Holidays {
			if err := c.addHoliday(y.Year, h); err != nil {
				return nil, fmt.Errorf("year %d %s: %w", y.Year, h.Name, err)
			}
		}
	}
	for y := c.firstYear; y <= c.lastYear; y++ {
		if !seen[y] {
			return nil, fmt.Errorf("year %d missing between %d and %d", y, c.firstYear, c.lastYear)
		}
	}
	c.years = slices.Clone(f.Years)
	slices.SortStableFunc(c.years, func(a, b Year) int { return a.Year - b.Year })
	// The first year's notice may give days of the December before it.
	c.base = civil(c.firstYear, time.January, 1)
	for d := range c.off {
		c.base = min(c.base, d)
	}
	for d := range c.work {
		c.base = min(c.base, d)
	}
	c.working = make([]bool, civil(c.lastYear+1, time.January, 1)-c.base)
	for i := range c.working {
		d := c.base + day(i)
		_, worked := c.work[d]
		_, off := c.off[d]
		c.working[i] = worked || !off && !d.weekend()
	}
	return c, nil
}

// parseDay reads a day of year's announcement: a day of the year, or of
// the December before it, where a notice puts New Year's Day's days off
// and the Saturday worked for them when 1 January is a Monday or a
// Tuesday (2019's: 2018-12-30 to 2019-01-01 off, 2018-12-29 worked).
func (c *Calendar) parseDay(year int, s string) (day, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, c.loc)
	if err != nil {
		return 0, fmt.Errorf("parse date %q: %w", s, err)
	}
	if t.Year() != year && (t.Year() != year-1 || t.Month() != time.December) {
		return 0, fmt.Errorf("date %s outside year %d and the December before it", s, year)
	}
	return dayOf(t), nil
}

func (c *Calendar) addHoliday(year int, h Holiday) error {
	if h.Name == "" {
		return errors.New("holiday without a name")
	}
	from, err := c.parseDay(year, h.From)
	if err != nil {
		return err
	}
	to, err := c.parseDay(year, h.To)
	if err != nil {
		return err
	}
	if to < from {
		return fmt.Errorf("holiday ends %s before it starts %s", h.To, h.From)
	}
	// The longest break ever announced is nine days (Spring Festival 2026);
	// a longer range is a typing error.
	if to-from >= 10 {
		return fmt.Errorf("holiday %s to %s longer than ten days", h.From, h.To)
	}
	for d := from; d <= to; d++ {
		if _, dup := c.off[d]; dup {
			return fmt.Errorf("day %s off twice", d)
		}
		c.off[d] = h.Name
	}
	for _, s := range h.WorkingDays {
		d, err := c.parseDay(year, s)
		if err != nil {
			return err
		}
		if _, clash := c.off[d]; clash {
			return fmt.Errorf("day %s both off and worked", s)
		}
		if _, dup := c.work[d]; dup {
			return fmt.Errorf("adjusted working day %s listed twice", s)
		}
		if !d.weekend() {
			return fmt.Errorf("adjusted working day %s is a %s, not a weekend day", s, d.weekday())
		}
		c.work[d] = h.Name
	}
	return nil
}

// Location is the calendar's time zone, Asia/Shanghai; callers use it to
// read clock times such as "22:00" the way the city does.
func (c *Calendar) Location() *time.Location { return c.loc }

// Years returns the first and last year whose holidays the calendar knows.
func (c *Calendar) Years() (first, last int) { return c.firstYear, c.lastYear }

// Announcements returns the years the calendar holds, in order, as they
// were announced: for an operator checking what the deadlines follow.
func (c *Calendar) Announcements() []Year { return slices.Clone(c.years) }

// CoveredUntil is when the calendar stops knowing public holidays: 00:00
// Asia/Shanghai on 1 January after its last year. A deadline from a time
// at or after it, or falling there, counts weekends and the holidays
// fixed by date only.
func (c *Calendar) CoveredUntil() time.Time {
	return time.Date(c.lastYear+1, time.January, 1, 0, 0, 0, 0, c.loc)
}

// Covers reports whether t falls in a year whose announcement the calendar
// holds; outside it, IsWorkingDay knows weekends and the holidays fixed
// by date only.
func (c *Calendar) Covers(t time.Time) bool {
	y := t.In(c.loc).Year()
	return y >= c.firstYear && y <= c.lastYear
}

// IsWorkingDay reports whether the local day of t in Asia/Shanghai is a
// working day: adjusted working days work, public holidays do not, and
// otherwise Monday to Friday work. Outside the calendar's years only the
// weekday rule and the holidays fixed by date apply (see Calendar).
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	return c.isWorking(dayOf(t.In(c.loc)))
}

func (c *Calendar) isWorking(d day) bool {
	if i := int(d - c.base); i >= 0 && i < len(c.working) {
		return c.working[i]
	}
	if _, ok := fixedHoliday(d); ok {
		return false
	}
	return !d.weekend()
}

// fixedHoliday names the public holidays of the State Council's
// 全国年节及纪念日放假办法 (as revised from 2025) that fall on the same
// date every year: 元旦 on 1 January, 劳动节 on 1–2 May and 国庆节 on
// 1–3 October. Whatever a year's announcement adds around them, these days
// are off, so outside the announced years the calendar keeps them as well
// as the weekends. The holidays of the lunar calendar (春节, 清明节, 端午节,
// 中秋节) move from year to year and wait for the announcement.
func fixedHoliday(d day) (string, bool) {
	_, m, dd := d.date()
	switch {
	case m == time.January && dd == 1:
		return "元旦", true
	case m == time.May && dd <= 2:
		return "劳动节", true
	case m == time.October && dd <= 3:
		return "国庆节", true
	}
	return "", false
}

// Holiday names the public holiday or the holiday an adjusted working day
// belongs to on the local day of t, for reports and for explaining a
// deadline; ok is false on an ordinary day.
func (c *Calendar) Holiday(t time.Time) (name string, adjustedWorkingDay bool, ok bool) {
	d := dayOf(t.In(c.loc))
	if n, found := c.work[d]; found {
		return n, true, true
	}
	if n, found := c.off[d]; found {
		return n, false, true
	}
	if i := int(d - c.base); i < 0 || i >= len(c.working) {
		if n, found := fixedHoliday(d); found {
			return n, false, true
		}
	}
	return "", false, false
}

// EndOfDay is the last second of the local day of t (23:59:59 in
// Asia/Shanghai), the moment a day-based deadline expires.
func (c *Calendar) EndOfDay(t time.Time) time.Time {
	return c.endOf(dayOf(t.In(c.loc)))
}

// AddWorkingDays returns the deadline "within n working days of t", the
// rule of the 12345 hotline: the day t falls on is never counted (期限开始
// 的当日不计入), days off are skipped (遇节假日顺延), and the deadline is the
// end (23:59:59 Asia/Shanghai) of the n-th working day after the local day
// of t. A complaint received on a non-working day therefore starts counting
// on the next working day, which is day 1. For n <= 0 the deadline is the
// end of t's day if it is a working day, else of the next working day.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	cur := dayOf(t.In(c.loc))
	if n <= 0 {
		for !c.isWorking(cur) {
			cur++
		}
		return c.endOf(cur)
	}
	for counted := 0; counted < n; {
		cur++
		if c.isWorking(cur) {
			counted++
		}
	}
	return c.endOf(cur)
}

func (c *Calendar) endOf(d day) time.Time {
	y, m, dd := d.date()
	return time.Date(y, m, dd, 23, 59, 59, 0, c.loc)
}

// WorkingDaysBetween counts the working days after the local day of from
// up to and including the local day of to, the inverse of AddWorkingDays:
// it tells a report how many working days a case took. It is 0 when to is
// not after from's day.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	n := 0
	for d, end := dayOf(from.In(c.loc)), dayOf(to.In(c.loc)); d < end; {
		d++
		if c.isWorking(d) {
			n++
		}
	}
	return n
}

// Span is the length of a deadline as the rules state it: either
// wall-clock hours (urgent cases run through nights and holidays) or
// working days. Exactly one is set.
type Span struct {
	Hours       int `json:"hours,omitempty"`
	WorkingDays int `json:"working_days,omitempty"`
}

// Validate rejects a span that sets both or neither length, or a negative
// one, so that a configuration mistake fails at start rather than at the
// first complaint.
func (s Span) Validate() error {
	switch {
	case s.Hours < 0 || s.WorkingDays < 0:
		return fmt.Errorf("negative deadline %+v", s)
	case s.Hours > 0 && s.WorkingDays > 0:
		return fmt.Errorf("deadline sets both hours (%d) and working days (%d)", s.Hours, s.WorkingDays)
	case s.Hours == 0 && s.WorkingDays == 0:
		return errors.New("deadline sets neither hours nor working days")
	}
	return nil
}

// String renders the span for logs and explanations, e.g. "2h" or "3wd".
func (s Span) String() string {
	if s.Hours > 0 {
		return fmt.Sprintf("%dh", s.Hours)
	}
	return fmt.Sprintf("%dwd", s.WorkingDays)
}

// Deadline applies a span to t: hours are added on the wall clock, working
// days follow AddWorkingDays. An invalid span is an error.
func (c *Calendar) Deadline(t time.Time, s Span) (time.Time, error) {
	if err := s.Validate(); err != nil {
		return time.Time{}, err
	}
	if s.Hours > 0 {
		return t.In(c.loc).Add(time.Duration(s.Hours) * time.Hour), nil
	}
	return c.AddWorkingDays(t, s.WorkingDays), nil
}
