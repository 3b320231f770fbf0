package caseflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// Columns is the select list Scan reads, over the cases table aliased c,
// for callers that find the case to change by conditions of their own
// (the router finds a case by its place) and lock it in the same
// statement.
const Columns = caseColumns

// Scan reads one row of Columns.
func Scan(row pgx.Row) (Case, error) { return scanCase(row) }

// Writes collects the writes of case transitions, of one case or of many,
// and sends them with one statement per table in one round trip: on the
// router's hot path the cases were read and locked already, so each
// transition's effect, audit row and event are known without asking the
// database again. The transitions record the same rows and events, with
// the same ids, as Open, Assign, Merge and Reopen. Several transitions of
// one case collapse into one write of the case's last state. A Writes is
// used once, then discarded; the zero value is ready to use.
type Writes struct {
	cases   map[string]*pendingCase
	order   []string // case ids in the order they were first touched
	members []member
	assigns []assignmentRow
	redue   map[string]dues // active assignments that get new deadlines, by case
	timers  []timerRow
	audit   []auditRow
	events  outbox.Events
}

// pendingCase is a case the writes change: its state once they are sent,
// and whether they insert it or update it from the version read.
type pendingCase struct {
	c      Case
	opened bool
	was    int // version as read, for an update
}

type member struct {
	complaintID, caseID string
	at                  time.Time
}

type assignmentRow struct {
	caseID, team, mode, reason string
	at                         time.Time
	sign, resolve              *time.Time
}

// dues are an active assignment's new deadlines; reopen also clears its
// signing for (a reopened case is signed for again).
type dues struct {
	sign, resolve *time.Time
	reopen        bool
}

type timerRow struct {
	caseID, kind string
	due          time.Time
}

type auditRow struct {
	caseID, actor, from, to, action, reason string
	at                                      time.Time
	// moved is, for an escalation, the deadline that passed; for a
	// reopen, the resolve deadline it replaced and the new one.
	moved deadlineMove
}

// Len is how many statements Send runs.
func (w *Writes) Len() int {
	n := 0
	opened, updated := w.split()
	for _, k := range []int{len(opened), len(updated), len(w.members), len(w.redue), len(w.assigns), len(w.timers), len(w.audit), w.events.Len()} {
		if k > 0 {
			n++
		}
	}
	return n
}

// Cases is how many cases the writes change.
func (w *Writes) Cases() int { return len(w.order) }

// split lists the cases to insert and those to update, in first-touch
// order.
func (w *Writes) split() (opened, updated []*pendingCase) {
	for _, id := range w.order {
		p := w.cases[id]
		if p.opened {
			opened = append(opened, p)
		} else {
			updated = append(updated, p)
		}
	}
	return opened, updated
}

// touch records n as the state c moves to. c must be the case as read and
// locked, or the state the last transition queued on these writes left
// it in; anything else is a caller's stale copy and fault.Conflict.
func (w *Writes) touch(c, n Case, opened bool) error {
	if w.cases == nil {
		w.cases = map[string]*pendingCase{}
	}
	p, ok := w.cases[c.ID]
	if !ok {
		w.cases[c.ID] = &pendingCase{c: n, opened: opened, was: c.Version}
		w.order = append(w.order, c.ID)
		return nil
	}
	if opened {
		return fault.Errorf(fault.Conflict, "case %s is opened twice", c.ID)
	}
	if p.c.Version != c.Version {
		return fault.Errorf(fault.Conflict, "case %s at version %d, queued at %d", c.ID, c.Version, p.c.Version)
	}
	p.c = n
	return nil
}

// record adds what record writes: the audit row and the case event of
// one transition of n, whose work orders are tickets.
func (w *Writes) record(n Case, by Actor, from, action, kind, reason string, tickets []string, at time.Time, opts ...eventOption) error {
	w.audit = append(w.audit, auditRow{caseID: n.ID, actor: by.ID, at: at, from: from, to: n.Status, action: action, reason: reason})
	id := n.ID + "." + kind + "." + strconv.Itoa(n.Version)
	for _, p := range changed(n, by, kind, reason, at, id, tickets, opts...).Paged() {
		payload, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("case event %s: %w", p.EventID, err)
		}
		w.events.AddRaw(Subject(kind, n.Team), p.EventID, payload)
	}
	return nil
}

