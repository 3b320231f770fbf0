package officers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// triageKinds are the kinds of triage entry (triage.kind).
var triageKinds = []string{"unlocated", "unclassified", "unrouted"}

// triageKindNames are the kinds as the console's 分拣 names them.
var triageKindNames = map[string]string{"unlocated": "未能定位", "unclassified": "未能分类", "unrouted": "无法派单"}

// triageVisible is the SQL condition under which the principal in $1
// (role) and $2 (district) may see a triage entry whose location is l: a
// supervisor those of its district and those placed in no district yet,
// an admin all.
const triageVisible = `($1 = 'admin' OR ($1 = 'supervisor' AND (l.district IS NULL OR l.district = $2)))`

// TriageItem is a complaint the pipeline could not place, classify or
// route, with what the hotline sent and what the geocoder made of it. It
// carries no caller data.
type TriageItem struct {
	ComplaintID         string          `json:"complaint_id"`
	TicketID            string          `json:"ticket_id"`
	Kind                string          `json:"kind"`
	Reason              string          `json:"reason"`
	CreatedAt           time.Time       `json:"created_at"`
	ReceivedAt          time.Time       `json:"received_at"`
	Description         string          `json:"description"`
	Address             string          `json:"address,omitempty"`
	HotlineCategory     string          `json:"hotline_category,omitempty"`
	ReportedCategory    string          `json:"reported_category,omitempty"`
	ReportedSubcategory string          `json:"reported_subcategory,omitempty"`
	ReportedLocation    *event.Location `json:"reported_location,omitempty"` // as sent, in its crs
	District            string          `json:"district,omitempty"`
	DistrictName        string          `json:"district_name,omitempty"`
	Subdistrict         string          `json:"subdistrict,omitempty"`
	Lon                 *float64        `json:"lon,omitempty"` // WGS-84, the geocoder's
	Lat                 *float64        `json:"lat,omitempty"`
	Category            string          `json:"category,omitempty"`
	Subcategory         string          `json:"subcategory,omitempty"`
	Disagreement        string          `json:"disagreement,omitempty"`
	Corrections         int             `json:"corrections"`
	// CaseID is the case that holds the complaint already, when it does
	// (a returned case no team is left for): a correction to another
	// district or kind of nuisance takes the complaint out of it to be
	// routed there; the case itself is moved with 改派.
	CaseID string `json:"case_id,omitempty"`
	// History says the work order was loaded as history (nuisance replay
	// -history): handled by the hotline long ago, it is listed apart from
	// today's (?history=true) and, corrected, goes to the hotspots and
	// the reports but to no case.
	History bool `json:"history"`
}

// triageFrom is the open triage entries of one side, {side}: today's
// or those loaded as history, visible to the principal in $1 and $2, of
// the kinds in $3 (all if none). An entry is history by its own mark,
// which the database sets on an entry of a complaint stored as history
// whoever writes it (00100, an older geocoder during a rollout
// included), so that each side is read apart from the other.
const triageFrom = `FROM triage t
JOIN complaints m ON m.id = t.complaint_id
LEFT JOIN locations l ON l.complaint_id = t.complaint_id
WHERE t.resolved_at IS NULL AND {side} AND ` + triageVisible + `
	AND (cardinality($3::text[]) = 0 OR t.kind = ANY($3))`

