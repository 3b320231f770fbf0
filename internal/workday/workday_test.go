package workday

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func setup(t *testing.T) *Calendar {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("load calendar: %v", err)
	}
	return c
}

// at parses "2006-01-02 15:04" in Asia/Shanghai.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func endOf(t *testing.T, date string) time.Time {
	t.Helper()
	return at(t, date+" 23:59").Add(59 * time.Second)
}

func TestIsWorkingDay(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		date string
		want bool
		why  string
	}{
		{"2024-01-01", false, "New Year's Day 2024"},
		{"2024-01-02", true, "ordinary Tuesday"},
		{"2024-02-04", true, "Sunday worked before Spring Festival 2024"},
		{"2024-02-09", true, "除夕 2024 was not a statutory holiday"},
		{"2024-02-10", false, "Spring Festival 2024 first day"},
		{"2024-02-17", false, "Spring Festival 2024 last day"},
		{"2024-02-18", true, "Sunday worked after Spring Festival 2024"},
		{"2024-04-04", false, "Qingming 2024"},
		{"2024-04-07", true, "Sunday worked after Qingming 2024"},
		{"2024-04-28", true, "Sunday worked before Labour Day 2024"},
		{"2024-05-03", false, "Labour Day 2024"},
		{"2024-05-11", true, "Saturday worked after Labour Day 2024"},
		{"2024-06-10", false, "Dragon Boat 2024"},
		{"2024-09-14", true, "Saturday worked before Mid-Autumn 2024"},
		{"2024-09-16", false, "Mid-Autumn 2024"},
		{"2024-09-29", true, "Sunday worked before National Day 2024"},
		{"2024-10-01", false, "National Day 2024"},
		{"2024-10-07", false, "National Day 2024 last day"},
		{"2024-10-08", true, "first Tuesday back"},
		{"2024-10-12", true, "Saturday worked after National Day 2024"},
		{"2024-10-13", false, "ordinary Sunday"},
		{"2025-01-01", false, "New Year's Day 2025"},
		{"2025-01-26", true, "Sunday worked before Spring Festival 2025"},
		{"2025-01-28", false, "除夕 2025, a statutory holiday under the 2025 rules"},
		{"2025-02-04", false, "Spring Festival 2025 last day"},
		{"2025-02-05", true, "back to work 2025"},
		{"2025-02-08", true, "Saturday worked after Spring Festival 2025"},
		{"2025-04-04", false, "Qingming 2025"},
		{"2025-04-27", true, "Sunday worked before Labour Day 2025"},
		{"2025-05-02", false, "Labour Day 2025, the added statutory day"},
		{"2025-05-05", false, "Labour Day 2025 last day"},
		{"2025-05-10", false, "ordinary Saturday after Labour Day 2025"},
		{"2025-06-02", false, "Dragon Boat 2025"},
		{"2025-09-28", true, "Sunday worked before National Day 2025"},
		{"2025-10-06", false, "Mid-Autumn 2025 inside National Day"},
		{"2025-10-08", false, "National Day 2025 last day"},
		{"2025-10-11", true, "Saturday worked after National Day 2025"},
		{"2026-01-02", false, "New Year 2026"},
		{"2026-01-04", true, "Sunday worked after New Year 2026"},
		{"2026-02-14", true, "Saturday worked before Spring Festival 2026"},
		{"2026-02-15", false, "Spring Festival 2026 first day"},
		{"2026-02-23", false, "Spring Festival 2026 last day"},
		{"2026-02-24", true, "back to work 2026"},
		{"2026-02-28", true, "Saturday worked after Spring Festival 2026"},
		{"2026-05-05", false, "Labour Day 2026 last day"},
		{"2026-05-09", true, "Saturday worked after Labour Day 2026"},
		{"2026-06-19", false, "Dragon Boat 2026"},
		{"2026-09-20", true, "Sunday worked before National Day 2026"},
		{"2026-09-25", false, "Mid-Autumn 2026"},
		{"2026-10-07", false, "National Day 2026 last day"},
		{"2026-10-10", true, "Saturday worked after National Day 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			t.Parallel()
			for _, clock := range []string{"00:00", "12:00", "23:59"} {
				if got := c.IsWorkingDay(at(t, tt.date+" "+clock)); got != tt.want {
					t.Errorf("IsWorkingDay(%s %s) = %v, want %v (%s)", tt.date, clock, got, tt.want, tt.why)
				}
			}
		})
	}
}

