package officers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/internal/place"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// maxText caps a note or a reason, in characters.
const maxText = 2000

// scoped puts into query, at {scope}, the SQL condition on $1 under which
// principal p may see case c, whose active assignment is a: an officer
// the cases its team holds, a supervisor its district's, an admin all. It
// is the rule of caseflow, in every query of this package so no endpoint
// can forget it, and one condition per role so that each query can use
// its index. With closed, an officer also sees the closed cases its team
// held last (办结销号 ends the assignment): the list of 已办结 and the case
// the officer has open stay, read only.
func scoped(query string, p auth.Principal, closed bool) (string, string) {
	cond, arg := "false AND $1::text IS NULL", p.Role
	switch p.Role {
	case auth.RoleOfficer:
		// c.team equals a.team whenever a exists; it lets the query
		// read the team's cases in index order.
		cond, arg = "c.team = $1 AND a.team = $1", p.Team
		if closed {
			cond = "c.team = $1 AND (a.team = $1 OR (c.status = 'closed' AND a.case_id IS NULL))"
		}
	case auth.RoleSupervisor:
		cond, arg = "c.district = $1", p.District
	case auth.RoleAdmin:
		cond = "$1::text = 'admin'"
	}
	return strings.Replace(query, "{scope}", "("+cond+")", 1), arg
}

// caseStatuses are the statuses a list may be filtered by.
var caseStatuses = []string{caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted,
	caseflow.StatusResolved, caseflow.StatusReturned, caseflow.StatusClosed}

