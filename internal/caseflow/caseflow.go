// Package caseflow is the case state machine of the pipeline: a case is
// opened for a complaint, joined by repeat complaints about the same place,
// assigned to one team at a time, accepted, resolved and closed, or
// returned (退单) and routed again. Every transition runs in the caller's
// transaction, is recorded in case_audit and announces itself through the
// outbox, so the router, the officers' API and the CLI share one set of
// rules and one audit trail.
package caseflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// Statuses a case can be in (cases.status). Escalation (督办) and
// reopening are flags and counters on top of these, not statuses.
const (
	StatusOpen     = "open"
	StatusAssigned = "assigned"
	StatusAccepted = "accepted"
	StatusResolved = "resolved"
	StatusReturned = "returned"
	StatusClosed   = "closed"
)

// Roles an Actor acts in; they decide which cases it may see and change.
const (
	RoleService    = "service"
	RoleOfficer    = "officer"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// Outcomes an officer may record when resolving a case.
const (
	OutcomeRectified   = "rectified"
	OutcomeNoViolation = "no_violation"
	OutcomePenalized   = "penalized"
	OutcomeReferred    = "referred"
)

// Kinds of case event; the subject is "case.<kind>", and for assignments
// "case.assigned.<team>" so each team can subscribe to its own work.
const (
	KindOpened    = "opened"
	KindMerged    = "merged"
	KindAssigned  = "assigned"
	KindAccepted  = "accepted"
	KindResolved  = "resolved"
	KindReturned  = "returned"
	KindReopened  = "reopened"
	KindEscalated = "escalated"
	KindExtended  = "extended"
	KindClosed    = "closed"
)

// Timer kinds in case_timers: the sign-for (签收) and resolve (办结)
// deadlines of the active assignment.
const (
	TimerSign    = "sign"
	TimerResolve = "resolve"
)

// Actor is who performs a transition. ID is "service:<name>" or
// "officer:<id>"; Team and District scope what an officer or a supervisor
// may touch.
type Actor struct {
	ID       string
	Team     string
	District string
	Role     string
}

// Service returns the actor of a pipeline service, e.g. Service("router").
func Service(name string) Actor {
	return Actor{ID: "service:" + name, Role: RoleService}
}

func (a Actor) role() string {
	if a.Role == "" && strings.HasPrefix(a.ID, "service:") {
		return RoleService
	}
	return a.Role
}

func (a Actor) check() error {
	if a.ID == "" {
		return fault.Errorf(fault.Unauthorized, "未指明操作人")
	}
	switch a.role() {
	case RoleService, RoleAdmin:
	case RoleOfficer:
		if a.Team == "" {
			return fault.Errorf(fault.Forbidden, "执法人员 %s 未编入执法单位", a.ID)
		}
	case RoleSupervisor:
		if a.District == "" {
			return fault.Errorf(fault.Forbidden, "区级主管 %s 未指定所辖区", a.ID)
		}
	default:
		return fault.Errorf(fault.Forbidden, "操作人 %s 的角色 %q 未知", a.ID, a.Role)
	}
	return nil
}

// Case is a case as stored, for the officers' API, the look-up and the
// router.
type Case struct {
	ID             string     `json:"id"`
	Category       string     `json:"category"`
	Subcategory    string     `json:"subcategory,omitempty"`
	District       string     `json:"district"`
	Subdistrict    string     `json:"subdistrict,omitempty"`
	Team           string     `json:"team,omitempty"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority"`
	Mode           string     `json:"mode"`
	HotspotID      string     `json:"hotspot_id,omitempty"`
	Place          string     `json:"place,omitempty"`
	PlaceKey       string     `json:"place_key,omitempty"`
	QuietCommunity string     `json:"quiet_community,omitempty"`
	PositiveList   string     `json:"positive_list,omitempty"`
	Escalated      bool       `json:"escalated"`
	Reopened       int        `json:"reopened"`
	Outcome        string     `json:"outcome,omitempty"`
	Note           string     `json:"note,omitempty"`
	Lon            *float64   `json:"lon,omitempty"`
	Lat            *float64   `json:"lat,omitempty"`
	OpenedAt       time.Time  `json:"opened_at"`
	SignDue        *time.Time `json:"sign_due,omitempty"`
	ResolveDue     *time.Time `json:"resolve_due,omitempty"`
	AcceptedAt     *time.Time `json:"accepted_at,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Version counts the case's transitions; event ids carry it so that a
	// replayed transition produces the same id.
	Version int `json:"version"`
}

// Querier is what Get and the other readers need: a transaction, a
// connection or a pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const caseColumns = `c.id, c.category, COALESCE(c.subcategory, ''), c.district, COALESCE(c.subdistrict, ''), COALESCE(c.team, ''),
	c.status, c.priority, c.mode, COALESCE(c.hotspot_id, ''), COALESCE(c.place, ''), COALESCE(c.place_key, ''),
	COALESCE(c.quiet_community, ''), COALESCE(c.positive_list, ''), c.escalated, c.reopened, COALESCE(c.outcome, ''),
	COALESCE(c.note, ''), c.lon, c.lat, c.opened_at, c.sign_due, c.resolve_due, c.accepted_at, c.resolved_at,
	c.closed_at, c.updated_at, c.version`

func scanCase(row pgx.Row) (Case, error) {
	var c Case
	err := row.Scan(&c.ID, &c.Category, &c.Subcategory, &c.District, &c.Subdistrict, &c.Team,
		&c.Status, &c.Priority, &c.Mode, &c.HotspotID, &c.Place, &c.PlaceKey,
		&c.QuietCommunity, &c.PositiveList, &c.Escalated, &c.Reopened, &c.Outcome,
		&c.Note, &c.Lon, &c.Lat, &c.OpenedAt, &c.SignDue, &c.ResolveDue, &c.AcceptedAt, &c.ResolvedAt,
		&c.ClosedAt, &c.UpdatedAt, &c.Version)
	return c, err
}

// visible is the SQL condition under which the actor in $2 (role), $3
// (team) and $4 (district) may see and act on case c: an officer only on
// the cases its team holds the active assignment of, a supervisor on its
// district's, admins and services on all.
const visible = `(($2 = 'officer' AND EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'active' AND a.team = $3))
	OR ($2 = 'supervisor' AND c.district = $4)
	OR $2 IN ('admin', 'service'))`

// readable is visible, and for an officer also the closed case its team
// held last: 办结销号 ends the assignment, and the team still reads the
// case it worked, but acts on it no more.
const readable = `(` + visible + ` OR ($2 = 'officer' AND c.status = 'closed' AND c.team = $3
	AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'active')))`

// Get reads a case regardless of who asks; fault.NotFound when there is
// none.
func Get(ctx context.Context, q Querier, id string) (Case, error) {
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, fault.Errorf(fault.NotFound, "未找到案件 %s", id)
	}
	if err != nil {
		return Case{}, fmt.Errorf("get case %s: %w", id, err)
	}
	return c, nil
}

// GetFor reads a case as the actor may see it (readable): another team's
// case is fault.NotFound, exactly like a case that does not exist, so an
// officer learns nothing of other teams' work.
func GetFor(ctx context.Context, q Querier, id string, by Actor) (Case, error) {
	if err := by.check(); err != nil {
		return Case{}, err
	}
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases c WHERE c.id = $1 AND `+readable, id, by.role(), by.Team, by.District))
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, fault.Errorf(fault.NotFound, "未找到案件 %s", id)
	}
	if err != nil {
		return Case{}, fmt.Errorf("get case %s: %w", id, err)
	}
	return c, nil
}