func (w *Writes) addTimers(n Case) {
	for _, t := range []struct {
		kind string
		due  *time.Time
	}{{TimerSign, n.SignDue}, {TimerResolve, n.ResolveDue}} {
		if t.due != nil {
			w.timers = append(w.timers, timerRow{caseID: n.ID, kind: t.kind, due: *t.due})
		}
	}
}

func dueOf(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// OpenAssigned queues Open followed by Assign: a case for the first
// complaint about a place, given straight to the team the router chose.
// tickets are the complaint's work orders. It returns the case as it is
// once the writes are sent; sending them fails if the case exists.
func (w *Writes) OpenAssigned(by Actor, nc NewCase, a Assignment, tickets []string, at time.Time) (Case, error) {
	if nc.ID == "" || nc.ComplaintID == "" || nc.Category == "" || nc.District == "" || nc.OpenedAt.IsZero() {
		return Case{}, fault.Errorf(fault.Invalid, "a new case needs an id, a complaint, a category, a district and a time")
	}
	if err := a.validate(); err != nil {
		return Case{}, err
	}
	if err := by.check(); err != nil {
		return Case{}, err
	}
	at = at.UTC()
	opened := Case{
		ID: nc.ID, Category: nc.Category, Subcategory: nc.Subcategory, District: nc.District, Subdistrict: nc.Subdistrict,
		Status: StatusOpen, Priority: routing.PriorityNormal, Mode: routing.ModeOnSite, HotspotID: nc.HotspotID, Place: nc.Place, PlaceKey: nc.PlaceKey,
		Lon: nc.Lon, Lat: nc.Lat, OpenedAt: nc.OpenedAt, UpdatedAt: at, Version: 1,
	}
	n := opened
	n.Status, n.Team, n.Mode, n.Priority = StatusAssigned, a.Team, a.Mode, a.Priority
	n.QuietCommunity, n.PositiveList = a.QuietCommunity, a.PositiveList
	n.SignDue, n.ResolveDue = dueOf(a.SignDue), dueOf(a.ResolveDue)
	n.Version = 2

	if err := w.touch(Case{ID: n.ID}, n, true); err != nil {
		return Case{}, err
	}
	w.members = append(w.members, member{complaintID: nc.ComplaintID, caseID: n.ID, at: at})
	w.assigns = append(w.assigns, assignmentRow{caseID: n.ID, team: a.Team, mode: a.Mode, at: at, sign: n.SignDue, resolve: n.ResolveDue, reason: a.Reason})
	w.addTimers(n)
	if err := w.record(opened, by, "", "open", KindOpened, "complaint "+nc.ComplaintID, tickets, at); err != nil {
		return Case{}, err
	}
	if err := w.record(n, by, StatusOpen, "assign", KindAssigned, a.Reason, tickets, at); err != nil {
		return Case{}, err
	}
	return n, nil
}

// Merge queues Merge of a complaint no case holds into c, which the
// caller read with Columns and locked (FOR UPDATE) in the transaction the
// writes go to, or which a transition queued on w returned. ticket is the
// complaint's work order, the one its event concerns; priority is the
// complaint's, which the case takes when it ranks higher than its own.
// signDue and resolveDue are the complaint's own deadlines (zero: none):
// every work order of a case must be answered in time, so a deadline of
// the complaint earlier than the case's, while the case still has it to
// meet, becomes the case's, its active assignment's and its timer's.
func (w *Writes) Merge(c Case, by Actor, complaintID, hotspotID, ticket, priority string, signDue, resolveDue time.Time, at time.Time) (Case, error) {
	if err := by.check(); err != nil {
		return Case{}, err
	}
	if c.Status == StatusClosed {
		return Case{}, conflict(c, "merge a complaint into", StatusOpen, StatusAssigned, StatusAccepted, StatusResolved, StatusReturned)
	}
	at = at.UTC()
	n := c
	if n.HotspotID == "" {
		n.HotspotID = hotspotID
	}
	m := Merged{ComplaintID: complaintID}
	if routing.Outranks(priority, c.Priority) {
		n.Priority = priority
		m.RaisedTo = priority
	}
	var timers []timerRow // of the deadlines brought forward only
	if c.Status == StatusAssigned && sooner(signDue, c.SignDue) {
		d := signDue.UTC()
		n.SignDue = &d
		m.SignBy = d
		timers = append(timers, timerRow{caseID: c.ID, kind: TimerSign, due: d})
	}
	if (c.Status == StatusAssigned || c.Status == StatusAccepted) && sooner(resolveDue, c.ResolveDue) {
		d := resolveDue.UTC()
		n.ResolveDue = &d
		m.ResolveBy = d
		timers = append(timers, timerRow{caseID: c.ID, kind: TimerResolve, due: d})
	}
	reason := MergeReason(m)
	n.UpdatedAt, n.Version = at, c.Version+1
	if err := w.touch(c, n, false); err != nil {
		return Case{}, err
	}
	var opts []eventOption
	if len(timers) > 0 {
		w.setDues(c.ID, n, false)
		w.timers = append(w.timers, timers...)
		opts = append(opts, deadlineSooner)
	}
	w.members = append(w.members, member{complaintID: complaintID, caseID: c.ID, at: at})
	return n, w.record(n, by, c.Status, "merge", KindMerged, reason, []string{ticket}, at, opts...)
}

// sooner reports whether the deadline d is set and earlier than the
// current one (or there is none).
func sooner(d time.Time, current *time.Time) bool {
	return !d.IsZero() && (current == nil || d.Before(*current))
}

// setDues queues the deadlines of n for case id's active assignment (or
// gives them to the assignment these writes store); a reopen also clears
// its signing for, and stays a reopen when a merge of the same writes
// brings a deadline forward.
func (w *Writes) setDues(id string, n Case, reopen bool) {
	for i := len(w.assigns) - 1; i >= 0; i-- {
		if w.assigns[i].caseID == id {
			// Assigned by these writes: the assignment is not stored yet.
			w.assigns[i].sign, w.assigns[i].resolve = n.SignDue, n.ResolveDue
			return
		}
	}
	if w.redue == nil {
		w.redue = map[string]dues{}
	}
	w.redue[id] = dues{sign: n.SignDue, resolve: n.ResolveDue, reopen: reopen || w.redue[id].reopen}
}

// Reopen queues Reopen of the resolved case c, read with Columns and
// locked by the caller as for Merge. tickets are the case's work orders.
func (w *Writes) Reopen(c Case, by Actor, signDue, resolveDue time.Time, reason string, tickets []string, at time.Time) (Case, error) {
	if err := by.check(); err != nil {
		return Case{}, err
	}
	if c.Status != StatusResolved {
		return Case{}, conflict(c, "reopen", StatusResolved)
	}
	at = at.UTC()
	n := c
	n.Status, n.Reopened, n.Outcome = StatusAssigned, c.Reopened+1, ""
	n.AcceptedAt, n.ResolvedAt = nil, nil
	n.SignDue, n.ResolveDue = dueOf(signDue), dueOf(resolveDue)
	n.UpdatedAt, n.Version = at, c.Version+1
	if err := w.touch(c, n, false); err != nil {
		return Case{}, err
	}
	w.setDues(c.ID, n, true)
	w.addTimers(n)
	if err := w.record(n, by, c.Status, "reopen", KindReopened, reason, tickets, at); err != nil {
		return Case{}, err
	}
	// The resolve deadline the reopen replaced, so that a week's report
	// generated again later still sees the case as it stood.
	w.audit[len(w.audit)-1].moved = deadlineMove{kind: TimerResolve, before: c.ResolveDue, after: n.ResolveDue, signBefore: c.SignDue}
	return n, nil
}

// escalate queues the escalation (督办) of the live case c, read with
// Columns and locked by the caller, for its deadline e that passed: the
// case is flagged, the audit row names the deadline, and the event id
// names the timer, so a timer escalates its case once.
//
// The event names no work order: an escalation is the bureau's own
// business, the hotline is not told of it, and reading the work orders
// of a case that gathered thousands of complaints for it would cost more
// than the escalation.
func (w *Writes) escalate(c Case, by Actor, e Escalation, now time.Time) (Case, error) {
	now = now.UTC()
	n := c
	n.Escalated, n.UpdatedAt, n.Version = true, now, c.Version+1
	if err := w.touch(c, n, false); err != nil {
		return Case{}, err
	}
	what := "sign-for"
	if e.Kind == TimerResolve {
		what = "resolve"
	}
	reason := fmt.Sprintf("%s deadline %s passed", what, e.DueAt.UTC().Format(time.RFC3339))
	due := e.DueAt
	w.audit = append(w.audit, auditRow{caseID: c.ID, actor: by.ID, at: now, from: c.Status, to: c.Status, action: "escalate", reason: reason,
		moved: deadlineMove{kind: e.Kind, before: &due}})
	id := fmt.Sprintf("%s.%s.%s.%d", c.ID, KindEscalated, e.Kind, e.DueAt.Unix())
	payload, err := json.Marshal(changed(n, by, KindEscalated, reason, now, id, nil))
	if err != nil {
		return Case{}, fmt.Errorf("case event %s: %w", id, err)
	}
	w.events.AddRaw(Subject(KindEscalated, n.Team), id, payload)
	return n, nil
}

// The statements Send runs, one per table, each over arrays of the rows.
const (
	insertCases = `INSERT INTO cases (id, category, subcategory, district, subdistrict, status, team, mode, priority,
			hotspot_id, place, place_key, quiet_community, positive_list, lon, lat, opened_at, sign_due, resolve_due,
			reopened, updated_at, version)
		SELECT id, category, NULLIF(subcategory, ''), district, NULLIF(subdistrict, ''), status, NULLIF(team, ''), mode, priority,
			NULLIF(hotspot_id, ''), NULLIF(place, ''), NULLIF(place_key, ''), NULLIF(quiet_community, ''), NULLIF(positive_list, ''),
			lon, lat, opened_at, sign_due, resolve_due, reopened, updated_at, version
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::float8[], $16::float8[], $17::timestamptz[],
			$18::timestamptz[], $19::timestamptz[], $20::int[], $21::timestamptz[], $22::int[])
			AS u(id, category, subcategory, district, subdistrict, status, team, mode, priority, hotspot_id, place, place_key,
			quiet_community, positive_list, lon, lat, opened_at, sign_due, resolve_due, reopened, updated_at, version)`
	// updateCases sets what the router's transitions change (merge,
	// reopen) to the state they left, where the case is still at the
	// version the caller read.
	updateCases = `UPDATE cases AS c SET hotspot_id = NULLIF(u.hotspot_id, ''), status = u.status, reopened = u.reopened,
			outcome = NULLIF(u.outcome, ''), accepted_at = u.accepted_at, resolved_at = u.resolved_at,
			sign_due = u.sign_due, resolve_due = u.resolve_due, escalated = u.escalated, updated_at = u.updated_at, version = u.version,
			priority = u.priority
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[],
			$9::timestamptz[], $10::timestamptz[], $11::bool[], $12::timestamptz[], $13::int[], $14::text[])
			AS u(id, was, hotspot_id, status, reopened, outcome, accepted_at, resolved_at, sign_due, resolve_due, escalated, updated_at, version,
				priority)
		WHERE c.id = u.id AND c.version = u.was`
	insertMembers = `INSERT INTO case_complaints (complaint_id, case_id, joined_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT (complaint_id) DO NOTHING`
	// redueAssignments gives active assignments new deadlines, and clears
	// the signing for of those of reopened cases.
	redueAssignments = `UPDATE assignments AS a SET accepted_at = CASE WHEN u.reopen THEN NULL ELSE a.accepted_at END,
			sign_due = u.sign_due, resolve_due = u.resolve_due
		FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bool[]) AS u(case_id, sign_due, resolve_due, reopen)
		WHERE a.case_id = u.case_id AND a.status = 'active'`
	insertAssignments = `INSERT INTO assignments (case_id, team, mode, status, assigned_at, sign_due, resolve_due, reason)
		SELECT case_id, team, mode, 'active', assigned_at, sign_due, resolve_due, NULLIF(reason, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::text[])
			AS u(case_id, team, mode, assigned_at, sign_due, resolve_due, reason)`
	insertTimers = `INSERT INTO case_timers (case_id, kind, due_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING`
	// insertAudit keeps the order of the rows: the audit trail is read
	// in the order of its serial ids.
	insertAudit = `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason, deadline, due_before, due_after, sign_due_before)
		SELECT case_id, actor, at, NULLIF(from_status, ''), to_status, action, NULLIF(reason, ''), NULLIF(deadline, ''), due_before, due_after, sign_due_before
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],
				$10::timestamptz[], $11::timestamptz[])
			WITH ORDINALITY AS u(case_id, actor, at, from_status, to_status, action, reason, deadline, due_before, due_after, sign_due_before, i)
		ORDER BY i`
)

// rowCheck is what Send verifies of one statement's result.
type rowCheck func(pgconn.CommandTag) error

// exactly is the check of a statement that must change want rows; the
// error when it did not is fault.Conflict: a case moved under the
// caller, which is told to retry.
func exactly(want int, what string) rowCheck {
	return func(tag pgconn.CommandTag) error {
		if got := tag.RowsAffected(); got != int64(want) {
			return fault.Errorf(fault.Conflict, "%s: changed %d rows, want %d", what, got, want)
		}
		return nil
	}
}

// Send runs the collected writes in tx, one statement per table, in one
// round trip. A unique violation (a second active assignment, a case or
// membership that exists) or a case that moved since it was read is
// fault.Conflict; tx is then to be rolled back.
func (w *Writes) Send(ctx context.Context, tx pgx.Tx) error {
	var b pgx.Batch
	var checks []rowCheck
	queue := func(check rowCheck, sql string, args ...any) {
		b.Queue(sql, args...)
		checks = append(checks, check)
	}
	opened, updated := w.split()
	if len(opened) > 0 {
		var (
			ids, cats, subs, districts, subdistricts, statuses, teams, modes, prios []string
			hotspots, places, keys, quiets, positives                               []string
			lons, lats                                                              []*float64
			openedAt, updatedAt                                                     []time.Time
			signs, resolves                                                         []*time.Time
			reopened, versions                                                      []int32
		)
		for _, p := range opened {
			c := p.c
			ids, cats, subs, districts, subdistricts = append(ids, c.ID), append(cats, c.Category), append(subs, c.Subcategory), append(districts, c.District), append(subdistricts, c.Subdistrict)
			statuses, teams, modes, prios = append(statuses, c.Status), append(teams, c.Team), append(modes, c.Mode), append(prios, c.Priority)
			hotspots, places, keys = append(hotspots, c.HotspotID), append(places, c.Place), append(keys, c.PlaceKey)
			quiets, positives = append(quiets, c.QuietCommunity), append(positives, c.PositiveList)
			lons, lats = append(lons, c.Lon), append(lats, c.Lat)
			openedAt, updatedAt = append(openedAt, c.OpenedAt), append(updatedAt, c.UpdatedAt)
			signs, resolves = append(signs, c.SignDue), append(resolves, c.ResolveDue)
			reopened, versions = append(reopened, int32(c.Reopened)), append(versions, int32(c.Version))
		}
		queue(exactly(len(opened), "open cases"), insertCases, ids, cats, subs, districts, subdistricts, statuses, teams, modes, prios,
			hotspots, places, keys, quiets, positives, lons, lats, openedAt, signs, resolves, reopened, updatedAt, versions)
	}
	if len(updated) > 0 {
		var (
			ids, hotspots, statuses, outcomes, prios []string
			was, reopened, versions                  []int32
			accepted, resolved, signs, resolves, upd []*time.Time
			escalated                                []bool
		)
		for _, p := range updated {
			c := p.c
			ids, hotspots, statuses, outcomes = append(ids, c.ID), append(hotspots, c.HotspotID), append(statuses, c.Status), append(outcomes, c.Outcome)
			was, reopened, versions = append(was, int32(p.was)), append(reopened, int32(c.Reopened)), append(versions, int32(c.Version))
			u := c.UpdatedAt
			accepted, resolved, signs, resolves, upd = append(accepted, c.AcceptedAt), append(resolved, c.ResolvedAt), append(signs, c.SignDue), append(resolves, c.ResolveDue), append(upd, &u)
			escalated, prios = append(escalated, c.Escalated), append(prios, c.Priority)
		}
		queue(exactly(len(updated), "update cases read at their version"), updateCases,
			ids, was, hotspots, statuses, reopened, outcomes, accepted, resolved, signs, resolves, escalated, upd, versions, prios)
	}
	if len(w.members) > 0 {
		complaints, cases, at := make([]string, len(w.members)), make([]string, len(w.members)), make([]time.Time, len(w.members))
		for i, m := range w.members {
			complaints[i], cases[i], at[i] = m.complaintID, m.caseID, m.at
		}
		queue(exactly(len(w.members), "put complaints no case holds into cases"), insertMembers, complaints, cases, at)
	}
	if len(w.redue) > 0 {
		var cases []string
		var signs, resolves []*time.Time
		var reopens []bool
		for _, id := range w.order {
			if d, ok := w.redue[id]; ok {
				cases, signs, resolves, reopens = append(cases, id), append(signs, d.sign), append(resolves, d.resolve), append(reopens, d.reopen)
			}
		}
		queue(exactly(len(cases), "set the deadlines of the active assignments of cases"), redueAssignments, cases, signs, resolves, reopens)
	}
	if len(w.assigns) > 0 {
		n := len(w.assigns)
		cases, teams, modes, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at, signs, resolves := make([]time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		for i, a := range w.assigns {
			cases[i], teams[i], modes[i], reasons[i], at[i], signs[i], resolves[i] = a.caseID, a.team, a.mode, a.reason, a.at, a.sign, a.resolve
		}
		queue(exactly(n, "assign cases"), insertAssignments, cases, teams, modes, at, signs, resolves, reasons)
	}
	if len(w.timers) > 0 {
		n := len(w.timers)
		cases, kinds, due := make([]string, n), make([]string, n), make([]time.Time, n)
		for i, t := range w.timers {
			cases[i], kinds[i], due[i] = t.caseID, t.kind, t.due
		}
		queue(nil, insertTimers, cases, kinds, due)
	}
	if len(w.audit) > 0 {
		n := len(w.audit)
		cases, actors, from, to, actions, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at, deadlines, due, dueAfter, signBefore := make([]time.Time, n), make([]string, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		for i, a := range w.audit {
			cases[i], actors[i], at[i], from[i], to[i], actions[i], reasons[i] = a.caseID, a.actor, a.at, a.from, a.to, a.action, a.reason
			deadlines[i], due[i], dueAfter[i], signBefore[i] = a.moved.kind, a.moved.before, a.moved.after, a.moved.signBefore
		}
		queue(nil, insertAudit, cases, actors, at, from, to, actions, reasons, deadlines, due, dueAfter, signBefore)
	}
	if w.events.Len() > 0 {
		w.events.Queue(&b)
		checks = append(checks, nil)
	}
	if len(checks) == 0 {
		return nil
	}

	br := tx.SendBatch(ctx, &b)
	var first error
	for _, check := range checks {
		tag, err := br.Exec()
		if err == nil && check != nil {
			err = check(tag)
		}
		if err != nil {
			first = err
			break
		}
	}
	if err := br.Close(); first == nil && err != nil {
		first = err
	}
	if first == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(first, &pe) && pe.Code == "23505" {
		return fault.Errorf(fault.Conflict, "case writes: %s (%s)", pe.Message, pe.ConstraintName)
	}
	if fault.KindOf(first) == fault.Conflict {
		return first
	}
	return fmt.Errorf("case writes: %w", first)
}