// listTriage is a page of triageFrom, newest first, of at most $4
// entries, {after} the cursor's: the page is read down the side's part
// of triage_open_list, (history, created_at, complaint_id), from the
// cursor on (a keyset, not an OFFSET), so the thousandth page reads a
// page of rows as the first does, a cursor inside a geocoder's batch
// (whose entries share created_at) included, and an entry corrected
// meanwhile moves no other from one page to the next.
const listTriage = `SELECT t.complaint_id, m.ticket_id, t.kind, t.reason, t.created_at, m.received_at, m.description,
	COALESCE(m.address, ''), COALESCE(m.hotline_category, ''), COALESCE(m.category, ''), COALESCE(m.subcategory, ''),
	m.loc_lon, m.loc_lat, COALESCE(m.loc_crs, ''),
	COALESCE(l.district, ''), COALESCE(l.district_name, ''), COALESCE(l.subdistrict, ''), l.lon, l.lat,
	COALESCE(l.category, ''), COALESCE(l.subcategory, ''), COALESCE(l.disagreement, ''),
	(SELECT count(*) FROM triage_corrections tc WHERE tc.complaint_id = t.complaint_id),
	COALESCE((SELECT cc.case_id FROM case_complaints cc WHERE cc.complaint_id = t.complaint_id), ''),
	t.history, COALESCE(m.caller_name, '')
` + triageFrom + ` {after}
ORDER BY t.created_at DESC, t.complaint_id DESC
LIMIT $4`

// triageAfter is the keyset condition of a page after the first: the
// entries before the cursor's ($5, $6) in the list's order. It is left
// out of the first page's query rather than made optional in SQL (an OR
// with "$5 IS NULL"), which a generic plan could not read through the
// index from the cursor on.
const triageAfter = `AND (t.created_at, t.complaint_id) < ($5, $6)`

// triageCountCap is how many entries of a side the first page counts at
// most: a backfill's hundred thousand are not read, with the location of
// each, on every load of 分拣.
const triageCountCap = 10000

// countTriage reads the newest triageCountCap and one open entries of a
// side, of the kinds in $3, and counts those the principal may see
// (triageVisible) and those it read: past triageCountCap read, the first
// is how many at least wait. The entries are read down triage_open_list
// as the pages are (without the order, PostgreSQL may scan the table
// from its oldest entries for them), from the index alone; no complaint
// is read (triage's foreign key holds it), and each entry's location is
// looked up on its own (LATERAL ... LIMIT 1: as a join, the planner
// hashes every location ever stored). With the limit in the text, the
// cost PostgreSQL estimates, a look-up an entry, stays under
// jit_above_cost.
var countTriage = `SELECT count(*) FILTER (WHERE ` + triageVisible + `), count(*)
FROM (SELECT t.complaint_id FROM triage t
	WHERE t.resolved_at IS NULL AND {side} AND (cardinality($3::text[]) = 0 OR t.kind = ANY($3))
	ORDER BY t.created_at DESC, t.complaint_id DESC
	LIMIT ` + strconv.Itoa(triageCountCap+1) + `) t
LEFT JOIN LATERAL (SELECT l.district FROM locations l WHERE l.complaint_id = t.complaint_id LIMIT 1) l ON true`

// triageSides are the conditions of today's side and of history's.
var triageSides = [2]string{"NOT t.history", "t.history"}

// triageSQL is the query of a page of one side (history or today's),
// the first or one after a cursor, and that of the side's count.
func triageSQL(history, after bool) (list, count string) {
	side := triageSides[0]
	if history {
		side = triageSides[1]
	}
	cond := ""
	if after {
		cond = triageAfter
	}
	list = strings.Replace(strings.Replace(listTriage, "{side}", side, 1), "{after}", cond, 1)
	return list, strings.Replace(countTriage, "{side}", side, 1)
}

