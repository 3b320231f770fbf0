package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageSource string

// HTMLHotspotRows, HTMLCellRows and HTMLCaseRows cap the rows of the
// printed tables; the CSV, GeoJSON and JSON keep every row.
const (
	HTMLHotspotRows = 40
	HTMLCellRows    = 15
	HTMLCaseRows    = 30
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"category":    CategoryName,
	"trend":       func(c string) string { return label(trendNames, c) },
	"class":       func(c string) string { return label(classNames, c) },
	"hstatus":     func(c string) string { return label(hotspotStatusNames, c) },
	"cstatus":     func(c string) string { return label(caseStatusNames, c) },
	"deadline":    func(c string) string { return label(deadlineNames, c) },
	"pct100":      pct100,
	"rate":        ratePct,
	"repeatPct":   repeatPct,
	"change":      change,
	"changeClass": changeClass,
	"datetime":    func(t time.Time) string { return t.In(shanghai).Format("2006-01-02 15:04") },
	"place":       placeOf,
	"f1":          func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2":          func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f3":          func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"add":         func(a, b int) int { return a + b },
	"join":        func(s []string) string { return strings.Join(s, "、") },
}).Parse(pageSource))

// htmlView is what the page template reads: the report and the parts the
// template cannot compute itself.
type htmlView struct {
	*Report
	WeekLabel   string
	WeekDates   string
	TotalCount  Count
	MapSVG      template.HTML
	TrendSVG    template.HTML
	Hotspots    []Hotspot
	MoreHotspot int
	Gistar      []gistarView
	Overdue     []OverdueCase
	MoreOverdue int
	Teams       []TeamRate
}

type gistarView struct {
	Category string
	Points   int
	Cells    []Cell
	More     int
	Cooled   int
	Omitted  int
	MinCount int
}

// renderHTML writes the page: self-contained (inline CSS and SVG, no
// script, no external resource), in Chinese, laid out for A4.
func renderHTML(r *Report, w io.Writer) error {
	m, err := mapSVG(r)
	if err != nil {
		return err
	}
	v := htmlView{
		Report:     r,
		WeekLabel:  weekLabel(r.Week),
		WeekDates:  weekDates(r.Start, r.End.Add(-time.Hour)),
		TotalCount: NewCount(r.Total, r.PreviousTotal),
		// Both SVGs are built from numbers and escaped text only.
		MapSVG:   template.HTML(m),
		TrendSVG: template.HTML(trendSVG(r)),
	}
	v.Hotspots, v.MoreHotspot = capped(r.Hotspots, HTMLHotspotRows)
	v.Overdue, v.MoreOverdue = capped(r.Timeliness.Overdue, HTMLCaseRows)
	v.MoreOverdue = r.Timeliness.OverdueTotal - len(v.Overdue)
	for _, t := range r.Timeliness.ByTeam {
		if t.Sign.Due+t.Resolve.Due > 0 {
			v.Teams = append(v.Teams, t)
		}
	}
	for _, g := range r.Gistar {
		cells, more := capped(g.Cells, HTMLCellRows)
		v.Gistar = append(v.Gistar, gistarView{Category: g.Category, Points: g.Points, Cells: cells, More: more, Cooled: len(g.Cooled), Omitted: g.Omitted, MinCount: g.MinCount})
	}
	return page.Execute(w, v)
}

func capped[T any](s []T, n int) ([]T, int) {
	if len(s) <= n {
		return s, 0
	}
	return s[:n], len(s) - n
}

// weekLabel writes "2024-W11" as "2024年第11周".
func weekLabel(week string) string {
	if len(week) != 8 {
		return week
	}
	return week[:4] + "年第" + strings.TrimLeft(week[6:], "0") + "周"
}

// weekDates writes a week's first and last day, "3月11日—3月17日"; a week
// across the new year names both years, "2026年12月28日—2027年1月3日": its
// label's year is that of only some of its days.
func weekDates(first, last time.Time) string {
	first, last = first.In(shanghai), last.In(shanghai)
	layout := "1月2日"
	if first.Year() != last.Year() {
		layout = "2006年1月2日"
	}
	return first.Format(layout) + "—" + last.Format(layout)
}

// pct100 writes a ratio as a percentage, "—" when there is none.
func pct100(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100**v)
}

// ratePct writes a rate as a percentage from its counts, "—" when none
// was due.
func ratePct(r Rate) string {
	if r.Due == 0 {
		return "—"
	}
	return tenths(int64(r.OnTime), int64(r.Due), false)
}

// repeatPct writes the repeat-complaint rate from its counts.
func repeatPct(r Repeat) string {
	if r.Complaints == 0 {
		return "—"
	}
	return tenths(int64(r.Repeats), int64(r.Complaints), false)
}

// tenths writes a/b as a percentage with one decimal, rounded once, half
// away from zero, from the counts themselves: the four-decimal ratios of
// the JSON rounded again (or Printf's rounding of an exact half to even)
// would show 15 of 19 (78.947%) as 79.0% and 1 of 16 (6.25%) as 6.2%.
func tenths(a, b int64, sign bool) string {
	neg := a < 0
	if neg {
		a = -a
	}
	t := (2000*a + b) / (2 * b)
	s := fmt.Sprintf("%d.%d%%", t/10, t%10)
	switch {
	case neg:
		// A fall keeps its sign even when it rounds to 0.0%, as a rise
		// does (+0.0%).
		s = "-" + s
	case sign && !neg:
		s = "+" + s
	}
	return s
}

// change writes a week-over-week change as "+12（+8.5%）".
func change(c Count) string {
	s := fmt.Sprintf("%+d", c.Change)
	if c.Change == 0 {
		s = "0"
	}
	if c.Previous > 0 {
		s += "（" + tenths(int64(c.Change), int64(c.Previous), true) + "）"
	} else if c.Count > 0 {
		s += "（新增）"
	}
	return s
}

func changeClass(c Count) string {
	switch {
	case c.Change > 0:
		return "up"
	case c.Change < 0:
		return "down"
	}
	return "flat"
}