// Assignment is one line of an officer's inbox: a case, where and what it
// is, and its deadlines.
type Assignment struct {
	CaseID       string `json:"case_id"`
	Status       string `json:"status"`
	Category     string `json:"category"`
	Subcategory  string `json:"subcategory,omitempty"`
	CategoryName string `json:"category_name,omitempty"`
	District     string `json:"district"`
	DistrictName string `json:"district_name,omitempty"`
	Subdistrict  string `json:"subdistrict,omitempty"`
	// SubdistrictName is the case's sub-district (街道) by its name, when
	// it is known: the case's own, or its first located complaint's.
	SubdistrictName string `json:"subdistrict_name,omitempty"`
	Team            string `json:"team,omitempty"`
	// TeamName names the team that holds the case (its active
	// assignment), or the team that held it last of a closed case; null
	// when no team holds it (待派单, 已退单).
	TeamName *string `json:"team_name"`
	Priority string  `json:"priority"`
	Mode     string  `json:"mode"`
	// Place is where the case is, as the case view and the weekly report
	// show it (shownPlace), callers' names and phones masked.
	Place          string     `json:"place,omitempty"`
	HotspotID      string     `json:"hotspot_id,omitempty"`
	Escalated      bool       `json:"escalated"`
	Reopened       int        `json:"reopened"`
	ComplaintCount int        `json:"complaint_count"`
	Lon            *float64   `json:"lon,omitempty"`
	Lat            *float64   `json:"lat,omitempty"`
	OpenedAt       time.Time  `json:"opened_at"`
	AssignedAt     *time.Time `json:"assigned_at,omitempty"`
	SignDue        *time.Time `json:"sign_due,omitempty"`
	ResolveDue     *time.Time `json:"resolve_due,omitempty"`
	AcceptedAt     *time.Time `json:"accepted_at,omitempty"`
	// ResolvedAt and ClosedAt are when the case was resolved (办结) and
	// closed (销号), absent until it was: an 已办结 card says when it
	// was handled, not when it was dispatched.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// ReopenedAt is when the case was last reopened (重新交办) by a new
	// complaint at its place after it was resolved; absent if never.
	ReopenedAt *time.Time `json:"reopened_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// MovedOut marks a closed case that was closed because supervisors'
	// corrections (分拣更正) moved every complaint out of it: it was
	// never handled, and reads 已移出, not 已销号.
	MovedOut bool `json:"moved_out,omitempty"`
}

// movedOut is the SQL condition under which case c was closed for
// having no complaint left, every one moved out by a supervisor's
// correction (the router's removal, audited remove, and its closing): it
// is read from the case as it is, so no event or audit entry of the
// router says it again.
const movedOut = `(c.status = 'closed' AND NOT EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.case_id = c.id)
	AND EXISTS (SELECT 1 FROM case_audit ca WHERE ca.case_id = c.id AND ca.action = 'remove'))`

// shownPlace is the place of case c as officers see it, and as the
// hotspots' API and the weekly report show a place: its name, or else its
// key less the district's slug (华昌路鹭港苑, not huli/华昌路鹭港苑), or its
// hotspot's, or its first located complaint's. It is made of citizens'
// addresses: whoever reads it masks it (pii.MaskPlace).
var shownPlace = `COALESCE(NULLIF(` + place.ShownSQL("c.place", "c.place_key") + `, ''),
	(SELECT NULLIF(` + place.ShownSQL("h.place", "h.place_key") + `, '')
		FROM hotspots h WHERE h.id = c.hotspot_id),
	(SELECT ` + place.ShownSQL("l.place", "l.place_key") + `
		FROM case_complaints cc JOIN locations l ON l.complaint_id = cc.complaint_id
		WHERE cc.case_id = c.id AND COALESCE(NULLIF(l.place, ''), NULLIF(l.place_key, '')) IS NOT NULL
		ORDER BY l.received_at, l.complaint_id LIMIT 1), '')`

// shownSubdistrict is the sub-district of case c: its own, or its first
// located complaint's.
const shownSubdistrict = `COALESCE(NULLIF(c.subdistrict, ''),
	(SELECT l.subdistrict FROM case_complaints cc JOIN locations l ON l.complaint_id = cc.complaint_id
		WHERE cc.case_id = c.id AND NULLIF(l.subdistrict, '') IS NOT NULL
		ORDER BY l.received_at, l.complaint_id LIMIT 1), '')`

// listColumns are an Assignment's, of the case c of the page p with its
// active assignment a.
var listColumns = `c.id, c.status, c.category, COALESCE(c.subcategory, ''), c.district, ` + shownSubdistrict + `,
	COALESCE(c.team, ''), c.priority, c.mode, ` + shownPlace + `, COALESCE(c.hotspot_id, ''), c.escalated, c.reopened,
	(SELECT count(*) FROM case_complaints cc WHERE cc.case_id = c.id), c.lon, c.lat, c.opened_at, a.assigned_at,
	c.sign_due, c.resolve_due, c.accepted_at, c.resolved_at, c.closed_at, c.updated_at, ` + movedOut + `,
	(SELECT max(ca.at) FROM case_audit ca WHERE ca.case_id = c.id AND ca.action = 'reopen'),
	COALESCE(a.team, CASE WHEN c.status = 'closed' THEN c.team END, '')`

// listEnded lists cases newest first (the lists that are not active), paged by
// (opened_at, id). The page is chosen first and described after, so the
// places and counts are read for its rows only.
var listEnded = `WITH p AS (
	SELECT c.id FROM cases c
	LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
	WHERE {scope}
		AND (cardinality($2::text[]) = 0 OR c.status = ANY($2))
		AND ($3::timestamptz IS NULL OR (c.opened_at, c.id) < ($3, $4))
	ORDER BY c.opened_at DESC, c.id DESC
	LIMIT $5)
SELECT ` + listColumns + `, 0, NULL::timestamptz
FROM p JOIN cases c ON c.id = p.id
LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
ORDER BY c.opened_at DESC, c.id DESC`

// actionRank and actionDue are case c's place in the order of what needs
// action first, as of $6: overdue (a sign-for deadline of a case not
// signed for, or a resolve deadline, passed), then by priority (urgent,
// priority, normal): rank 0 to 5; then by the nearest deadline still to meet
// (the sign-for one until signed for), none last.
const (
	actionRank = `(CASE WHEN c.status IN ('assigned', 'accepted')
			AND ((c.status = 'assigned' AND c.sign_due < $6) OR c.resolve_due < $6) THEN 0 ELSE 3 END
		+ CASE c.priority WHEN '` + routing.PriorityUrgent + `' THEN 0 WHEN '` + routing.PriorityHigh + `' THEN 1 ELSE 2 END)`
	actionDue = `COALESCE(CASE c.status WHEN 'assigned' THEN LEAST(c.sign_due, c.resolve_due)
		WHEN 'accepted' THEN c.resolve_due END, '9999-12-31T00:00:00Z'::timestamptz)`
)

// listActive lists cases by what needs action first (actionRank,
// actionDue), then newest first, paged by (rank, due, opened_at, id)
// as of the first page's time ($6), so that a case falling overdue
// between pages moves no other across the boundary.
var listActive = `WITH p AS (
	SELECT c.id, k.rank, k.due FROM cases c
	LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
	CROSS JOIN LATERAL (SELECT ` + actionRank + ` AS rank, ` + actionDue + ` AS due) k
	WHERE {scope}
		AND (cardinality($2::text[]) = 0 OR c.status = ANY($2))
		AND ($3::timestamptz IS NULL OR (k.rank, k.due) > ($7::int, $8::timestamptz)
			OR ((k.rank, k.due) = ($7::int, $8::timestamptz) AND (c.opened_at, c.id) < ($3, $4)))
	ORDER BY k.rank, k.due, c.opened_at DESC, c.id DESC
	LIMIT $5)