// Tickets lists the hotline work orders a case holds, so that every one
// of them is answered when the case changes.
func Tickets(ctx context.Context, q Querier, caseID string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT m.ticket_id FROM case_complaints cc JOIN complaints m ON m.id = cc.complaint_id
		WHERE cc.case_id = $1 ORDER BY m.ticket_id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("tickets of case %s: %w", caseID, err)
	}
	t, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("tickets of case %s: %w", caseID, err)
	}
	return t, nil
}

// Complaints lists the complaint ids a case holds, oldest first.
func Complaints(ctx context.Context, q Querier, caseID string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT complaint_id FROM case_complaints WHERE case_id = $1 ORDER BY joined_at, complaint_id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("complaints of case %s: %w", caseID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("complaints of case %s: %w", caseID, err)
	}
	return ids, nil
}

// ReturnedTeams lists the teams that returned a case (退单); the router
// never assigns it to them again.
func ReturnedTeams(ctx context.Context, q Querier, caseID string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT team FROM assignments WHERE case_id = $1 AND status = 'returned' ORDER BY team`, caseID)
	if err != nil {
		return nil, fmt.Errorf("returned teams of case %s: %w", caseID, err)
	}
	teams, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("returned teams of case %s: %w", caseID, err)
	}
	return teams, nil
}

// AuditEntry is one recorded transition of a case.
type AuditEntry struct {
	ID     int64     `json:"id"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Action string    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	// Deadline is the kind of deadline ("sign" or "resolve") the entry
	// concerns: for an escalation (督办) the one that passed, at
	// DueBefore; for an extension (延期) and a reopening (重新交办) the
	// resolve deadline, moved from DueBefore to DueAfter.
	Deadline  string     `json:"deadline,omitempty"`
	DueBefore *time.Time `json:"due_before,omitempty"`
	DueAfter  *time.Time `json:"due_after,omitempty"`
	// ComplaintID is, for a removal (remove: a supervisor's correction
	// took a complaint out of a case no team held), the complaint that
	// left; MovedTo the case that holds it now, read as the audit is,
	// empty until the router has placed it (or when it went back to the
	// triage list).
	ComplaintID string `json:"complaint_id,omitempty"`
	MovedTo     string `json:"moved_to,omitempty"`
	// FromTeam and ToTeam are, for an assignment (assign, reassign: 派单,
	// 改派), the team that held the case until it (none for a case no
	// team held then: never held, or returned by the team before) and the
	// team it went to. The audit row does not
	// store them: they are read from the case's assignments, the one
	// made by the entry (assigned at its time) and the one before it.
	FromTeam string `json:"from_team,omitempty"`
	ToTeam   string `json:"to_team,omitempty"`
}

