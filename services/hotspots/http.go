package hotspots

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/internal/place"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/hotspotstats"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// Statuses are the hotspot statuses the API filters by.
var Statuses = []string{
	string(cluster.StatusEmerging), string(cluster.StatusActive), string(cluster.StatusEscalated),
	string(cluster.StatusCooling), string(cluster.StatusClosed), string(cluster.StatusMerged),
}

// Limits of one page of hotspots.
const (
	defaultLimit = 1000
	maxLimit     = 5000
)

// shanghai is the zone a bare date in a filter is read in.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Routes mounts GET /api/v1/hotspots, the hotspots as a GeoJSON
// FeatureCollection, and GET /api/v1/hotspots/weekly, the week's Gi* hot
// cells of a category. Every request needs a bearer token: admins see
// every hotspot and the whole city's cells, supervisors their district's
// hotspots and cells, officers the hotspots whose case their team holds
// and their district's cells. Each token is held to RatePerToken, over
// both.
func (s *Service) Routes(mux httpx.Mux) {
	mux.HandleFunc("GET /api/v1/hotspots", s.authorized(s.handleList))
	mux.HandleFunc("GET /api/v1/hotspots/weekly", s.authorized(s.handleWeekly))
}

var rateLimited = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_hotspots_rate_limited_total",
	Help: "Requests to the hotspots API refused (429) because their token was over its rate limit.",
})