// A timestamp in UTC is judged by its Shanghai date: 2024-09-30 17:00 UTC
// is already 1 October, National Day, in Xiamen.
func TestIsWorkingDayUsesShanghaiDate(t *testing.T) {
	t.Parallel()
	c := setup(t)
	utc := time.Date(2024, 9, 30, 17, 0, 0, 0, time.UTC)
	if c.IsWorkingDay(utc) {
		t.Errorf("IsWorkingDay(%s) = true, want false: it is 2024-10-01 in Xiamen", utc)
	}
	if !c.IsWorkingDay(utc.Add(-2 * time.Hour)) {
		t.Errorf("IsWorkingDay(%s) = false, want true: it is 2024-09-30 23:00 in Xiamen", utc.Add(-2*time.Hour))
	}
}

// Outside the announced years the calendar keeps weekends and the
// holidays fixed by date: 2030's New Year's Day, a Tuesday, is off, while
// its Spring Festival (lunar) counts as working days until the year's
// announcement is added, and Covers says so.
func TestOutsideCalendarFallsBackToWeekends(t *testing.T) {
	t.Parallel()
	c := setup(t)
	first, last := c.Years()
	if first != 2024 || last < 2026 {
		t.Fatalf("Years() = %d..%d, want 2024..2026 or later", first, last)
	}
	tests := []struct {
		date   string
		want   bool
		covers bool
	}{
		{"2030-01-01", false, false}, // Tuesday, 元旦
		{"2030-01-02", true, false},  // Wednesday
		{"2030-01-05", false, false}, // Saturday
		{"2030-02-04", true, false},  // Monday of Spring Festival 2030: lunar, unknown
		{"2030-05-02", false, false}, // Thursday, 劳动节
		{"2030-05-03", true, false},  // Friday: a bridging day only an announcement gives
		{"2030-10-03", false, false}, // Thursday, 国庆节
		{"2030-10-04", true, false},  // Friday
		{"2023-10-02", false, false}, // Monday of National Day 2023, before the calendar
		{"2023-10-05", true, false},  // Thursday after it: announced off in 2023, unknown here
		{"2024-01-01", false, true},
	}
	for _, tt := range tests {
		d := at(t, tt.date+" 10:00")
		if got := c.IsWorkingDay(d); got != tt.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.date, got, tt.want)
		}
		if got := c.Covers(d); got != tt.covers {
			t.Errorf("Covers(%s) = %v, want %v", tt.date, got, tt.covers)
		}
	}
	if got, want := c.AddWorkingDays(at(t, "2030-01-04 10:00"), 1), endOf(t, "2030-01-07"); !got.Equal(want) {
		t.Errorf("AddWorkingDays(Fri 2030-01-04, 1) = %s, want %s", got, want)
	}
	// A deadline counted over the New Year of a year not yet announced
	// skips 1 January.
	if got, want := c.AddWorkingDays(at(t, "2029-12-31 10:00"), 1), endOf(t, "2030-01-02"); !got.Equal(want) {
		t.Errorf("AddWorkingDays(Mon 2029-12-31, 1) = %s, want %s", got, want)
	}
	if name, adjusted, ok := c.Holiday(at(t, "2030-10-02 10:00")); !ok || adjusted || name != "国庆节" {
		t.Errorf("Holiday(2030-10-02) = %q, %v, %v; want 国庆节, false, true", name, adjusted, ok)
	}
	if name, _, ok := c.Holiday(at(t, "2030-02-04 10:00")); ok {
		t.Errorf("Holiday(2030-02-04) = %q, want none: the lunar holidays wait for the announcement", name)
	}
}