// RemoveReason is the audit reason of a removal (remove) of complaintID
// from a case, followed by what the correction says (rest): Audit reads
// the complaint back from its head to name the case it went to.
func RemoveReason(complaintID, rest string) string {
	return "complaint " + complaintID + " corrected to " + rest
}

// Merged is what the reason of a merge (merge) says: the complaint that
// joined the case, the priority it raised the case to (empty: none) and
// the deadlines it brought forward (zero: not moved).
type Merged struct {
	ComplaintID       string
	RaisedTo          string
	SignBy, ResolveBy time.Time
}

// MergeReason is the audit reason of a merge, for the log and the
// hotline's note: "complaint <id>; priority raised to urgent; deadline
// brought forward: sign-for by <RFC 3339>, resolve by <RFC 3339>", each
// part after the first only when it happened. ParseMergeReason reads it
// back, so that a reader can say it in its own words.
func MergeReason(m Merged) string {
	reason := "complaint " + m.ComplaintID
	if m.RaisedTo != "" {
		reason += "; priority raised to " + m.RaisedTo
	}
	var earlier []string
	if !m.SignBy.IsZero() {
		earlier = append(earlier, "sign-for by "+m.SignBy.UTC().Format(time.RFC3339))
	}
	if !m.ResolveBy.IsZero() {
		earlier = append(earlier, "resolve by "+m.ResolveBy.UTC().Format(time.RFC3339))
	}
	if len(earlier) > 0 {
		reason += "; deadline brought forward: " + strings.Join(earlier, ", ")
	}
	return reason
}

// ParseMergeReason reads a reason MergeReason made; false for any other.
func ParseMergeReason(reason string) (Merged, bool) {
	parts := strings.Split(reason, "; ")
	id, ok := strings.CutPrefix(parts[0], "complaint ")
	if !ok || id == "" || strings.ContainsAny(id, " ,;") {
		return Merged{}, false
	}
	m := Merged{ComplaintID: id}
	for _, p := range parts[1:] {
		if to, ok := strings.CutPrefix(p, "priority raised to "); ok && to != "" && m.RaisedTo == "" {
			m.RaisedTo = to
			continue
		}
		list, ok := strings.CutPrefix(p, "deadline brought forward: ")
		if !ok {
			return Merged{}, false
		}
		for _, d := range strings.Split(list, ", ") {
			var at *time.Time
			var v string
			if v, ok = strings.CutPrefix(d, "sign-for by "); ok {
				at = &m.SignBy
			} else if v, ok = strings.CutPrefix(d, "resolve by "); ok {
				at = &m.ResolveBy
			} else {
				return Merged{}, false
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return Merged{}, false
			}
			*at = t
		}
	}
	return m, true
}

// removed is, of the audit entry ca, the complaint a removal took out of
// its case (RemoveReason), or NULL.
const removed = `CASE WHEN ca.action = 'remove' THEN substring(ca.reason from '^complaint (\S+) corrected to ') END`

