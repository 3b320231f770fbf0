package callbacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
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
//
// Only what the database bears out is told: NATS credentials are shared
// among services, and an event one of them could publish (forged, or a
// real one altered) is refused unless the case's audit records its
// transition, as check says. The events of the batch are checked with one
// statement.
func (s *Service) HandleCaseChanges(ctx context.Context, tx pgx.Tx, evs []event.CaseChanged, metas []natsx.Meta) error {
	var told []event.CaseChanged
	var toldMetas []natsx.Meta
	for i, ev := range evs {
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
		var m natsx.Meta
		if i < len(metas) {
			m = metas[i]
		}
		told, toldMetas = append(told, ev), append(toldMetas, m)
	}
	if len(told) == 0 {
		return nil
	}
	refusals, seqs, err := check(ctx, tx, told)
	if err != nil {
		return err
	}
	if len(refusals) > 0 {
		if err := s.refuse(ctx, tx, told, toldMetas, refusals); err != nil {
			return err
		}
	}
	var rows newCallbacks
	answered := map[[2]string]bool{} // case, ticket -> a callback of the batch answers it
	for i, ev := range told {
		if _, ok := refusals[i]; ok {
			continue
		}
		note := hotlineNote(ev)
		onlyNew := ev.Kind == caseflow.KindMerged
		for _, t := range ev.Tickets {
			key := [2]string{ev.CaseID, t}
			if onlyNew && answered[key] {
				continue
			}
			answered[key] = true
			// The webhook-id is the transition's, whichever part of
			// it names the work order.
			rows.add(WebhookID(ev.TransitionID(), t), ev, t, note, onlyNew, seqs[i])
		}
	}
	if len(rows.ids) == 0 {
		return nil
	}
	// Callbacks stored by the consume loop are claimed as they are
	// stored, as many as the deliverers have room for, and handed to them
	// once the transaction commits: no claim of its own, no wait for a
	// poll. The rest, and every callback stored outside the loop, wait
	// for DeliverOnce.
	register, afterCommit := natsx.OnCommit(ctx)
	limit, until := 0, s.cfg.Now().UTC().Add(s.cfg.Lease)
	if afterCommit && s.handoff != nil {
		limit = cap(s.handoff) - len(s.handoff)
	}
	if limit > 0 {
		// Instances take turns to claim while storing, so that one never
		// claims a work order's callback while another is storing an
		// earlier one of the same work order; the one that waits claims
		// nothing, and DeliverOnce keeps the order.
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, claimLock).Scan(&mine); err != nil {
			return fmt.Errorf("store callbacks: %w", err)
		}
		if !mine {
			limit = 0
		}
	}
	stored, err := tx.Query(ctx, insertCallbacks, rows.ids, rows.events, rows.tickets, rows.cases, rows.statuses,
		rows.teams, rows.notes, rows.ats, rows.onlyNew, rows.seqs, limit, s.cfg.Lease.Microseconds())
	var claimed []handed
	if err == nil {
		claimed, err = pgx.CollectRows(stored, func(r pgx.CollectableRow) (handed, error) {
			h := handed{until: until}
			err := r.Scan(&h.d.ID, &h.d.Body.TicketID, &h.d.Body.CaseID, &h.d.Body.Status, &h.d.Body.Team, &h.d.Body.Note,
				&h.d.Body.At, &h.d.Attempts, &h.d.RetrySince, &h.d.NextAt)
			return h, err
		})
	}
	if err != nil {
		if len(evs) == 1 {
			return fmt.Errorf("store callbacks of %s: %w", evs[0].EventID, err)
		}
		return fmt.Errorf("store callbacks of %d case events: %w", len(evs), err)
	}
	if len(claimed) > 0 {
		register(func() { s.hand(claimed) })
	}
	return nil
}

// closedQuiet is the router's note of a case it closes out when no
// complaint came within the reopen window of its resolution.
var closedQuiet = regexp.MustCompile(`^no complaint within (\d+) days of the resolution$`)