func TestAddWorkingDays(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{"ordinary Monday, 1 day", "2024-03-04 09:00", 1, "2024-03-05"},
		{"ordinary Friday skips weekend", "2024-03-08 16:00", 1, "2024-03-11"},
		{"ordinary Monday, 5 days", "2024-03-04 09:00", 5, "2024-03-11"},
		{"Saturday starts on Monday", "2024-03-09 10:00", 1, "2024-03-11"},
		{"Sunday night starts on Monday", "2024-03-10 23:30", 3, "2024-03-13"},
		{"n=0 on a working day is the same day", "2024-03-04 09:00", 0, "2024-03-04"},
		{"n=0 on a day off is the next working day", "2024-02-12 09:00", 0, "2024-02-18"},
		{"Fri before Spring Festival 2024 to adjusted Sunday", "2024-02-09 15:00", 1, "2024-02-18"},
		{"Fri before Spring Festival 2024, 3 days", "2024-02-09 15:00", 3, "2024-02-20"},
		{"Fri before Spring Festival 2024, 5 days", "2024-02-09 15:00", 5, "2024-02-22"},
		{"during Spring Festival 2024", "2024-02-14 08:00", 1, "2024-02-18"},
		{"adjusted Sunday 2024-02-04 counts as received on a working day", "2024-02-04 10:00", 1, "2024-02-05"},
		{"Thu 2024-02-08 crosses Spring Festival", "2024-02-08 10:00", 2, "2024-02-18"},
		{"Sat 2024-09-28 to adjusted Sunday before National Day", "2024-09-28 10:00", 1, "2024-09-29"},
		{"adjusted Sunday 2024-09-29 into National Day 2024", "2024-09-29 10:00", 1, "2024-09-30"},
		{"Mon 2024-09-30 over National Day 2024", "2024-09-30 18:00", 1, "2024-10-08"},
		{"Mon 2024-09-30, 5 days reaches adjusted Saturday", "2024-09-30 18:00", 5, "2024-10-12"},
		{"Thu 2024-10-10, 2 days reaches adjusted Saturday", "2024-10-10 09:00", 2, "2024-10-12"},
		{"Fri 2025-01-24 to adjusted Sunday 2025-01-26", "2025-01-24 11:00", 1, "2025-01-26"},
		{"Sun 2025-01-26 over Spring Festival 2025", "2025-01-26 11:00", 2, "2025-02-05"},
		{"Spring Festival 2025, 3 days reaches adjusted Saturday", "2025-01-30 11:00", 3, "2025-02-07"},
		{"Spring Festival 2025, 4 days counts adjusted Saturday", "2025-01-30 11:00", 4, "2025-02-08"},
		{"Wed 2025-04-30 over Labour Day 2025", "2025-04-30 17:00", 1, "2025-05-06"},
		{"Fri 2025-09-26 to adjusted Sunday 2025-09-28", "2025-09-26 17:00", 1, "2025-09-28"},
		{"Tue 2025-09-30 over National Day 2025", "2025-09-30 17:00", 1, "2025-10-09"},
		{"Wed 2025-12-31 over New Year 2026", "2025-12-31 20:00", 1, "2026-01-04"},
		{"Fri 2026-02-13 to adjusted Saturday 2026-02-14", "2026-02-13 10:00", 1, "2026-02-14"},
		{"Sat 2026-02-14 over Spring Festival 2026", "2026-02-14 10:00", 1, "2026-02-24"},
		{"Spring Festival 2026, 5 days reaches adjusted Saturday", "2026-02-20 10:00", 5, "2026-02-28"},
		{"Wed 2026-09-30 over National Day 2026", "2026-09-30 10:00", 3, "2026-10-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.AddWorkingDays(at(t, tt.from), tt.n)
			if want := endOf(t, tt.want); !got.Equal(want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.from, tt.n, got, want)
			}
			if got.Location().String() != Zone {
				t.Errorf("deadline in %s, want %s", got.Location(), Zone)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		name string
		from time.Time
		span Span
		want time.Time
	}{
		{
			name: "urgent sign-for runs through the Spring Festival night",
			from: at(t, "2024-02-10 23:00"),
			span: Span{Hours: 2},
			want: at(t, "2024-02-11 01:00"),
		},
		{
			name: "urgent resolve runs through National Day",
			from: at(t, "2024-10-01 09:30"),
			span: Span{Hours: 24},
			want: at(t, "2024-10-02 09:30"),
		},
		{
			name: "urgent hours are wall clock from a UTC timestamp",
			from: time.Date(2025, 1, 28, 20, 0, 0, 0, time.UTC),
			span: Span{Hours: 24},
			want: time.Date(2025, 1, 29, 20, 0, 0, 0, time.UTC),
		},
		{
			name: "normal sign-for over Spring Festival 2024",
			from: at(t, "2024-02-09 15:00"),
			span: Span{WorkingDays: 1},
			want: endOf(t, "2024-02-18"),
		},
		{
			name: "normal resolve over National Day 2024",
			from: at(t, "2024-09-27 10:00"),
			span: Span{WorkingDays: 5},
			want: endOf(t, "2024-10-10"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Deadline(tt.from, tt.span)
			if err != nil {
				t.Fatalf("Deadline: %v", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Deadline(%s, %s) = %s, want %s", tt.from, tt.span, got, tt.want)
			}
		})
	}
}

func TestSpanValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		span Span
		ok   bool
	}{
		{Span{Hours: 2}, true},
		{Span{WorkingDays: 5}, true},
		{Span{}, false},
		{Span{Hours: 2, WorkingDays: 1}, false},
		{Span{Hours: -1}, false},
		{Span{WorkingDays: -3}, false},
	}
	c := setup(t)
	for _, tt := range tests {
		err := tt.span.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.span, err, tt.ok)
		}
		if _, err := c.Deadline(at(t, "2024-03-04 10:00"), tt.span); (err == nil) != tt.ok {
			t.Errorf("Deadline with %+v: err = %v, want ok=%v", tt.span, err, tt.ok)
		}
	}
}

