package report

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/xiamen-eeb/nuisance/internal/geo"
)

// categoryColors tell the categories apart in the map and the chart; gray
// is for complaints without a category.
var categoryColors = map[string]string{
	"noise":         "#d9480f",
	"dust":          "#8d6e3f",
	"cooking_smoke": "#7048e8",
}

const unclassifiedColor = "#adb5bd"

func categoryColor(c string) string {
	if v, ok := categoryColors[c]; ok {
		return v
	}
	return unclassifiedColor
}

// districtFills shade the districts in the order geo lists them.
var districtFills = []string{"#e7f5ff", "#ebfbee", "#fff9db", "#f3f0ff", "#fff0f6", "#e6fcf5"}

// mapWidth is the SVG map's width in user units; the page scales it.
const mapWidth = 680.0

// basemap is the projected district outlines, the same for every report.
type basemap struct {
	minLon, maxLat, scale, kx float64
	width, height             float64
	paths                     []string // one SVG path per district
	labels                    []mapLabel
}

type mapLabel struct {
	x, y float64
	name string
}

var loadBasemap = sync.OnceValues(func() (*basemap, error) {
	ds, err := geo.LoadDistricts()
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	list := ds.List()
	minLon, minLat, maxLon, maxLat := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, d := range list {
		b := d.Shape.Bound()
		minLon, minLat = math.Min(minLon, b.Min[0]), math.Min(minLat, b.Min[1])
		maxLon, maxLat = math.Max(maxLon, b.Max[0]), math.Max(maxLat, b.Max[1])
	}
	const pad = 0.01
	minLon, minLat, maxLon, maxLat = minLon-pad, minLat-pad, maxLon+pad, maxLat+pad
	kx := math.Cos(24.6 * math.Pi / 180)
	m := &basemap{minLon: minLon, maxLat: maxLat, kx: kx, width: mapWidth}
	m.scale = mapWidth / ((maxLon - minLon) * kx)
	m.height = math.Ceil((maxLat - minLat) * m.scale)
	for _, d := range list {
		var sb strings.Builder
		for _, poly := range d.Shape {
			for _, ring := range poly {
				for i, p := range ring {
					x, y := m.project(p[0], p[1])
					if i == 0 {
						fmt.Fprintf(&sb, "M%.1f %.1f", x, y)
					} else {
						fmt.Fprintf(&sb, "L%.1f %.1f", x, y)
					}
				}
				sb.WriteString("Z")
			}
		}
		m.paths = append(m.paths, sb.String())
		ip := d.InteriorPoint()
		x, y := m.project(ip[0], ip[1])
		m.labels = append(m.labels, mapLabel{x: x, y: y, name: d.Name})
	}
	return m, nil
})

// project maps WGS-84 to the SVG's user units: an equirectangular
// projection true to scale at 24.6°N, north up.
func (m *basemap) project(lon, lat float64) (x, y float64) {
	return (lon - m.minLon) * m.kx * m.scale, (m.maxLat - lat) * m.scale
}

// markerRadius sizes a hotspot marker so that its area grows with the
// week's complaints.
func markerRadius(count int) float64 {
	return math.Min(4+2.2*math.Sqrt(float64(count)), 22)
}

// mapSVG draws the district outlines, the significant Gi* cells and the
// week's hotspots as circles sized by their complaints of the week.
func mapSVG(r *Report) (string, error) {
	m, err := loadBasemap()
	if err != nil {
		return "", err
	}
	const legendH = 34.0
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s 投诉热点分布图">`,
		m.width, m.height+legendH, html.EscapeString(r.Week))
	fmt.Fprintf(&sb, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#f8f9fa"/>`, m.width, m.height)
	for i, p := range m.paths {
		fmt.Fprintf(&sb, `<path d="%s" fill="%s" stroke="#495057" stroke-width="0.8" fill-rule="evenodd"/>`, p, districtFills[i%len(districtFills)])
	}
	for _, g := range r.Gistar {
		for _, c := range g.Cells {
			if len(c.Polygon) == 0 {
				continue
			}
			sb.WriteString(`<path d="`)
			for i, p := range c.Polygon {
				x, y := m.project(p[0], p[1])
				if i == 0 {
					fmt.Fprintf(&sb, "M%.1f %.1f", x, y)
				} else {
					fmt.Fprintf(&sb, "L%.1f %.1f", x, y)
				}
			}
			fmt.Fprintf(&sb, `Z" fill="%s" fill-opacity="0.35" stroke="%s" stroke-width="0.6"><title>%s Gi* %s z=%.2f</title></path>`,
				categoryColor(g.Category), categoryColor(g.Category), html.EscapeString(CategoryName(g.Category)), html.EscapeString(label(classNames, c.Class)), c.Z)
		}
	}
	for _, l := range m.labels {
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" font-size="13" text-anchor="middle" fill="#343a40" font-weight="bold">%s</text>`, l.x, l.y, html.EscapeString(l.name))
	}
	// The largest markers first, so smaller ones stay visible on top.
	hs := slices.Clone(r.Hotspots)
	slices.SortStableFunc(hs, func(a, b Hotspot) int { return cmp.Compare(b.WeekCount, a.WeekCount) })
	for _, h := range hs {
		if h.Lon == nil || h.Lat == nil {
			continue
		}
		x, y := m.project(*h.Lon, *h.Lat)
		title := html.EscapeString(fmt.Sprintf("%s %s %s：本周 %d 件，累计 %d 件（%s）",
			h.DistrictName, placeOf(h), CategoryName(h.Category), h.WeekCount, h.TotalCount, label(trendNames, h.Trend)))
		if h.WeekCount == 0 {
			fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="4" fill="none" stroke="%s" stroke-width="1.2" stroke-dasharray="2 1.5"><title>%s</title></circle>`,
				x, y, categoryColor(h.Category), title)
			continue
		}
		fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" fill-opacity="0.7" stroke="#fff" stroke-width="1"><title>%s</title></circle>`,
			x, y, markerRadius(h.WeekCount), categoryColor(h.Category), title)
	}
	y := m.height + 22
	x := 8.0
	for _, c := range Categories {
		fmt.Fprintf(&sb, `<circle cx="%.0f" cy="%.0f" r="6" fill="%s" fill-opacity="0.7"/><text x="%.0f" y="%.0f" font-size="12">%s热点</text>`,
			x+6, y-4, categoryColor(c), x+16, y, CategoryName(c))
		x += 90
	}
	fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="#d9480f" fill-opacity="0.35" stroke="#d9480f" stroke-width="0.6"/><text x="%.0f" y="%.0f" font-size="12">Gi* 显著网格（500 米）</text>`,
		x, y-10, x+16, y)
	x += 170
	fmt.Fprintf(&sb, `<circle cx="%.0f" cy="%.0f" r="4" fill="none" stroke="#495057" stroke-dasharray="2 1.5"/><text x="%.0f" y="%.0f" font-size="12">本周已化解</text>`,
		x+6, y-4, x+16, y)
	x += 100
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="12" fill="#495057">圆越大，本周投诉越多</text>`, x, y)
	sb.WriteString(`</svg>`)
	return sb.String(), nil
}