// Audit returns a case's transitions in order, for the officers' case view
// and for inquiries into who did what. A removal names the case its
// complaint is in now (MovedTo): the router records the removal before
// it places the complaint, and the complaint's membership says where it
// went. An assignment names the team before and the team after
// (FromTeam, ToTeam), read from the case's assignments: the transition
// stamps the assignment it makes and its audit row with the same time.
func Audit(ctx context.Context, q Querier, caseID string) ([]AuditEntry, error) {
	rows, err := q.Query(ctx, `SELECT ca.id, ca.actor, ca.at, COALESCE(ca.from_status, ''), ca.to_status, ca.action, COALESCE(ca.reason, ''),
			COALESCE(ca.deadline, ''), ca.due_before, ca.due_after, COALESCE(r.complaint_id, ''), COALESCE(cc.case_id, ''),
			COALESCE(f.team, ''), COALESCE(t.team, '')
		FROM case_audit ca
		CROSS JOIN LATERAL (SELECT `+removed+` AS complaint_id) r
		LEFT JOIN case_complaints cc ON cc.complaint_id = r.complaint_id AND cc.case_id <> ca.case_id
		LEFT JOIN LATERAL (SELECT x.team FROM assignments x WHERE ca.action IN ('assign', 'reassign')
			AND x.case_id = ca.case_id AND x.assigned_at = ca.at ORDER BY x.id DESC LIMIT 1) t ON true
		LEFT JOIN LATERAL (SELECT x.team FROM assignments x WHERE ca.action IN ('assign', 'reassign')
			AND x.case_id = ca.case_id AND x.assigned_at < ca.at AND (x.ended_at IS NULL OR x.ended_at >= ca.at) ORDER BY x.assigned_at DESC, x.id DESC LIMIT 1) f ON true
		WHERE ca.case_id = $1 ORDER BY ca.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("audit of case %s: %w", caseID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.Actor, &e.At, &e.From, &e.To, &e.Action, &e.Reason, &e.Deadline, &e.DueBefore, &e.DueAfter,
			&e.ComplaintID, &e.MovedTo, &e.FromTeam, &e.ToTeam)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit of case %s: %w", caseID, err)
	}
	return out, nil
}

// record writes the audit row and the case event of one transition,
// which concerns every ticket of the case. The event id is
// "<case>.<kind>.<version>", so a replayed transition yields the same id
// and the outbox keeps one.
func record(ctx context.Context, tx pgx.Tx, c Case, by Actor, from, action, kind, reason string, at time.Time) error {
	return recordFrom(ctx, tx, c, by, from, action, kind, reason, at, "", deadlineMove{})
}

// deadlineMove is, in an audit entry, the deadline a transition concerns:
// its kind (TimerSign or TimerResolve), what it was and, when the
// transition set a new one (延期), what it became. The zero value is none.
type deadlineMove struct {
	kind          string
	before, after *time.Time
	// signBefore is, for a reopen, the sign deadline it replaced.
	signBefore *time.Time
}

// recordFrom is record of a transition that names the team the case came
// from (previousTeam, when another team held it) or the deadline it
// concerns (moved).
func recordFrom(ctx context.Context, tx pgx.Tx, c Case, by Actor, from, action, kind, reason string, at time.Time, previousTeam string, moved deadlineMove) error {
	if _, err := tx.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason, deadline, due_before, due_after,
			sign_due_before)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11)`,
		c.ID, by.ID, at, from, c.Status, action, reason, moved.kind, moved.before, moved.after, moved.signBefore); err != nil {
		return fmt.Errorf("audit case %s: %w", c.ID, err)
	}
	tickets, err := Tickets(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	eventID := c.ID + "." + kind + "." + strconv.Itoa(c.Version)
	ev := changed(c, by, kind, reason, at, eventID, tickets)
	ev.PreviousTeam = previousTeam
	for _, p := range ev.Paged() {
		if err := outbox.Add(ctx, tx, Subject(kind, c.Team), p.EventID, p); err != nil {
			return err
		}
	}
	return nil
}

// changed is the event of a transition of kind that left the case c.
func changed(c Case, by Actor, kind, note string, at time.Time, eventID string, tickets []string, opts ...eventOption) event.CaseChanged {
	ev := event.CaseChanged{
		EventID:  eventID,
		CaseID:   c.ID,
		Kind:     kind,
		Status:   c.Status,
		Team:     c.Team,
		Category: c.Category,
		District: c.District,
		Note:     note,
		Actor:    by.ID,
		Tickets:  tickets,
		DueAt:    c.ResolveDue,
		At:       at.UTC(),
	}
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

// eventOption sets what only some transitions' events say.
type eventOption func(*event.CaseChanged)

// deadlineSooner marks the event of a merge that brought a deadline of
// the case forward.
func deadlineSooner(ev *event.CaseChanged) { ev.DeadlineSooner = true }

// Subject is the NATS subject of a case event of kind for team.
func Subject(kind, team string) string {
	if kind == KindAssigned {
		return event.SubjCase + "." + kind + "." + team
	}
	return event.SubjCase + "." + kind
}