// handleTriage lists the open triage entries, newest first: today's, or
// with ?history=true those of work orders loaded as history, which a
// backfill may add by the thousand and which no supervisor must act on
// today; ?kind=unlocated,unclassified,unrouted filters, ?limit and
// ?cursor (next_cursor of the page before) page through any number of
// them. The first page (no cursor) also says how many wait, total, of
// the side and kinds asked for, or, past triageCountCap entries, how
// many at least (total_capped): the pages after it do not count them
// again.
func (s *Service) handleTriage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	kinds, err := oneOf(r, "kind", triageKinds, triageKindNames)
	if err != nil {
		return err
	}
	history := false
	switch v := strings.TrimSpace(r.URL.Query().Get("history")); v {
	case "", "false":
	case "true":
		history = true
	default:
		return invalid("history", "%q 无效：应为 true 或 false", v)
	}
	limit, err := s.page(r)
	if err != nil {
		return err
	}
	cur, err := parseCursor(r)
	if err != nil {
		return err
	}
	list, count := triageSQL(history, cur != nil)
	args := []any{p.Role, p.District, kinds, limit + 1}
	if cur != nil {
		args = append(args, cur.At, cur.ID)
	}
	var total *int
	capped := false
	if cur == nil {
		var n, read int
		if err := s.pool.QueryRow(r.Context(), count, p.Role, p.District, kinds).Scan(&n, &read); err != nil {
			return fmt.Errorf("count triage: %w", err)
		}
		if read > triageCountCap {
			n, capped = min(n, triageCountCap), true
		}
		total = &n
	}
	rows, err := s.pool.Query(r.Context(), list, args...)
	if err != nil {
		return fmt.Errorf("list triage: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TriageItem, error) {
		var it TriageItem
		var lon, lat *float64
		var crs, caller string
		err := row.Scan(&it.ComplaintID, &it.TicketID, &it.Kind, &it.Reason, &it.CreatedAt, &it.ReceivedAt, &it.Description,
			&it.Address, &it.HotlineCategory, &it.ReportedCategory, &it.ReportedSubcategory,
			&lon, &lat, &crs,
			&it.District, &it.DistrictName, &it.Subdistrict, &it.Lon, &it.Lat,
			&it.Category, &it.Subcategory, &it.Disagreement, &it.Corrections, &it.CaseID, &it.History, &caller)
		if lon != nil && lat != nil {
			it.ReportedLocation = &event.Location{Lon: *lon, Lat: *lat, CRS: crs}
		}
		// The caller's name in their own words, as their phone, is masked.
		it.Description, it.Address = pii.MaskText(pii.MaskNames(it.Description, caller)), pii.MaskText(pii.MaskNames(it.Address, caller))
		return it, err
	})
	if err != nil {
		return fmt.Errorf("list triage: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = cursor{At: last.CreatedAt, ID: last.ComplaintID}.String()
	}
	if total != nil && *total < len(items) {
		// An entry came between the count and the page.
		*total = len(items)
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Items      []TriageItem `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty"`
		Total      *int         `json:"total,omitempty"`
		// TotalCapped says that Total is how many at least wait:
		// the count read the newest triageCountCap entries alone.
		TotalCapped bool `json:"total_capped,omitempty"`
	}{items, next, total, capped})
	return nil
}

// Correction is a supervisor's correction of a triage entry: where the
// complaint is (a district, optionally a sub-district and a WGS-84 point)
// and what it is about.
type Correction struct {
	District    string   `json:"district"`
	Subdistrict string   `json:"subdistrict"`
	Lon         *float64 `json:"lon"`
	Lat         *float64 `json:"lat"`
	Category    string   `json:"category"`
	Subcategory string   `json:"subcategory"`
}