SELECT ` + listColumns + `, p.rank, p.due
FROM p JOIN cases c ON c.id = p.id
LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
ORDER BY p.rank, p.due, c.opened_at DESC, c.id DESC`

// active reports whether a list of statuses asks for cases still to be
// acted on only (open, assigned, accepted, returned), listed by what needs
// action first. Any other list (ended cases, 已办结; every case, with no
// status asked for; a mix) comes newest first, in the order of an index:
// the action order sorts every case of the list at each page, which the
// active cases of a scope, a few hundred, afford and a city's years of
// ended ones do not.
func active(statuses []string) bool {
	if len(statuses) == 0 {
		return false
	}
	for _, st := range statuses {
		switch st {
		case caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted, caseflow.StatusReturned:
		default:
			return false
		}
	}
	return true
}

// handleAssignments lists the cases the principal may see: an officer its
// team's, a supervisor its district's, an admin all. A list of cases
// still to be acted on (active) comes by what needs action first: overdue
// cases, then urgent ones, then by the nearest deadline, then newest; any
// other newest first. ?status=assigned,accepted filters, ?limit and
// ?cursor page.
func (s *Service) handleAssignments(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	statuses, err := oneOf(r, "status", caseStatuses, caseflow.StatusNames)
	if err != nil {
		return err
	}
	limit, err := s.page(r)
	if err != nil {
		return err
	}
	byAction := active(statuses)
	cur, err := parseListCursor(r, byAction)
	if err != nil {
		return err
	}
	var at *time.Time
	var after string
	asOf := time.Now().UTC()
	if cur != nil {
		at, after = &cur.At, cur.ID
		if byAction {
			asOf = cur.AsOf
		}
	}
	var rows pgx.Rows
	if byAction {
		var rank *int
		var due *time.Time
		if cur != nil {
			rank, due = &cur.Rank, &cur.Due
		}
		q, scope := scoped(listActive, p, true)
		rows, err = s.pool.Query(r.Context(), q, scope, statuses, at, after, limit+1, asOf, rank, due)
	} else {
		q, scope := scoped(listEnded, p, true)
		rows, err = s.pool.Query(r.Context(), q, scope, statuses, at, after, limit+1)
	}
	if err != nil {
		return fmt.Errorf("list assignments: %w", err)
	}
	type row struct {
		a    Assignment
		team string
		rank int
		due  *time.Time
	}
	items, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (row, error) {
		var x row
		a := &x.a
		err := rw.Scan(&a.CaseID, &a.Status, &a.Category, &a.Subcategory, &a.District, &a.Subdistrict,
			&a.Team, &a.Priority, &a.Mode, &a.Place, &a.HotspotID, &a.Escalated, &a.Reopened,
			&a.ComplaintCount, &a.Lon, &a.Lat, &a.OpenedAt, &a.AssignedAt,
			&a.SignDue, &a.ResolveDue, &a.AcceptedAt, &a.ResolvedAt, &a.ClosedAt, &a.UpdatedAt, &a.MovedOut, &a.ReopenedAt, &x.team, &x.rank, &x.due)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("list assignments: %w", err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		c := listCursor{At: last.a.OpenedAt, ID: last.a.CaseID}
		if byAction {
			c.byAction, c.AsOf, c.Rank, c.Due = true, asOf, last.rank, *last.due
		}
		next = c.String()
	}
	out := make([]Assignment, len(items))
	for i := range items {
		a := items[i].a
		a.CategoryName = s.cls.Name(a.Category, a.Subcategory)
		a.DistrictName = s.districtName(a.District)
		a.SubdistrictName = s.subdistrictName(a.Subdistrict)
		if name := s.teamLabel(items[i].team); name != "" {
			a.TeamName = &name
		}
		a.Place = pii.MaskPlace(a.Place)
		out[i] = a
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Items      []Assignment `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}{out, next})
	return nil
}