// placeOf names where a hotspot is for people: the named place or
// address, else the sub-district, else its id.
func placeOf(h Hotspot) string {
	switch {
	case h.Place != "":
		return h.Place
	case h.Subdistrict != "":
		return h.Subdistrict
	}
	return h.ID
}

// niceCeil rounds a chart's maximum up to 1, 2 or 5 times a power of ten
// so the axis ticks are round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// trendSVG draws the daily complaints as stacked bars by category, the
// report week shaded.
func trendSVG(r *Report) string {
	const (
		w, h                     = 680.0, 250.0
		left, right, top, bottom = 44.0, 8.0, 28.0, 36.0
	)
	pw, ph := w-left-right, h-top-bottom
	n := len(r.Daily)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" role="img" aria-label="每日投诉趋势">`, w, h)
	if n == 0 {
		sb.WriteString(`</svg>`)
		return sb.String()
	}
	maxV := 0
	for _, d := range r.Daily {
		maxV = max(maxV, d.Total)
	}
	top1 := niceCeil(float64(maxV))
	slot := pw / float64(n)
	yOf := func(v float64) float64 { return top + ph - v/top1*ph }
	first, last := -1, -1
	for i, d := range r.Daily {
		if d.InWeek {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fff3bf"/>`,
			left+float64(first)*slot, top, float64(last-first+1)*slot, ph)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#862e9c">本周</text>`,
			left+(float64(first+last+1)/2)*slot, top-4)
	}
	for i := 0; i <= 4; i++ {
		v := top1 * float64(i) / 4
		y := yOf(v)
		fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#dee2e6" stroke-width="0.6"/>`, left, y, w-right, y)
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.1f" font-size="10" text-anchor="end" fill="#495057">%s</text>`, left-4, y+3, trimFloat(v))
	}
	bw := slot * 0.72
	for i, d := range r.Daily {
		x := left + float64(i)*slot + (slot-bw)/2
		base := 0
		seg := func(v int, color, name string) {
			if v <= 0 {
				return
			}
			y0, y1 := yOf(float64(base)), yOf(float64(base+v))
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s %d 件</title></rect>`,
				x, y1, bw, y0-y1, color, d.Date, name, v)
			base += v
		}
		classified := 0
		for _, c := range Categories {
			seg(d.ByCategory[c], categoryColor(c), CategoryName(c))
			classified += d.ByCategory[c]
		}
		seg(d.Total-classified, unclassifiedColor, "未分类")
		day := d.Date[len(d.Date)-2:]
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" font-size="9" text-anchor="middle" fill="#495057">%s</text>`, x+bw/2, top+ph+12, day)
		if i == 0 || day == "01" || i == first {
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="start" fill="#343a40">%s月</text>`, x, top+ph+26, strings.TrimLeft(d.Date[5:7], "0"))
		}
	}
	fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#495057" stroke-width="0.8"/>`, left, top+ph, w-right, top+ph)
	x := left
	for _, c := range append(slices.Clone(Categories), "") {
		name, color := "未分类", unclassifiedColor
		if c != "" {
			name, color = CategoryName(c), categoryColor(c)
		}
		fmt.Fprintf(&sb, `<rect x="%.0f" y="6" width="10" height="10" fill="%s"/><text x="%.0f" y="15" font-size="11">%s</text>`, x, color, x+14, name)
		x += 70
	}
	sb.WriteString(`</svg>`)
	return sb.String()
}

// trimFloat writes an axis value without needless decimals.
func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