// Property: for every start time across the calendar's years and every n,
// a working-day deadline ends a working day, lies after the start, is
// exactly n working days later, and moving one working day further adds one.
func TestAddWorkingDaysProperties(t *testing.T) {
	t.Parallel()
	c := setup(t)
	rng := rand.New(rand.NewPCG(2024, 12345))
	start := at(t, "2023-12-20 00:00")
	span := at(t, "2027-01-10 00:00").Sub(start)
	iterations := 20000
	if testing.Short() {
		iterations = 2000
	}
	for range iterations {
		from := start.Add(time.Duration(rng.Int64N(int64(span))))
		n := 1 + rng.IntN(10)
		due := c.AddWorkingDays(from, n)
		if !c.IsWorkingDay(due) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, not a working day", from, n, due)
		}
		if !due.After(from) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, not after the start", from, n, due)
		}
		if !due.Equal(c.EndOfDay(due)) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, not the end of a day", from, n, due)
		}
		if got := c.WorkingDaysBetween(from, due); got != n {
			t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", from, due, got, n)
		}
		if next := c.AddWorkingDays(from, n+1); c.WorkingDaysBetween(due, next) != 1 {
			t.Fatalf("AddWorkingDays(%s, %d) = %s is not one working day after %s", from, n+1, next, due)
		}
	}
}

// The day arithmetic agrees with the time package on every date from 1900
// to 2200: number, date, weekday and text.
func TestDayNumbers(t *testing.T) {
	t.Parallel()
	want := day(-25567) // 1900-01-01
	for tm := time.Date(1900, 1, 1, 12, 0, 0, 0, time.UTC); tm.Year() < 2200; tm = tm.AddDate(0, 0, 1) {
		d := dayOf(tm)
		if d != want {
			t.Fatalf("dayOf(%s) = %d, want %d", tm.Format(time.DateOnly), d, want)
		}
		want++
		if y, m, dd := d.date(); y != tm.Year() || m != tm.Month() || dd != tm.Day() {
			t.Fatalf("day %d date() = %d-%d-%d, want %s", d, y, m, dd, tm.Format(time.DateOnly))
		}
		if d.weekday() != tm.Weekday() {
			t.Fatalf("day %s weekday %s, want %s", d, d.weekday(), tm.Weekday())
		}
		if d.String() != tm.Format(time.DateOnly) {
			t.Fatalf("day %d String() = %s, want %s", d, d, tm.Format(time.DateOnly))
		}
	}
}