// subdistrictName is a sub-district by its name, given its name or its
// statistics code; "" for one the gazetteer does not know given by code.
func (s *Service) subdistrictName(v string) string {
	if v == "" {
		return ""
	}
	if n, ok := s.subdistricts[v]; ok {
		return n
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return v // a name the gazetteer does not list
		}
	}
	return ""
}

// Complaint is one hotline work order of a case as an officer sees it:
// the caller masked, phone numbers in the description masked too.
type Complaint struct {
	ComplaintID  string    `json:"complaint_id"`
	TicketID     string    `json:"ticket_id"`
	ReceivedAt   time.Time `json:"received_at"`
	Description  string    `json:"description"`
	Address      string    `json:"address,omitempty"`
	District     string    `json:"district,omitempty"`
	DistrictName string    `json:"district_name,omitempty"`
	Subdistrict  string    `json:"subdistrict,omitempty"`
	Lon          *float64  `json:"lon,omitempty"` // WGS-84
	Lat          *float64  `json:"lat,omitempty"`
	Category     string    `json:"category,omitempty"`
	Subcategory  string    `json:"subcategory,omitempty"`
	CategoryName string    `json:"category_name,omitempty"`
	Channel      string    `json:"channel,omitempty"`
	CallerName   string    `json:"caller_name,omitempty"`  // masked, 王**
	CallerPhone  string    `json:"caller_phone,omitempty"` // masked, 138****5678
	// CallerErasedAt is when the retention job erased the caller's name
	// and phone (NUISANCE_PII_RETENTION), its case having ended, or the
	// complaint having waited on triage or on a dead letter, long before:
	// the officer is told so, rather than shown no caller. Absent for a work order that came
	// with no caller, erased or not.
	CallerErasedAt *time.Time `json:"caller_erased_at,omitempty"`
}

// CaseView is a case with its work orders and its audit trail.
type CaseView struct {
	caseflow.Case
	CategoryName string `json:"category_name,omitempty"`
	DistrictName string `json:"district_name,omitempty"`
	// TeamName names the team holding the case, as Assignment.TeamName
	// does: absent while no team holds it (待派单, 已退单).
	TeamName string `json:"team_name,omitempty"`
	// SubdistrictName: see Assignment.SubdistrictName.
	SubdistrictName string `json:"subdistrict_name,omitempty"`
	// MovedOut: see Assignment.MovedOut.
	MovedOut bool `json:"moved_out,omitempty"`
	// ReopenedAt is when a new complaint at the place of the resolved
	// case last reopened it (重新交办); Reopened counts the reopenings.
	ReopenedAt *time.Time `json:"reopened_at,omitempty"`
	// PreviousResolution is, while a reopened case has not been resolved
	// again, the resolution the reopening set aside: its outcome and note
	// are no longer the case's (outcome and note are empty).
	PreviousResolution *Resolution  `json:"previous_resolution,omitempty"`
	Complaints         []Complaint  `json:"complaints"`
	Audit              []AuditEntry `json:"audit"`
}

// callerErasedAt is when the retention job erased the caller of the
// complaint m, or NULL: not erased, or there was none to erase (the job
// sweeps a work order that came with no caller too, and records that it
// had none: caller_erased false). One swept before the job recorded it
// (caller_erased NULL) is taken as erased, as it was then shown.
const callerErasedAt = `CASE WHEN m.caller_erased IS NOT FALSE THEN m.pii_erased_at END`