// validate checks a correction against the seeds: the districts of
// geo.LoadDistricts, the taxonomy of internal/classify, a point inside
// (or just off) the district it names.
func (s *Service) validate(c *Correction) error {
	c.District, c.Subdistrict = strings.TrimSpace(c.District), strings.TrimSpace(c.Subdistrict)
	c.Category, c.Subcategory = strings.TrimSpace(c.Category), strings.TrimSpace(c.Subcategory)
	if c.District == "" {
		return invalid("/district", "必填：%s", s.districtChoices())
	}
	if _, ok := s.districts.BySlug(c.District); !ok {
		return invalid("/district", "未知的区 %q：应为%s", c.District, s.districtChoices())
	}
	if utf8.RuneCountInString(c.Subdistrict) > 100 {
		return invalid("/subdistrict", "超过 100 字")
	}
	// The one free text of a correction goes into the event and the
	// complaint's location; a number typed into it is masked like a
	// note's (see maskNote).
	c.Subdistrict = pii.MaskText(c.Subdistrict)
	switch {
	case c.Lon == nil && c.Lat != nil:
		return invalid("/lon", "填了纬度，也须填经度")
	case c.Lon != nil && c.Lat == nil:
		return invalid("/lat", "填了经度，也须填纬度")
	case c.Lon != nil:
		lon, lat := *c.Lon, *c.Lat
		if math.IsNaN(lon) || lon < -180 || lon > 180 {
			return invalid("/lon", "应为 WGS-84 经度")
		}
		if math.IsNaN(lat) || lat < -90 || lat > 90 {
			return invalid("/lat", "应为 WGS-84 纬度")
		}
		hit, ok := s.districts.Locate(lon, lat)
		if !ok {
			return invalid("/lon", "点 (%g, %g) 不在厦门市内", lon, lat)
		}
		if hit.District.Slug != c.District {
			return invalid("/district", "点 (%g, %g) 在%s (%s)，不在%s (%s)", lon, lat,
				caseflow.DistrictName(hit.District.Slug), hit.District.Slug, caseflow.DistrictName(c.District), c.District)
		}
	}
	switch {
	case c.Category == "":
		return invalid("/category", "必填：%s", s.categoryChoices())
	case s.cls.Name(c.Category, "") == "":
		return invalid("/category", "未知类别 %q：应为%s", c.Category, s.categoryChoices())
	case c.Subcategory == "":
		return invalid("/subcategory", "必填")
	case s.cls.Name(c.Category, c.Subcategory) == "":
		return invalid("/subcategory", "%q 不是%s的小类", c.Subcategory, s.cls.Name(c.Category, ""))
	}
	return nil
}

const lockTriage = `SELECT t.kind, t.resolved_at
FROM triage t LEFT JOIN locations l ON l.complaint_id = t.complaint_id
WHERE t.complaint_id = $3 AND ` + triageVisible + `
FOR UPDATE OF t`

// CorrectionsConsumer is the geocoder's durable consumer of
// triage.corrected (geocoder.DurableCorrected), under which it dead-letters
// a correction it cannot apply.
const CorrectionsConsumer = "geocoder-triage"

// correctionsOf counts a complaint's corrections and names the latest one
// the geocoder has neither applied nor given up on (a dead letter), if
// any, made in the last 15 minutes: the geocoder applies one within a
// second, and one it has not applied in 15 minutes (a geocoder down, or
// of a version that does not mark them) no longer holds the next back.
const correctionsOf = `SELECT COALESCE(max(c.n), 0),
	COALESCE(max(c.n) FILTER (WHERE c.applied_at IS NULL AND c.at > now() - interval '15 minutes' AND NOT EXISTS (
		SELECT 1 FROM dead_letters d WHERE d.consumer = $2 AND d.event_id = c.event_id)), 0)
FROM triage_corrections c WHERE c.complaint_id = $1`