// hotlineNote is the note the hotline is told of a transition: the one a
// person wrote (a resolution's 办理说明, a return's or a move's reason), or
// a closing out's, and none of the pipeline's own for an assignment or a
// merge ("rule noise.construction", "complaint 01a2…"), whose rule names
// and complaint ids mean nothing to the hotline. A reopening says so, and
// the router's own reopening and closing out say why in Chinese, as the
// hotline's staff read them to the citizen; so does a resolution's outcome.
func hotlineNote(ev event.CaseChanged) string {
	byService := strings.HasPrefix(ev.Actor, "service:")
	switch {
	case ev.Kind == caseflow.KindReopened && byService:
		return "reopened: 同一地点又有投诉，重新派单"
	case ev.Kind == caseflow.KindClosed && byService:
		if m := closedQuiet.FindStringSubmatch(ev.Note); m != nil {
			return "办结后" + m[1] + "日内该地点无新投诉，办结销号"
		}
	case ev.Kind == caseflow.KindReopened:
		return "reopened: " + ev.Note
	case byService && (ev.Kind == caseflow.KindAssigned || ev.Kind == caseflow.KindMerged):
		return ""
	case ev.Kind == caseflow.KindResolved:
		return caseflow.ResolutionText(ev.Note)
	}
	return ev.Note
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

// claimLock is the advisory lock under which an instance claims the
// callbacks it stores.
const claimLock = "callbacks: claimed as stored"

// insertCallbacks stores the callbacks of a batch. A row marked only_new
// (a merge's) is skipped when its work order already has a callback of
// that case; a replayed row is skipped by its id. A row older (by
// callbackOrder) than a callback of its work order that has been
// attempted (a case event come late) is stored superseded, never to be
// sent. At most $11 of the rows are claimed as they are stored (leased
// for $12 microseconds of the database's clock, their first attempt):
// a row that heads its work order's queue, the first of its work order in
// the batch with no undelivered callback of that work order stored
// before. The claimed rows are returned. The claim is decided once a row
// (MATERIALIZED: both columns that depend on it read it), and OFFSET 0
// keeps its check a probe of callbacks_ticket_seq for each row: on a
// table grown since its statistics, the planner would otherwise hash
// every undelivered callback for each batch (twice).
var insertCallbacks = `WITH r AS (
		SELECT r.*, row_number() OVER (ORDER BY r.seq, r.at, r.id) AS nth,
			row_number() OVER (PARTITION BY r.ticket ORDER BY r.seq, r.at, r.id) AS nth_of_ticket,
			(` + supersedingSQL("r.ticket", "r.seq", "r.at", "r.id") + `) AS superseded_by
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bool[], $10::bigint[])
			AS r(id, event_id, ticket, case_id, status, team, note, at, only_new, seq)
		WHERE NOT r.only_new OR NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.case_id = r.case_id AND c.ticket_id = r.ticket)
	), c AS MATERIALIZED (
		SELECT r.*, r.superseded_by IS NULL AND r.nth <= $11 AND r.nth_of_ticket = 1
			AND NOT EXISTS (SELECT 1 FROM callbacks o WHERE o.ticket_id = r.ticket AND o.delivered_at IS NULL AND o.dead_at IS NULL OFFSET 0) AS claim
		FROM r
	), stored AS (
		INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, note, at, seq, next_at, attempts, dead_at, superseded_by)
		SELECT c.id, c.event_id, c.ticket, c.case_id, c.status, NULLIF(c.team, ''), NULLIF(c.note, ''), c.at, c.seq,
			CASE WHEN c.claim THEN statement_timestamp() + $12::bigint * interval '1 microsecond' ELSE now() END, CASE WHEN c.claim THEN 1 ELSE 0 END,
			CASE WHEN c.superseded_by IS NOT NULL THEN now() END, c.superseded_by
		FROM c
		ON CONFLICT (id) DO NOTHING
		RETURNING id, ticket_id, case_id, status, team, note, at, attempts, retry_since, next_at
	)
	SELECT * FROM stored WHERE attempts = 1`

// callbackOrder is the order of a work order's callbacks, the order they
// go out in: (seq, at, id). seq is the id of the case_audit entry of the
// callback's transition, which the case's row lock puts in the order the
// database committed the transitions of a case; at is the time the
// service that made it stamped, by its machine's clock, which may run
// behind another's (a router a second behind the officers' service stamps
// the assignment that follows a return before the return). A callback
// stored before seq was (migration 00098) has seq 0: those keep the
// order they had, by (at, id), ahead of any stored since.
//
// supersedingSQL selects the id of the latest callback of the work order
// ticket, later than (seq, at, id), that the hotline may have heard (it
// was attempted): a callback it supersedes is never sent after it. One
// the hotline heard before seq was (seq 0) is later than a callback
// stamped before it, as it was before 00098, whatever that one's seq: the
// event of an earlier transition come late after the upgrade is given its
// audit id, which puts it after every callback of seq 0, and would
// otherwise take the work order back to where it was.
func supersedingSQL(ticket, seq, at, id string) string {
	return `SELECT o.id FROM callbacks o WHERE o.ticket_id = ` + ticket + ` AND o.attempts > 0
		AND ((o.seq, o.at, o.id) > (` + seq + `, ` + at + `, ` + id + `) OR (o.seq = 0 AND (o.at, o.id) > (` + at + `, ` + id + `)))
		ORDER BY o.seq DESC, o.at DESC, o.id DESC LIMIT 1`
}

// newCallbacks are the columns of the callbacks to store, one element per
// callback.
type newCallbacks struct {
	ids, events, tickets, cases, statuses, teams, notes []string
	ats                                                 []time.Time
	onlyNew                                             []bool
	seqs                                                []int64 // the transition's case_audit id (callbackOrder)
}

func (n *newCallbacks) add(id string, ev event.CaseChanged, ticket, note string, onlyNew bool, seq int64) {
	n.ids = append(n.ids, id)
	n.events = append(n.events, ev.EventID)
	n.tickets = append(n.tickets, ticket)
	n.cases = append(n.cases, ev.CaseID)
	n.statuses = append(n.statuses, ev.Status)
	n.teams = append(n.teams, ev.Team)
	n.notes = append(n.notes, note)
	n.ats = append(n.ats, ev.At)
	n.onlyNew = append(n.onlyNew, onlyNew)
	n.seqs = append(n.seqs, seq)
}