const caseComplaints = `SELECT m.id, m.ticket_id, m.received_at, m.description, COALESCE(m.address, ''),
	COALESCE(l.district, ''), COALESCE(l.district_name, ''), COALESCE(l.subdistrict, ''), l.lon, l.lat,
	COALESCE(l.category, m.category, ''), COALESCE(l.subcategory, m.subcategory, ''), COALESCE(m.channel, ''),
	COALESCE(m.caller_name, ''), COALESCE(m.caller_phone, ''), ` + callerErasedAt + `
FROM cases c
LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
JOIN case_complaints cc ON cc.case_id = c.id
JOIN complaints m ON m.id = cc.complaint_id
LEFT JOIN locations l ON l.complaint_id = m.id
WHERE c.id = $2 AND {scope}
ORDER BY m.received_at, m.id`

// handleCase shows a case with its complaints, callers masked.
func (s *Service) handleCase(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var v CaseView
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		c, err := caseflow.GetFor(ctx, tx, id, actor(p))
		if err != nil {
			return err
		}
		v.Case = c
		if v.Complaints, err = s.complaints(ctx, tx, id, p); err != nil {
			return err
		}
		var re reopening
		if v.Audit, re, err = s.auditView(ctx, tx, id); err != nil {
			return err
		}
		v.reopened(re)
		if err := tx.QueryRow(ctx, `SELECT `+movedOut+`, `+shownPlace+`, `+shownSubdistrict+` FROM cases c WHERE c.id = $1`, id).
			Scan(&v.MovedOut, &v.Place, &v.Subdistrict); err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.name(&v)
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

// reopened sets in v what the record says of its last reopening: when,
// and the resolution it set aside while the case has not been resolved
// again, which is then no longer shown as the case's.
func (v *CaseView) reopened(re reopening) {
	v.ReopenedAt = re.at
	if re.previous != nil && v.Status != caseflow.StatusResolved && v.Status != caseflow.StatusClosed {
		v.PreviousResolution = re.previous
		v.Outcome, v.Note = "", ""
	}
}

// name gives v the names of its kind, district, team and sub-district,
// and masks it for the reader.
func (s *Service) name(v *CaseView) {
	v.CategoryName = s.cls.Name(v.Category, v.Subcategory)
	v.DistrictName = s.districtName(v.District)
	// A team is named while it holds the case (and of a closed case,
	// the team that held it last), as the list names it: none of a case
	// waiting for a team (待派单) or returned (已退单).
	if v.Status != caseflow.StatusOpen && v.Status != caseflow.StatusReturned {
		v.TeamName = s.teamName(v.Team)
	}
	v.SubdistrictName = s.subdistrictName(v.Subdistrict)
	v.mask()
}

// mask masks again, on the way out, the numbers in the officers' text of
// a case: a note taken before notes were masked as they are accepted (see
// maskNote) is still stored whole; the place as the list shows it
// (pii.MaskPlace), and its key alike.
func (v *CaseView) mask() {
	v.Note = pii.MaskText(v.Note)
	v.Place = pii.MaskPlace(v.Place)
	v.PlaceKey = pii.MaskPlace(v.PlaceKey)
}

// maskNote masks what an officer typed into a note or a reason: phone and
// ID-card numbers (pii.MaskText) and the names of the case's callers,
// which an officer copies from the case view (pii.MaskNames).
//
// It is masked here, as the request is accepted, before anything keeps
// it, because from here it is copied everywhere: into the case row, its
// audit and its assignment (case_audit, assignments), into the case event
// through the outbox (JetStream keeps it; the callbacks send it to the
// hotline as the work order's note; the live stream pushes it to every
// console of the team and the district), and into this API's answers.
// Masked once at the door, no copy of it is ever whole and no reader has
// to remember to mask it; masked on the way out, the database, the stream
// and the hotline would hold it whole. No officer needs the number in the
// note: the audited call-back reveal gives the caller's.
func maskNote(ctx context.Context, q caseflow.Querier, caseID, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT m.caller_name FROM case_complaints cc JOIN complaints m ON m.id = cc.complaint_id
		WHERE cc.case_id = $1 AND m.caller_name IS NOT NULL`, caseID)
	if err != nil {
		return "", fmt.Errorf("callers of case %s: %w", caseID, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("callers of case %s: %w", caseID, err)
	}
	return pii.MaskText(pii.MaskNames(text, names...)), nil
}

func (s *Service) complaints(ctx context.Context, q caseflow.Querier, caseID string, p auth.Principal) ([]Complaint, error) {
	query, scope := scoped(caseComplaints, p, true)
	rows, err := q.Query(ctx, query, scope, caseID)
	if err != nil {
		return nil, fmt.Errorf("complaints of case %s: %w", caseID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Complaint, error) {
		var c Complaint
		var name, phone string
		err := row.Scan(&c.ComplaintID, &c.TicketID, &c.ReceivedAt, &c.Description, &c.Address,
			&c.District, &c.DistrictName, &c.Subdistrict, &c.Lon, &c.Lat,
			&c.Category, &c.Subcategory, &c.Channel, &name, &phone, &c.CallerErasedAt)
		c.CallerName, c.CallerPhone = pii.MaskName(name), pii.MaskPhone(phone)
		// A caller names themself in their words or address as often as
		// they give their number there: masked alike.
		c.Description, c.Address = pii.MaskText(pii.MaskNames(c.Description, name)), pii.MaskText(pii.MaskNames(c.Address, name))
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("complaints of case %s: %w", caseID, err)
	}
	for i := range out {
		out[i].CategoryName = s.cls.Name(out[i].Category, out[i].Subcategory)
	}
	return out, nil
}

// Caller is a work order's caller as revealed for a call-back: the full
// phone, the name still masked; or, when the retention job erased them,
// no phone and when they were erased.
type Caller struct {
	ComplaintID string     `json:"complaint_id"`
	TicketID    string     `json:"ticket_id"`
	Phone       string     `json:"phone"`
	Name        string     `json:"name,omitempty"`
	ErasedAt    *time.Time `json:"erased_at,omitempty"`
}

const revealCase = `SELECT c.status, COALESCE(a.team, '')
FROM cases c LEFT JOIN assignments a ON a.case_id = c.id AND a.status = 'active'
WHERE c.id = $2 AND {scope}`

// revealCallers reads the callers only through the assigned team's active
// assignment: the team is in the query, not just in the check before it.
const revealCallers = `SELECT m.id, m.ticket_id, COALESCE(m.caller_phone, ''), COALESCE(m.caller_name, ''), ` + callerErasedAt + `
FROM assignments a
JOIN case_complaints cc ON cc.case_id = a.case_id
JOIN complaints m ON m.id = cc.complaint_id
WHERE a.case_id = $1 AND a.status = 'active' AND a.team = $2 AND ($3 = '' OR m.id = $3)
ORDER BY m.received_at, m.id`

// handleReveal shows the callers' full phone numbers to the team assigned
// the case, so it can call the citizen back; each reveal is recorded in
// the case's audit log as reveal_caller with the complaints it showed. A
// caller the retention job erased (a case reopened after its callers'
// data went) is answered with when it was erased, and shows nothing to
// record. Body (optional): {"complaint_id": "..."} to reveal one work
// order.
func (s *Service) handleReveal(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		ComplaintID string `json:"complaint_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	ctx := r.Context()
	var callers []Caller
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var status, team string
		q, scope := scoped(revealCase, p, false)
		err := tx.QueryRow(ctx, q, scope, id).Scan(&status, &team)
		if errors.Is(err, pgx.ErrNoRows) {
			return fault.Errorf(fault.NotFound, "未找到案件 %s", id)
		}
		if err != nil {
			return fmt.Errorf("reveal callers of case %s: %w", id, err)
		}
		if p.Team == "" || team != p.Team {
			return fault.Errorf(fault.Forbidden, "只有承办案件 %s 的单位可以查看来电号码、回访群众", id)
		}
		rows, err := tx.Query(ctx, revealCallers, id, p.Team, in.ComplaintID)
		if err != nil {
			return fmt.Errorf("reveal callers of case %s: %w", id, err)
		}
		callers, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Caller, error) {
			var c Caller
			err := row.Scan(&c.ComplaintID, &c.TicketID, &c.Phone, &c.Name, &c.ErasedAt)
			c.Name = pii.MaskName(c.Name)
			return c, err
		})
		if err != nil {
			return fmt.Errorf("reveal callers of case %s: %w", id, err)
		}
		if len(callers) == 0 {
			return fault.Errorf(fault.NotFound, "案件 %s 中没有投诉 %s", id, in.ComplaintID)
		}
		// Only the numbers shown are recorded: none of a caller erased,
		// nor of a work order that came with no caller.
		var ids []string
		for _, c := range callers {
			if c.Phone != "" {
				ids = append(ids, c.ComplaintID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO case_audit (case_id, actor, from_status, to_status, action, reason)
			VALUES ($1, $2, $3, $3, 'reveal_caller', $4)`, id, p.Actor(), status, "complaints "+strings.Join(ids, ", "))
		if err != nil {
			return fmt.Errorf("audit reveal of case %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	erased := 0
	for _, c := range callers {
		if c.ErasedAt != nil {
			erased++
		}
	}
	s.log.Info("callers revealed", zap.String("case", id), zap.String("officer", p.ID), zap.Int("complaints", len(callers)-erased),
		zap.Int("erased", erased))
	httpx.WriteJSON(w, http.StatusOK, struct {
		CaseID  string   `json:"case_id"`
		Callers []Caller `json:"callers"`
	}{id, callers})
	return nil
}

// transition runs one caseflow transition in a transaction and answers
// the changed case. The transaction ends with the request: a client that
// goes away before it commits leaves the case as it was.
func (s *Service) transition(w http.ResponseWriter, r *http.Request, name string, fn func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error)) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var c caseflow.Case
	var re reopening
	err := pgstore.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if c, err = fn(ctx, tx, id); err != nil {
			return err
		}
		// A reopened case signed for again is answered as the case
		// view shows it: without the resolution the reopening set aside.
		entries, err := caseflow.Audit(ctx, tx, id)
		if err != nil {
			return err
		}
		re = reopenedFrom(entries)
		return nil
	})
	if err != nil {
		actions.WithLabelValues(name, failed(r, err)).Inc()
		return err
	}
	actions.WithLabelValues(name, "ok").Inc()
	v := CaseView{Case: c}
	v.reopened(re)
	s.name(&v)
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

// handleAccept signs for a case (签收). It, handleResolve and
// handleReturn are the assigned team's own (caseflow refuses anyone else
// with 403): a supervisor or an admin reassigns (改派) or extends (延期).
func (s *Service) handleAccept(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := decode(w, r, &struct{}{}); err != nil {
		return err
	}
	return s.transition(w, r, "accept", func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error) {
		return caseflow.Accept(ctx, tx, id, actor(p))
	})
}

// handleResolve records the handling of a case: {"outcome", "note"},
// both required, whatever the outcome.
func (s *Service) handleResolve(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.Note = strings.TrimSpace(in.Note)
	switch {
	case in.Outcome == "":
		return invalid("/outcome", "必填：%s", caseflow.OutcomeChoices())
	case !caseflow.ValidOutcome(in.Outcome):
		return invalid("/outcome", "%q 无效：应为%s", in.Outcome, caseflow.OutcomeChoices())
	case in.Note == "":
		// The hotline reads the note to the citizen as 办理说明: an
		// outcome alone (已整改) tells them nothing of what was done.
		return invalid("/note", "必填：说明如何处置（办理说明将告知来电群众）")
	case utf8.RuneCountInString(in.Note) > maxText:
		return invalid("/note", "超过 %d 字", maxText)
	}
	return s.transition(w, r, "resolve", func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error) {
		note, err := maskNote(ctx, tx, id, in.Note)
		if err != nil {
			return caseflow.Case{}, err
		}
		return caseflow.Resolve(ctx, tx, id, actor(p), in.Outcome, note)
	})
}

// handleReturn sends a case back as wrongly dispatched (退单): {"reason"}.
func (s *Service) handleReturn(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.Reason = strings.TrimSpace(in.Reason)
	switch {
	case in.Reason == "":
		return invalid("/reason", "必填：说明案件为何不属本单位办理")
	case utf8.RuneCountInString(in.Reason) > maxText:
		return invalid("/reason", "超过 %d 字", maxText)
	}
	return s.transition(w, r, "return", func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error) {
		reason, err := maskNote(ctx, tx, id, in.Reason)
		if err != nil {
			return caseflow.Case{}, err
		}
		return caseflow.Return(ctx, tx, id, actor(p), reason)
	})
}

// handleReassign moves a case to another team of its district (改派), by a
// supervisor or an admin: {"team", "reason"}.
func (s *Service) handleReassign(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		Team   string `json:"team"`
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.Team, in.Reason = strings.TrimSpace(in.Team), strings.TrimSpace(in.Reason)
	if in.Team == "" {
		return invalid("/team", "必填：选择案件所在区的一个单位")
	}
	if _, ok, err := s.tokens.Team(in.Team); err != nil {
		return err
	} else if !ok {
		return invalid("/team", "未知单位 %q", in.Team)
	}
	switch {
	case in.Reason == "":
		return invalid("/reason", "必填：说明为何改派")
	case utf8.RuneCountInString(in.Reason) > maxText:
		return invalid("/reason", "超过 %d 字", maxText)
	}
	return s.transition(w, r, "reassign", func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error) {
		reason, err := maskNote(ctx, tx, id, in.Reason)
		if err != nil {
			return caseflow.Case{}, err
		}
		// The new team's deadlines are counted on the calendar this
		// service was given, as the router counts them.
		c, err := caseflow.Reassign(caseflow.WithDeadlines(ctx, s.rules), tx, id, actor(p), in.Team, reason)
		return c, asField(err)
	})
}

// asField is err, a caseflow.InputError naming one of the transition's
// arguments made the fieldError of its field.
func asField(err error) error {
	var ie *caseflow.InputError
	if fault.KindOf(err) == fault.Invalid && errors.As(err, &ie) {
		return invalid("/"+ie.Arg, "%s", ie.Msg)
	}
	return err
}

var weekdays = [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}

// workingDay refuses a new resolve deadline whose day, in Xiamen, is not
// a working day of the calendar the router counts deadlines by: a
// deadline is the end of a working day (DOMAIN.md), and no team works a
// case on a rest day or a public holiday. The refusal names the day and
// the next working day. The time of day is the supervisor's: a deadline
// on a working day ends when it says (the console sends 23:59:59).
func (s *Service) workingDay(due time.Time) error {
	if s.cal.IsWorkingDay(due) {
		return nil
	}
	loc := s.cal.Location()
	day := due.In(loc)
	what := "休息日（" + weekdays[day.Weekday()] + "）"
	if name, adjusted, ok := s.cal.Holiday(due); ok && !adjusted {
		what = "法定节假日（" + name + "，" + weekdays[day.Weekday()] + "）"
	}
	next := s.cal.AddWorkingDays(due, 1)
	return invalid("/resolve_due", "%s 是%s；下一个工作日是 %s（%s），时限截至当日结束：%s",
		day.Format(time.DateOnly), what, next.Format(time.DateOnly), weekdays[next.Weekday()], caseflow.When(next))
}

// handleExtend moves a case's resolve deadline later (延期), by a
// supervisor or an admin: {"resolve_due" (RFC 3339), "reason"}. The new
// deadline falls on a working day (workingDay), checked once the case is
// known to be the reader's to extend.
func (s *Service) handleExtend(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		ResolveDue string `json:"resolve_due"`
		Reason     string `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.ResolveDue, in.Reason = strings.TrimSpace(in.ResolveDue), strings.TrimSpace(in.Reason)
	due, err := time.Parse(time.RFC3339, in.ResolveDue)
	switch {
	case in.ResolveDue == "":
		return invalid("/resolve_due", "必填：新的办结时限，RFC 3339 格式（2024-03-19T23:59:59+08:00）")
	case err != nil:
		return invalid("/resolve_due", "不是 RFC 3339 格式的时间（2024-03-19T23:59:59+08:00）")
	case in.Reason == "":
		return invalid("/reason", "必填：说明为何需要延期")
	case utf8.RuneCountInString(in.Reason) > maxText:
		return invalid("/reason", "超过 %d 字", maxText)
	}
	return s.transition(w, r, "extend", func(ctx context.Context, tx pgx.Tx, id string) (caseflow.Case, error) {
		// The case first: another district's case, or none, is 404
		// whatever the date (a rest day is no news of it).
		if _, err := caseflow.GetFor(ctx, tx, id, actor(p)); err != nil {
			return caseflow.Case{}, err
		}
		if err := s.workingDay(due); err != nil {
			return caseflow.Case{}, err
		}
		reason, err := maskNote(ctx, tx, id, in.Reason)
		if err != nil {
			return caseflow.Case{}, err
		}
		c, err := caseflow.Extend(ctx, tx, id, actor(p), due, reason)
		return c, asField(err)
	})
}
