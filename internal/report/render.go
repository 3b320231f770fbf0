package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Formats are the renderings Render knows, as the file extensions the
// reports are served under.
var Formats = []string{"html", "csv", "json", "geojson"}

// ErrFormat is returned for a format Render does not know.
var ErrFormat = errors.New("unknown report format")

// ContentType is the media type of a format, for serving it.
func ContentType(format string) string {
	switch format {
	case "html":
		return "text/html; charset=utf-8"
	case "csv":
		return "text/csv; charset=utf-8"
	case "json":
		return "application/json"
	case "geojson":
		return "application/geo+json"
	}
	return "application/octet-stream"
}

// Render writes the report in format (html, csv, json or geojson) to w.
func Render(r *Report, format string, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case "html":
		err = renderHTML(r, bw)
	case "csv":
		err = renderCSV(r, bw)
	case "json":
		err = renderJSON(r, bw)
	case "geojson":
		err = renderGeoJSON(r, bw)
	default:
		return fmt.Errorf("render %s: %w %q, want one of html, csv, json, geojson", r.Week, ErrFormat, format)
	}
	if err != nil {
		return fmt.Errorf("render %s %s: %w", r.Week, format, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render %s %s: %w", r.Week, format, err)
	}
	return nil
}

func renderJSON(r *Report, w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader names the CSV columns: one row per hotspot of the week.
var csvHeader = []string{
	"week", "hotspot_id", "priority", "category", "category_name", "subcategory", "subcategory_name",
	"district", "district_name", "subdistrict", "place", "lon", "lat",
	"week_count", "previous_count", "total_count", "trend", "trend_name",
	"status", "status_name", "first_at", "last_at", "team", "team_name", "case_id", "case_status", "case_status_name",
	"case_count", "case_ids",
}

// renderCSV writes one row per hotspot, with a UTF-8 byte order mark so
// that spreadsheet programs on Chinese Windows read the names correctly.
// Codes have their Chinese names beside them; priority is 重点 for a
// hotspot of the plan's priority kinds in its district. A hotspot whose
// status was not on record at the week's end (found later, from late or
// backfilled work orders) says so in status_name, its status code empty.
func renderCSV(r *Report, w io.Writer) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, h := range r.Hotspots {
		row := []string{
			r.Week, h.ID, priorityMark(h.Priority), h.Category, CategoryName(h.Category), h.Subcategory, h.SubcategoryName,
			h.District, h.DistrictName, h.Subdistrict, h.Place, coord(h.Lon), coord(h.Lat),
			strconv.Itoa(h.WeekCount), strconv.Itoa(h.PreviousCount), strconv.Itoa(h.TotalCount),
			h.Trend, trendNames[h.Trend], h.Status, hotspotStatusName(h.Status),
			h.FirstAt.In(shanghai).Format("2006-01-02T15:04:05Z07:00"),
			h.LastAt.In(shanghai).Format("2006-01-02T15:04:05Z07:00"),
			h.Team, h.TeamName, h.CaseID, h.CaseStatus, caseStatusName(h.CaseStatus),
			strconv.Itoa(h.CaseCount), caseIDs(h.Cases),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// priorityMark is the CSV's priority column: 重点 or empty.
func priorityMark(p bool) string {
	if p {
		return "重点"
	}
	return ""
}

// hotspotStatusName names a hotspot's status, 未记录 when none was on
// record at the week's end.
func hotspotStatusName(code string) string {
	if code == "" {
		return "未记录"
	}
	return label(hotspotStatusNames, code)
}

// caseStatusName names a case's status, empty for no case.
func caseStatusName(code string) string {
	if code == "" {
		return ""
	}
	return label(caseStatusNames, code)
}

// caseIDs joins the ids of a hotspot's listed cases with semicolons.
func caseIDs(cs []HotspotCase) string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.CaseID
	}
	return strings.Join(ids, ";")
}

func coord(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 6, 64)
}

// geoFeature and geoCollection are the GeoJSON shapes the report writes;
// a hotspot without coordinates keeps a null geometry (RFC 7946 §3.2).
type geoFeature struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Geometry   *geoPoint       `json:"geometry"`
	Properties geoHotspotProps `json:"properties"`
}

type geoPoint struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

type geoHotspotProps struct {
	Week string `json:"week"`
	Hotspot
	CategoryName string `json:"category_name"`
	TrendName    string `json:"trend_name"`
}

type geoCollection struct {
	Type     string       `json:"type"`
	Week     string       `json:"week"`
	Features []geoFeature `json:"features"`
}

// renderGeoJSON writes the week's hotspots as a FeatureCollection of
// points in WGS-84, the system RFC 7946 prescribes.
func renderGeoJSON(r *Report, w io.Writer) error {
	fc := geoCollection{Type: "FeatureCollection", Week: r.Week, Features: make([]geoFeature, 0, len(r.Hotspots))}
	for _, h := range r.Hotspots {
		f := geoFeature{Type: "Feature", ID: h.ID, Properties: geoHotspotProps{
			Week: r.Week, Hotspot: h, CategoryName: CategoryName(h.Category), TrendName: trendNames[h.Trend],
		}}
		if h.Lon != nil && h.Lat != nil {
			f.Geometry = &geoPoint{Type: "Point", Coordinates: [2]float64{round(*h.Lon, 6), round(*h.Lat, 6)}}
		}
		fc.Features = append(fc.Features, f)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(fc)
}

// round rounds x to n decimals.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}