// handleCorrect records a supervisor's correction of a triage entry and
// publishes triage.corrected through the outbox; the geocoder applies it
// and the complaint re-enters the pipeline. The correction row and the
// event commit together: the row is the audit of who corrected what.
func (s *Service) handleCorrect(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in Correction
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := s.validate(&in); err != nil {
		return err
	}
	id := r.PathValue("complaint_id")
	ctx := r.Context()
	var n int
	var eventID string
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var kind string
		var resolved *time.Time
		err := tx.QueryRow(ctx, lockTriage, p.Role, p.District, id).Scan(&kind, &resolved)
		if errors.Is(err, pgx.ErrNoRows) {
			return fault.Errorf(fault.NotFound, "分拣清单中没有投诉 %s", id)
		}
		if err != nil {
			return fmt.Errorf("correct %s: %w", id, err)
		}
		if resolved != nil {
			return fault.Errorf(fault.Conflict, "投诉 %s 已于 %s 离开分拣清单", id, caseflow.When(*resolved))
		}
		// A complaint a case holds already is corrected only when no
		// team holds the case (one returned by every team the rules
		// name, 无法派单): the router takes it out of the case and
		// routes it to the district and kind of nuisance corrected. A
		// case a team holds is reassigned (改派) instead, and so is a
		// waiting case whose complaint the correction leaves of its
		// district and kind: the rules would route it to the teams that
		// returned it.
		var caseID, caseStatus, caseDistrict, caseCategory, caseSubcategory string
		var waiting bool
		err = tx.QueryRow(ctx, `SELECT c.id, c.status, c.district, c.category, COALESCE(c.subcategory, ''),
				c.status = 'returned' AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'active')
			FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
			WHERE cc.complaint_id = $1`, id).Scan(&caseID, &caseStatus, &caseDistrict, &caseCategory, &caseSubcategory, &waiting)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("correct %s: %w", id, err)
		case !waiting:
			return fault.Errorf(fault.Conflict, "投诉 %s 在案件 %s 中（%s）：请改派该案件（改派），而不是更正投诉", id, caseID, caseflow.StatusName(caseStatus))
		case in.District == caseDistrict && in.Category == caseCategory && in.Subcategory == caseSubcategory:
			return fault.Errorf(fault.Conflict, "投诉 %s 所在的案件 %s 已是%s%s：请改派该案件（改派），或将投诉更正为其他区或其他类别",
				id, caseID, caseflow.DistrictName(caseDistrict), s.cls.Name(caseCategory, caseSubcategory))
		}
		var pending int
		if err := tx.QueryRow(ctx, correctionsOf, id, CorrectionsConsumer).Scan(&n, &pending); err != nil {
			return fmt.Errorf("correct %s: %w", id, err)
		}
		if pending > 0 {
			return fault.Errorf(fault.Conflict, "投诉 %s 的第 %d 次更正仍在处理中，请稍后再试", id, pending)
		}
		n++
		eventID = id + ".triage.corrected." + strconv.Itoa(n)
		if _, err := tx.Exec(ctx, `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, subdistrict, lon, lat,
				category, subcategory, event_id)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11)`,
			id, n, p.ID, kind, in.District, in.Subdistrict, in.Lon, in.Lat, in.Category, in.Subcategory, eventID); err != nil {
			return fmt.Errorf("correct %s: %w", id, err)
		}
		return outbox.Add(ctx, tx, event.SubjTriageCorrected, eventID, event.TriageCorrected{
			EventID:     eventID,
			ComplaintID: id,
			District:    in.District,
			Subdistrict: in.Subdistrict,
			Lon:         in.Lon,
			Lat:         in.Lat,
			Category:    in.Category,
			Subcategory: in.Subcategory,
			Officer:     p.ID,
		})
	})
	if err != nil {
		actions.WithLabelValues("correct", failed(r, err)).Inc()
		return err
	}
	actions.WithLabelValues("correct", "ok").Inc()
	httpx.WriteJSON(w, http.StatusAccepted, struct {
		ComplaintID string `json:"complaint_id"`
		Correction  int    `json:"correction"`
		EventID     string `json:"event_id"`
		Status      string `json:"status"`
	}{id, n, eventID, "corrected"})
	return nil
}

// districtChoices lists the districts a correction may name, by name and
// slug: 思明区（siming）、海沧区（haicang）、….
func (s *Service) districtChoices() string {
	var out []string
	for _, d := range []string{"siming", "haicang", "huli", "jimei", "tongan", "xiangan"} {
		out = append(out, s.districtName(d)+"（"+d+"）")
	}
	return strings.Join(out, "、")
}

// categoryChoices lists the kinds of nuisance by name and slug:
// 噪声（noise）、….
func (s *Service) categoryChoices() string {
	var out []string
	for _, c := range []string{"noise", "dust", "cooking_smoke"} {
		out = append(out, s.cls.Name(c, "")+"（"+c+"）")
	}
	return strings.Join(out, "、")
}
