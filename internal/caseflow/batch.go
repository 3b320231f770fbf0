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

// Writes queues the writes of case transitions so that they reach
// PostgreSQL in one round trip: on the router's hot path the case was
// read and locked already, so each transition's effect, audit row and
// event are known without asking the database again. The transitions
// record the same rows and events, with the same ids, as Open, Assign,
// Merge and Reopen. A Writes is used once, then discarded.
type Writes struct {
	batch  pgx.Batch
	checks []func(pgconn.CommandTag) error // one per queued statement; nil: no check
}

func (w *Writes) queue(check func(pgconn.CommandTag) error, sql string, args ...any) {
	w.batch.Queue(sql, args...)
	w.checks = append(w.checks, check)
}

// one is the check of a statement that must change exactly one row; the
// error when it did not is fault.Conflict: the case moved under the
// caller, which is told to retry.
func one(what string) func(pgconn.CommandTag) error {
	return func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			return fault.Errorf(fault.Conflict, "%s: changed %d rows, want 1", what, tag.RowsAffected())
		}
		return nil
	}
}

// Len is how many statements are queued.
func (w *Writes) Len() int { return len(w.checks) }

// Send runs the queued writes in tx in one round trip. A unique
// violation (a second active assignment, a case or membership that
// exists) is fault.Conflict; tx is then to be rolled back.
func (w *Writes) Send(ctx context.Context, tx pgx.Tx) error {
	if len(w.checks) == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &w.batch)
	var first error
	for _, check := range w.checks {
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

// record queues what record writes: the audit row and the case event of
// one transition of n, whose work orders are tickets.
func (w *Writes) record(n Case, by Actor, from, action, kind, reason string, tickets []string, at time.Time) error {
	w.queue(nil, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''))`, n.ID, by.ID, at, from, n.Status, action, reason)
	id := n.ID + "." + kind + "." + strconv.Itoa(n.Version)
	payload, err := json.Marshal(changed(n, by, kind, reason, at, id, tickets))
	if err != nil {
		return fmt.Errorf("case event %s: %w", id, err)
	}
	outbox.Queue(&w.batch, Subject(kind, n.Team), id, payload)
	w.checks = append(w.checks, nil)
	return nil
}

func (w *Writes) timers(n Case) {
	for _, t := range []struct {
		kind string
		due  *time.Time
	}{{TimerSign, n.SignDue}, {TimerResolve, n.ResolveDue}} {
		if t.due != nil {
			w.queue(nil, `INSERT INTO case_timers (case_id, kind, due_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, n.ID, t.kind, *t.due)
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

	w.queue(one("open case "+n.ID), `INSERT INTO cases (id, category, subcategory, district, subdistrict, status, team, mode, priority,
			hotspot_id, place, place_key, quiet_community, positive_list, lon, lat, opened_at, sign_due, resolve_due, updated_at, version)
		VALUES ($1, $2, NULLIF($3, ''), $4, NULLIF($5, ''), $6, $7, $8, $9, NULLIF($10, ''), NULLIF($11, ''), NULLIF($12, ''),
			NULLIF($13, ''), NULLIF($14, ''), $15, $16, $17, $18, $19, $20, $21)`,
		n.ID, n.Category, n.Subcategory, n.District, n.Subdistrict, n.Status, n.Team, n.Mode, n.Priority,
		n.HotspotID, n.Place, n.PlaceKey, n.QuietCommunity, n.PositiveList, n.Lon, n.Lat, n.OpenedAt, n.SignDue, n.ResolveDue, at, n.Version)
	w.queue(nil, `INSERT INTO case_complaints (complaint_id, case_id, joined_at) VALUES ($1, $2, $3)`, nc.ComplaintID, n.ID, at)
	w.queue(nil, `INSERT INTO assignments (case_id, team, mode, status, assigned_at, sign_due, resolve_due, reason)
		VALUES ($1, $2, $3, 'active', $4, $5, $6, NULLIF($7, ''))`, n.ID, a.Team, a.Mode, at, n.SignDue, n.ResolveDue, a.Reason)
	w.timers(n)
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
// writes go to. tickets are the case's work orders with the complaint's.
func (w *Writes) Merge(c Case, by Actor, complaintID, hotspotID string, tickets []string, at time.Time) (Case, error) {
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
	n.UpdatedAt, n.Version = at, c.Version+1
	w.queue(one("merge "+complaintID+" into case "+c.ID),
		`INSERT INTO case_complaints (complaint_id, case_id, joined_at) VALUES ($1, $2, $3) ON CONFLICT (complaint_id) DO NOTHING`,
		complaintID, c.ID, at)
	w.queue(one("update case "+c.ID), `UPDATE cases AS c SET hotspot_id = COALESCE(c.hotspot_id, NULLIF($3, '')), updated_at = $2,
		version = c.version + 1 WHERE c.id = $1 AND c.version = $4`, c.ID, at, hotspotID, c.Version)
	return n, w.record(n, by, c.Status, "merge", KindMerged, "complaint "+complaintID, tickets, at)
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
	w.queue(one("reopen case "+c.ID+": its active assignment"),
		`UPDATE assignments SET accepted_at = NULL, sign_due = $2, resolve_due = $3 WHERE case_id = $1 AND status = 'active'`,
		c.ID, n.SignDue, n.ResolveDue)
	w.queue(one("update case "+c.ID), `UPDATE cases AS c SET status = 'assigned', reopened = c.reopened + 1, outcome = NULL, accepted_at = NULL,
		resolved_at = NULL, sign_due = $3, resolve_due = $4, updated_at = $2, version = c.version + 1 WHERE c.id = $1 AND c.version = $5`,
		c.ID, at, n.SignDue, n.ResolveDue, c.Version)
	w.timers(n)
	return n, w.record(n, by, c.Status, "reopen", KindReopened, reason, tickets, at)
}
