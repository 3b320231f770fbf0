package main

import (
	"io"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai on hosts without a zoneinfo database

	"github.com/mattn/go-runewidth"
)

// table writes rows in aligned columns by their width on a terminal:
// text/tabwriter counts a Chinese character as one column, where a
// terminal gives it two, so a name like 王小明 pushed the columns after it
// out of line.
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer, header ...string) *table {
	return &table{w: w, rows: [][]string{header}}
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// flush writes the rows, each column as wide as its widest cell and two
// spaces apart; the last column is not padded.
func (t *table) flush() error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

// xiamenTime is the bureau's time zone, whatever the zone of the host the
// command runs on (a container's is UTC).
var xiamenTime = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}()

// clock shows t as an operator in Xiamen reads it, its offset said:
// 2026-12-08 01:56:15 +08:00.
func clock(t time.Time) string { return t.In(xiamenTime).Format("2006-01-02 15:04:05 -07:00") }
