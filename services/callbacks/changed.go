package callbacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// WebhookID is the stable webhook-id of the callback of one case event to
// one work order: the same on every attempt and every replay, so the
// hotline can deduplicate.
func WebhookID(eventID, ticketID string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + ticketID))
	return "cb_" + hex.EncodeToString(h[:16])
}

// HandleCaseChanged stores one callback per work order the event concerns.
// Assignment, resolution, return, closure and reopening concern every
// ticket of the case (a merged case's resolution answers each of its work
// orders); a merge concerns the tickets the hotline has not yet heard of
// in this case, which learn their case, team and status.
func (s *Service) HandleCaseChanged(ctx context.Context, tx pgx.Tx, ev event.CaseChanged, m natsx.Meta) error {
	return s.HandleCaseChanges(ctx, tx, []event.CaseChanged{ev}, []natsx.Meta{m})
}

// HandleCaseChanges is HandleCaseChanged for the events of one batch, in
// the order they were delivered: their callbacks are stored with one
// statement. A merge in the batch skips a work order an earlier event of
// the batch already answers in that case, as it would had the events come
// one by one.
func (s *Service) HandleCaseChanges(ctx context.Context, tx pgx.Tx, evs []event.CaseChanged, _ []natsx.Meta) error {
	var rows newCallbacks
	answered := map[[2]string]bool{} // case, ticket -> a callback of the batch answers it
	for _, ev := range evs {
		switch ev.Kind {
		case caseflow.KindAssigned, caseflow.KindResolved, caseflow.KindReturned, caseflow.KindClosed, caseflow.KindReopened, caseflow.KindMerged:
		default:
			continue
		}
		if ev.Status == caseflow.StatusOpen {
			continue // nothing to tell before a team has it
		}
		if err := storable(ev); err != nil {
			return err
		}
		note := ev.Note
		if ev.Kind == caseflow.KindReopened {
			note = "reopened: " + note
		}
		onlyNew := ev.Kind == caseflow.KindMerged
		for _, t := range ev.Tickets {
			key := [2]string{ev.CaseID, t}
			if onlyNew && answered[key] {
				continue
			}
			answered[key] = true
			rows.add(WebhookID(ev.EventID, t), ev, t, note, onlyNew)
		}
	}
	if len(rows.ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertCallbacks, rows.ids, rows.events, rows.tickets, rows.cases, rows.statuses,
		rows.teams, rows.notes, rows.ats, rows.onlyNew); err != nil {
		if len(evs) == 1 {
			return fmt.Errorf("store callbacks of %s: %w", evs[0].EventID, err)
		}
		return fmt.Errorf("store callbacks of %d case events: %w", len(evs), err)
	}
	return nil
}

// storable refuses an event PostgreSQL cannot store: text with a NUL
// character. The error names the field, never its content.
func storable(ev event.CaseChanged) error {
	fields := []struct{ name, v string }{{"case_id", ev.CaseID}, {"status", ev.Status}, {"team", ev.Team}, {"note", ev.Note}}
	for _, t := range ev.Tickets {
		fields = append(fields, struct{ name, v string }{"tickets", t})
	}
	for _, f := range fields {
		if strings.ContainsRune(f.v, 0) {
			return fault.Errorf(fault.Invalid, "case event %q: its %s holds a NUL character", ev.EventID, f.name)
		}
	}
	return nil
}

// insertCallbacks stores the callbacks of a batch. A row marked only_new
// (a merge's) is skipped when its work order already has a callback of
// that case; a replayed row is skipped by its id.
const insertCallbacks = `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, note, at)
	SELECT r.id, r.event_id, r.ticket, r.case_id, r.status, NULLIF(r.team, ''), NULLIF(r.note, ''), r.at
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bool[])
		AS r(id, event_id, ticket, case_id, status, team, note, at, only_new)
	WHERE NOT r.only_new OR NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.case_id = r.case_id AND c.ticket_id = r.ticket)
	ON CONFLICT (id) DO NOTHING`

// newCallbacks are the columns of the callbacks to store, one element per
// callback.
type newCallbacks struct {
	ids, events, tickets, cases, statuses, teams, notes []string
	ats                                                 []time.Time
	onlyNew                                             []bool
}

func (n *newCallbacks) add(id string, ev event.CaseChanged, ticket, note string, onlyNew bool) {
	n.ids = append(n.ids, id)
	n.events = append(n.events, ev.EventID)
	n.tickets = append(n.tickets, ticket)
	n.cases = append(n.cases, ev.CaseID)
	n.statuses = append(n.statuses, ev.Status)
	n.teams = append(n.teams, ev.Team)
	n.notes = append(n.notes, note)
	n.ats = append(n.ats, ev.At)
	n.onlyNew = append(n.onlyNew, onlyNew)
}