func TestHoliday(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		date     string
		name     string
		adjusted bool
		ok       bool
	}{
		{"2024-02-12", "春节", false, true},
		{"2024-02-18", "春节", true, true},
		{"2025-10-06", "国庆节、中秋节", false, true},
		{"2024-03-12", "", false, false},
	}
	for _, tt := range tests {
		name, adjusted, ok := c.Holiday(at(t, tt.date+" 12:00"))
		if name != tt.name || adjusted != tt.adjusted || ok != tt.ok {
			t.Errorf("Holiday(%s) = %q, %v, %v; want %q, %v, %v", tt.date, name, adjusted, ok, tt.name, tt.adjusted, tt.ok)
		}
	}
}

func TestNewRejectsBadAnnouncements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want string
	}{
		{"no years", `{"years": []}`, "no years"},
		{"worked weekday", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-01-01", "to": "2024-01-01", "work": ["2024-01-03"]}]}]}`, "not a weekend day"},
		{"day off twice", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-05-01", "to": "2024-05-03"}, {"name": "y", "from": "2024-05-03", "to": "2024-05-04"}]}]}`, "day 2024-05-03 off twice"},
		{"off and worked", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-02-10", "to": "2024-02-17", "work": ["2024-02-11"]}]}]}`, "both off and worked"},
		{"date in other year", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2025-01-01", "to": "2025-01-01"}]}]}`, "outside year 2024"},
		{"november before", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2023-11-30", "to": "2023-11-30"}]}]}`, "outside year 2024"},
		{"reversed range", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-05-05", "to": "2024-05-01"}]}]}`, "before it starts"},
		{"too long", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-05-01", "to": "2024-05-30"}]}]}`, "longer than ten days"},
		{"gap", `{"years": [{"year": 2024, "holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]}, {"year": 2026, "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-01"}]}]}`, "year 2025 missing"},
		{"duplicate year", `{"years": [{"year": 2024, "holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]}, {"year": 2024, "holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]}]}`, "listed twice"},
		{"year without holidays", `{"years": [{"year": 2024, "holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]}, {"year": 2025, "holidays": []}]}`, "year 2025 lists no holidays"},
		{"bad zone", `{"timezone": "Mars/Olympus", "years": [{"year": 2024, "holidays": [{"name": "元旦", "from": "2024-01-01", "to": "2024-01-01"}]}]}`, "time zone"},
		{"bad date", `{"years": [{"year": 2024, "holidays": [{"name": "x", "from": "2024-13-01", "to": "2024-13-01"}]}]}`, "parse date"},
		{"not json", `{`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadFS(fstest.MapFS{SeedFile: {Data: []byte(tt.json)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFS = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// The seed must hold the yearly totals the State Council announced: the
// number of days off per holiday and adjusted working days per year.
func TestSeedTotals(t *testing.T) {
	t.Parallel()
	c := setup(t)
	offPerYear := map[int]int{}
	workPerYear := map[int]int{}
	for d := range c.off {
		y, _, _ := d.date()
		offPerYear[y]++
	}
	for d := range c.work {
		y, _, _ := d.date()
		workPerYear[y]++
	}
	// 2024: 1+8+3+5+1+3+7 days off, 8 adjusted working days.
	// 2025: 1+8+3+5+3+8 days off, 5 adjusted working days.
	// 2026: 3+9+3+5+3+3+7 days off, 6 adjusted working days.
	want := map[int][2]int{2024: {28, 8}, 2025: {28, 5}, 2026: {33, 6}}
	for y, w := range want {
		if offPerYear[y] != w[0] || workPerYear[y] != w[1] {
			t.Errorf("%d: %d days off and %d adjusted working days, want %d and %d", y, offPerYear[y], workPerYear[y], w[0], w[1])
		}
	}
}

func BenchmarkAddWorkingDays(b *testing.B) {
	c, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2024, 2, 9, 15, 0, 0, 0, shanghai)
	for b.Loop() {
		_ = c.AddWorkingDays(from, 5)
	}
}

func BenchmarkIsWorkingDay(b *testing.B) {
	c, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	d := time.Date(2024, 10, 3, 15, 0, 0, 0, shanghai)
	for b.Loop() {
		_ = c.IsWorkingDay(d)
	}
}

// An operator's calendar file adds a year to the built-in calendar, or
// replaces one, without a new build; a file that would leave a gap or
// another time zone is refused, naming the file.
func TestLoadWithAddsTheOperatorsYears(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Made-up holidays: the test needs days off, not the real announcement.
	next := write("next.json", `{"years": [{"year": 2027, "holidays": [
		{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "work": []},
		{"name": "测试假日", "from": "2027-03-08", "to": "2027-03-10", "work": ["2027-03-13"]}]}]}`)
	c, err := LoadWith(next)
	if err != nil {
		t.Fatal(err)
	}
	if first, last := c.Years(); first != 2024 || last != 2027 {
		t.Errorf("years %d..%d, want 2024..2027", first, last)
	}
	if !c.Covers(at(t, "2027-06-01 12:00")) {
		t.Error("2027 not covered")
	}
	for date, want := range map[string]bool{
		"2027-03-09": false, // the file's holiday
		"2027-03-13": true,  // its adjusted working Saturday
		"2026-10-01": false, // the built-in National Day 2026 stays
		"2024-02-18": true,  // and 2024's adjusted working Sunday
	} {
		if got := c.IsWorkingDay(at(t, date+" 12:00")); got != want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", date, got, want)
		}
	}
	// A sign-for deadline of one working day from the eve of the file's
	// holiday lands after it.
	due, err := c.Deadline(at(t, "2027-03-05 16:00"), Span{WorkingDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := endOf(t, "2027-03-11"); !due.Equal(want) {
		t.Errorf("deadline %s, want %s", due, want)
	}

	replace := write("replace.json", `{"years": [{"year": 2026, "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-01"}]}]}`)
	c, err = LoadWith(replace)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsWorkingDay(at(t, "2026-10-08 12:00")) {
		t.Error("the file's 2026 did not replace the built-in one")
	}

	for name, tt := range map[string]struct{ body, want string }{
		"gap":     {`{"years": [{"year": 2028, "holidays": [{"name": "元旦", "from": "2028-01-01", "to": "2028-01-01"}]}]}`, "year 2027 missing"},
		"zone":    {`{"timezone": "UTC", "years": [{"year": 2027, "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}]}]}`, `time zone "UTC"`},
		"empty":   {`{"years": []}`, "lists no years"},
		"no days": {`{"years": [{"year": 2027, "holidays": []}]}`, "year 2027 lists no holidays"},
		"broken":  {`{"years": [`, "decode"},
	} {
		p := write(name+".json", tt.body)
		_, err := LoadWith(p)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: LoadWith = %v, want an error naming %s and %q", name, err, p, tt.want)
		}
	}
	if _, err := LoadWith(dir + "/missing.json"); err == nil {
		t.Error("a missing file was accepted")
	}
}

// The calendar a process sets deadlines by (LoadWith) is exported with
// when it stops knowing public holidays, 1 January 00:00 in Xiamen after
// its last year, for the alert that next year's announcement is missing;
// an operator's file adding a year moves it a year on.
func TestLoadWithExportsWhenTheCalendarEnds(t *testing.T) {
	t.Parallel()
	c, err := LoadWith("")
	if err != nil {
		t.Fatal(err)
	}
	_, last := c.Years()
	end := c.CoveredUntil()
	if want := time.Date(last+1, time.January, 1, 0, 0, 0, 0, shanghai); !end.Equal(want) {
		t.Errorf("built-in calendar covered until %s, want %s", end, want)
	}
	if !c.Covers(end.Add(-time.Second)) || c.Covers(end) {
		t.Errorf("Covers disagrees with CoveredUntil %s", end)
	}
	if got := exportedUntil(t, "built-in"); got != float64(end.Unix()) {
		t.Errorf("built-in calendar exported as covered until %v, want %d", got, end.Unix())
	}

	// Made-up holidays: the test needs a year, not the real announcement.
	file := t.TempDir() + "/calendar.json"
	if err := os.WriteFile(file, []byte(`{"years": [{"year": 2027, "holidays": [
		{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "work": []}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = LoadWith(file)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2027, time.December, 31, 16, 0, 0, 0, time.UTC) // 2028-01-01 00:00 +08:00
	if !c.CoveredUntil().Equal(want) {
		t.Errorf("with 2027 added, covered until %s, want %s", c.CoveredUntil(), want)
	}
	if got := exportedUntil(t, file); got != float64(want.Unix()) {
		t.Errorf("the operator's calendar exported as covered until %v, want %d", got, want.Unix())
	}
}

// exportedUntil is the process's nuisance_calendar_covered_until_timestamp_seconds
// of a calendar, as Prometheus scrapes it.
func exportedUntil(t *testing.T, calendar string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "nuisance_calendar_covered_until_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "calendar" && l.GetValue() == calendar {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no covered-until metric of calendar %s", calendar)
	return 0
}

// A notice gives New Year's Day's days off and the Saturday worked for
// them in the December before its year when 1 January is a Monday or a
// Tuesday, as 2018's and 2019's did (2019's was published in December
// 2018): the calendar takes them, in the first year too, and counts
// deadlines through them.
func TestAnnouncementsReachIntoTheDecemberBefore(t *testing.T) {
	t.Parallel()
	c, err := New(File{Years: []Year{
		{Year: 2018, Source: "国务院办公厅关于2018年部分节假日安排的通知", Holidays: []Holiday{
			{Name: "元旦", From: "2017-12-30", To: "2018-01-01"}}},
		{Year: 2019, Source: "国务院办公厅关于2019年部分节假日安排的通知", Holidays: []Holiday{
			{Name: "元旦", From: "2018-12-30", To: "2019-01-01", WorkingDays: []string{"2018-12-29"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for date, want := range map[string]bool{
		"2017-12-29": true,  // Friday before the first year's holiday
		"2018-01-01": false, // Monday, New Year's Day
		"2018-12-28": true,  // Friday
		"2018-12-29": true,  // Saturday worked for 2019's New Year
		"2018-12-31": false, // Monday off, given by 2019's notice
		"2019-01-02": true,
	} {
		if got := c.IsWorkingDay(at(t, date+" 12:00")); got != want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", date, got, want)
		}
	}
	if name, adjusted, ok := c.Holiday(at(t, "2018-12-29 12:00")); name != "元旦" || !adjusted || !ok {
		t.Errorf("Holiday(2018-12-29) = %q, %v, %v; want 元旦's adjusted working day", name, adjusted, ok)
	}
	// 2019 alone: its days of December 2018 still count.
	first, err := New(File{Years: []Year{{Year: 2019, Holidays: []Holiday{
		{Name: "元旦", From: "2018-12-30", To: "2019-01-01", WorkingDays: []string{"2018-12-29"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if first.IsWorkingDay(at(t, "2018-12-31 12:00")) || !first.IsWorkingDay(at(t, "2018-12-29 12:00")) {
		t.Error("a calendar beginning with 2019 does not take its days of December 2018")
	}
	// Two working days from Friday 2018-12-28: Saturday the 29th, then
	// Wednesday 2 January.
	for _, c := range []*Calendar{c, first} {
		if due := c.AddWorkingDays(at(t, "2018-12-28 10:00"), 2); !due.Equal(endOf(t, "2019-01-02")) {
			t.Errorf("deadline %s, want the end of 2019-01-02", due)
		}
	}
}
