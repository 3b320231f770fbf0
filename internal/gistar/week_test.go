package gistar

import (
	"testing"
	"time"
)

func TestWeekBounds(t *testing.T) {
	t.Parallel()
	cst := time.FixedZone("UTC+8", 8*60*60)
	tests := []struct {
		week  string
		start time.Time
	}{
		{"2024-W01", time.Date(2024, 1, 1, 0, 0, 0, 0, cst)},
		{"2024-W11", time.Date(2024, 3, 11, 0, 0, 0, 0, cst)},
		{"2025-W01", time.Date(2024, 12, 30, 0, 0, 0, 0, cst)},
		{"2026-W01", time.Date(2025, 12, 29, 0, 0, 0, 0, cst)},
		{"2026-W53", time.Date(2026, 12, 28, 0, 0, 0, 0, cst)},
		{"2020-W53", time.Date(2020, 12, 28, 0, 0, 0, 0, cst)},
		{"2021-W01", time.Date(2021, 1, 4, 0, 0, 0, 0, cst)},
		{"2024-W52", time.Date(2024, 12, 23, 0, 0, 0, 0, cst)},
	}
	for _, tt := range tests {
		t.Run(tt.week, func(t *testing.T) {
			t.Parallel()
			start, end, err := WeekBounds(tt.week)
			if err != nil {
				t.Fatalf("WeekBounds(%q): %v", tt.week, err)
			}
			if !start.Equal(tt.start) {
				t.Errorf("start = %v, want %v", start, tt.start)
			}
			if want := tt.start.AddDate(0, 0, 7); !end.Equal(want) {
				t.Errorf("end = %v, want %v", end, want)
			}
			if start.In(shanghai).Weekday() != time.Monday || start.In(shanghai).Hour() != 0 {
				t.Errorf("start %v is not Monday 00:00 in Shanghai", start.In(shanghai))
			}
			if got := WeekOf(start); got != tt.week {
				t.Errorf("WeekOf(start) = %q, want %q", got, tt.week)
			}
			if got := WeekOf(end.Add(-time.Nanosecond)); got != tt.week {
				t.Errorf("WeekOf(end-1ns) = %q, want %q", got, tt.week)
			}
			if got := WeekOf(end); got == tt.week {
				t.Errorf("WeekOf(end) = %q, want the next week", got)
			}
		})
	}
}

func TestWeekBoundsRejects(t *testing.T) {
	t.Parallel()
	for _, week := range []string{
		"", "2024", "2024-11", "2024W11", "2024-w11", "2024-W1", "2024-W001",
		"2024-W00", "2024-W53", "2025-W53", "2026-W54", "abcd-W01", "2024-W+1", "0000-W01",
	} {
		if _, _, err := WeekBounds(week); err == nil {
			t.Errorf("WeekBounds(%q) accepted an invalid week", week)
		}
	}
}

func TestWeekOfUsesShanghaiTime(t *testing.T) {
	t.Parallel()
	// Sunday 2024-03-17 17:00 UTC is Monday 01:00 in Shanghai: week 12 there.
	if got := WeekOf(time.Date(2024, 3, 17, 17, 0, 0, 0, time.UTC)); got != "2024-W12" {
		t.Errorf("WeekOf = %q, want 2024-W12", got)
	}
	if got := WeekOf(time.Date(2024, 3, 17, 15, 59, 0, 0, time.UTC)); got != "2024-W11" {
		t.Errorf("WeekOf = %q, want 2024-W11", got)
	}
}