// authorized authenticates the request and holds its token to its rate
// before next runs.
func (s *Service) authorized(next func(http.ResponseWriter, *http.Request, auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Authorize == nil {
			auth.Deny(w, s.log, fault.Errorf(fault.Unauthorized, "no token store configured"))
			return
		}
		p, err := s.cfg.Authorize(r)
		if err != nil {
			auth.Deny(w, s.log, err)
			return
		}
		if s.limiter.Limit(w, p) {
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next(w, r, p)
	}
}

// Filter selects hotspots; empty fields match every hotspot.
type Filter struct {
	Category string
	District string
	// Statuses match any of them; empty matches every status but merged.
	Statuses []string
	// From and To bound the hotspots' activity: a hotspot matches when its
	// complaints span [FirstAt, LastAt] meets [From, To).
	From, To time.Time
	Limit    int
}

// badParam is a 400 naming the query parameter at fault.
type badParam struct {
	name, detail string
}

func (e *badParam) Error() string { return e.name + ": " + e.detail }

// parseFilter reads the query parameters of GET /api/v1/hotspots.
func parseFilter(q url.Values) (Filter, *badParam) {
	f := Filter{Limit: defaultLimit}
	if v := q.Get("category"); v != "" {
		if !slices.Contains(hotspotstats.Categories, v) {
			return f, &badParam{"category", fmt.Sprintf("%q is not one of %s", v, strings.Join(hotspotstats.Categories, ", "))}
		}
		f.Category = v
	}
	if v := q.Get("district"); v != "" {
		if !slices.Contains(Districts, v) {
			return f, &badParam{"district", fmt.Sprintf("%q is not one of %s", v, strings.Join(Districts, ", "))}
		}
		f.District = v
	}
	if v := q.Get("status"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			st = strings.TrimSpace(st)
			if !slices.Contains(Statuses, st) {
				return f, &badParam{"status", fmt.Sprintf("%q is not one of %s", st, strings.Join(Statuses, ", "))}
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	var err error
	if f.From, _, err = parseTime(q.Get("from")); err != nil {
		return f, &badParam{"from", err.Error()}
	}
	var date bool
	if f.To, date, err = parseTime(q.Get("to")); err != nil {
		return f, &badParam{"to", err.Error()}
	}
	if date {
		f.To = f.To.AddDate(0, 0, 1) // a date includes its whole day
	} else if !f.To.IsZero() {
		f.To = f.To.Add(time.Microsecond) // an instant is included
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, &badParam{"to", "must be after from"}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return f, &badParam{"limit", fmt.Sprintf("%q: want 1 to %d", v, maxLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

// parseTime reads an RFC 3339 instant or a date (Asia/Shanghai).
func parseTime(v string) (t time.Time, date bool, err error) {
	if v == "" {
		return time.Time{}, false, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, false, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, shanghai); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is neither RFC 3339 (2024-03-11T08:00:00+08:00) nor a date (2024-03-11)", v)
}

// Feature is one hotspot as GeoJSON: a Point at its centroid, or no
// geometry when none of its complaints had coordinates.
type Feature struct {
	Type       string      `json:"type"`
	ID         string      `json:"id"`
	Geometry   *Geometry   `json:"geometry"`
	Properties HotspotView `json:"properties"`
}

// Geometry is a GeoJSON Point or Polygon.
type Geometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

// HotspotView is a hotspot as the API shows it. It holds no personal data.
type HotspotView struct {
	ID             string     `json:"id"`
	Category       string     `json:"category"`
	Subcategory    string     `json:"subcategory,omitempty"`
	District       string     `json:"district"`
	Subdistrict    string     `json:"subdistrict,omitempty"`
	ComplaintCount int        `json:"complaint_count"`
	Status         string     `json:"status"`
	FirstAt        time.Time  `json:"first_at"`
	LastAt         time.Time  `json:"last_at"`
	Place          string     `json:"place,omitempty"`
	MergedInto     string     `json:"merged_into,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
}

// FeatureCollection is the body of GET /api/v1/hotspots.
type FeatureCollection struct {
	Type     string    `json:"type"`
	Features []Feature `json:"features"`
}

// List returns the hotspots of filter f that principal p may see, most
// recently active first.
func (s *Service) List(ctx context.Context, p auth.Principal, f Filter) (FeatureCollection, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch p.Role {
	case auth.RoleAdmin:
	case auth.RoleSupervisor:
		if p.District == "" {
			return FeatureCollection{}, fault.Errorf(fault.Forbidden, "supervisor %s has no district", p.ID)
		}
		where = append(where, "h.district = "+arg(p.District))
	case auth.RoleOfficer:
		if p.Team == "" {
			return FeatureCollection{}, fault.Errorf(fault.Forbidden, "officer %s has no team", p.ID)
		}
		// A case may name a hotspot that merged into this one since.
		where = append(where, `EXISTS (SELECT 1 FROM cases c JOIN hotspots x ON x.id = c.hotspot_id
			WHERE c.team = `+arg(p.Team)+` AND (x.id = h.id OR x.merged_into = h.id))`)
	default:
		return FeatureCollection{}, fault.Errorf(fault.Forbidden, "role %q may not list hotspots", p.Role)
	}
	if f.Category != "" {
		where = append(where, "h.category = "+arg(f.Category))
	}
	if f.District != "" {
		where = append(where, "h.district = "+arg(f.District))
	}
	if len(f.Statuses) > 0 {
		where = append(where, "h.status = ANY("+arg(f.Statuses)+")")
	} else {
		where = append(where, "h.status <> 'merged'")
	}
	if !f.From.IsZero() {
		where = append(where, "h.last_at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "h.first_at < "+arg(f.To))
	}
	limit := f.Limit
	if limit <= 0 || limit > maxLimit {
		limit = defaultLimit
	}
	sql := `SELECT h.id, h.category, COALESCE(h.subcategory, ''), h.district, COALESCE(h.subdistrict, ''),
		h.complaint_count, h.status, h.first_at, h.last_at,
		` + place.ShownSQL("h.place", "h.place_key") + `,
		COALESCE(h.merged_into, ''), h.resolved_at, h.lon, h.lat
		FROM hotspots h WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY h.last_at DESC, h.id LIMIT ` + arg(limit)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return FeatureCollection{}, fmt.Errorf("list hotspots: %w", err)
	}
	defer rows.Close()
	fc := FeatureCollection{Type: "FeatureCollection", Features: []Feature{}}
	for rows.Next() {
		var v HotspotView
		var lon, lat *float64
		if err := rows.Scan(&v.ID, &v.Category, &v.Subcategory, &v.District, &v.Subdistrict, &v.ComplaintCount,
			&v.Status, &v.FirstAt, &v.LastAt, &v.Place, &v.MergedInto, &v.ResolvedAt, &lon, &lat); err != nil {
			return FeatureCollection{}, fmt.Errorf("list hotspots: %w", err)
		}
		v.FirstAt, v.LastAt = v.FirstAt.UTC(), v.LastAt.UTC()
		// A hotspot without a named place is shown, as the weekly report
		// shows it, by its key less the district's slug: the address its
		// complaints share, with a phone or a caller's name a key stored
		// before addresses lost them holds masked.
		v.Place = pii.MaskPlace(v.Place)
		if v.ResolvedAt != nil {
			r := v.ResolvedAt.UTC()
			v.ResolvedAt = &r
		}
		ft := Feature{Type: "Feature", ID: v.ID, Properties: v}
		if lon != nil && lat != nil {
			ft.Geometry = &Geometry{Type: "Point", Coordinates: [2]float64{*lon, *lat}}
		}
		fc.Features = append(fc.Features, ft)
	}
	if err := rows.Err(); err != nil {
		return FeatureCollection{}, fmt.Errorf("list hotspots: %w", err)
	}
	return fc, nil
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	f, bad := parseFilter(r.URL.Query())
	if bad != nil {
		writeBadParam(w, bad)
		return
	}
	fc, err := s.List(r.Context(), p, f)
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	writeGeoJSON(w, fc)
}

func writeBadParam(w http.ResponseWriter, bp *badParam) {
	httpx.WriteProblem(w, httpx.Problem{
		Type:   "https://nuisance.xm.gov/problems/invalid",
		Status: http.StatusBadRequest,
		Detail: bp.Error(),
		Errors: []httpx.FieldError{{Field: bp.name, Detail: bp.detail}},
	})
}

func writeGeoJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/geo+json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// CellView is a Gi* cell as the weekly endpoint shows it.
type CellView struct {
	ID          string       `json:"id"`
	Count       int          `json:"count"`
	Z           float64      `json:"z"`
	P           float64      `json:"p"`
	Q           float64      `json:"q"`
	Significant bool         `json:"significant"`
	Class       gistar.Class `json:"class"`
	HotWeeks    int          `json:"hot_weeks"`
	WeekCounts  []int        `json:"week_counts"`
}

// CellFeature is one Gi* grid cell as a GeoJSON Polygon.
type CellFeature struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	Geometry   Geometry `json:"geometry"`
	Properties CellView `json:"properties"`
}

// WeeklyCollection is the body of GET /api/v1/hotspots/weekly: the week's
// hot cells, then the cells that cooled, of the districts the token may
// see, with the analysis' parameters. The analysis is the city's, as the
// weekly report's: Cells and Points count the whole study area.
type WeeklyCollection struct {
	Type       string        `json:"type"`
	Week       string        `json:"week"`
	Weeks      []string      `json:"weeks"`
	Category   string        `json:"category"`
	CellMeters float64       `json:"cell_meters"`
	Cells      int           `json:"cells_in_study_area"`
	Points     int           `json:"points"`
	Features   []CellFeature `json:"features"`
}

// weeklyDistrict is the district whose cells of the weekly grid principal
// p may see, "" for the whole city: an admin sees the city, a supervisor
// or an officer their own district, as for the cases.
func weeklyDistrict(p auth.Principal) (string, error) {
	switch p.Role {
	case auth.RoleAdmin:
		return "", nil
	case auth.RoleSupervisor, auth.RoleOfficer:
		if p.District == "" {
			return "", fault.Errorf(fault.Forbidden, "%s %s has no district", p.Role, p.ID)
		}
		return p.District, nil
	default:
		return "", fault.Errorf(fault.Forbidden, "role %q may not see the weekly hot cells", p.Role)
	}
}

// xiamen are the district outlines a cell of the weekly grid is placed by.
var xiamen = sync.OnceValues(geo.LoadDistricts)

// cellIn reports whether a cell of the weekly grid covers part of a
// district: its centre or a corner lies in it, or off the shore within
// geo.SnapMeters of it. A cell across a boundary is in both districts.
func cellIn(ds *geo.Districts, c gistar.Cell, district string) bool {
	in := func(lon, lat float64) bool {
		hit, ok := ds.Locate(lon, lat)
		return ok && hit.District.Slug == district
	}
	if in(c.Lon, c.Lat) {
		return true
	}
	return slices.ContainsFunc(c.Polygon, func(pt [2]float64) bool { return in(pt[0], pt[1]) })
}

func (s *Service) handleWeekly(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	district, err := weeklyDistrict(p)
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	var ds *geo.Districts
	if district != "" {
		if ds, err = xiamen(); err != nil {
			httpx.WriteError(w, s.log, fmt.Errorf("weekly hot cells: %w", err))
			return
		}
	}
	q := r.URL.Query()
	week := q.Get("week")
	if week == "" {
		week = gistar.WeekOf(s.cfg.Now().AddDate(0, 0, -7))
	} else if _, _, err := gistar.WeekBounds(week); err != nil {
		writeBadParam(w, &badParam{"week", err.Error()})
		return
	}
	category := q.Get("category")
	if !slices.Contains(hotspotstats.Categories, category) {
		writeBadParam(w, &badParam{"category", fmt.Sprintf("%q is not one of %s", category, strings.Join(hotspotstats.Categories, ", "))})
		return
	}
	res, err := hotspotstats.Weekly(r.Context(), s.pool, week, category)
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	out := WeeklyCollection{
		Type: "FeatureCollection", Week: res.Week, Weeks: res.Weeks, Category: category,
		CellMeters: res.CellMeters, Cells: res.N, Points: res.Points, Features: []CellFeature{},
	}
	for _, c := range slices.Concat(res.Cells, res.Cooled) {
		if district != "" && !cellIn(ds, c, district) {
			continue
		}
		ring := make([][2]float64, len(c.Polygon))
		copy(ring, c.Polygon)
		out.Features = append(out.Features, CellFeature{
			Type: "Feature", ID: c.ID,
			Geometry: Geometry{Type: "Polygon", Coordinates: [][][2]float64{ring}},
			Properties: CellView{
				ID: c.ID, Count: c.Count, Z: c.Z, P: c.P, Q: c.Q, Significant: c.Significant,
				Class: c.Class, HotWeeks: c.HotWeeks, WeekCounts: c.WeekCounts,
			},
		})
	}
	writeGeoJSON(w, out)
}
