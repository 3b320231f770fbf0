package callbacks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// Reasons a case event is refused, the values of refused's label.
const (
	refusedEventID    = "event_id"   // not the id of a transition of its case and kind
	refusedTransition = "transition" // no such transition in the case's audit
	refusedTeam       = "team"       // the case was another team's at the time
	refusedWorkOrder  = "work_order" // names a work order its case does not hold
)

var refused = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_callbacks_refused_total",
	Help: "Case events the callbacks refused because the database does not bear them out (forged or altered), by reason (event_id, transition, team, work_order).",
}, []string{"reason"})

// Every reason is on /metrics from the start, at 0: a first refusal is
// then an increase, and an operator sees the counter before it moves.
func init() {
	for _, r := range []string{refusedEventID, refusedTransition, refusedTeam, refusedWorkOrder} {
		refused.WithLabelValues(r)
	}
}

// auditActions are the case_audit actions internal/caseflow records for
// the transitions of each kind of event the hotline hears of.
var auditActions = map[string][2]string{
	caseflow.KindAssigned: {"assign", "reassign"},
	caseflow.KindMerged:   {"merge"},
	caseflow.KindReopened: {"reopen"},
	caseflow.KindResolved: {"resolve"},
	caseflow.KindReturned: {"return"},
	caseflow.KindClosed:   {"close"},
}

// checkEvents selects, of the case events given as arrays, those the
// database does not bear out, with the reason. An event is the record of
// a transition in the case's audit (its action, the status it left, its
// time and its reason, which is the event's note), whatever the case has
// done since: a resolution that arrives after a reopening is still the
// case's. The audit entry is found by its time (case_audit_at), so an
// event of the busiest case costs a probe, not a read of its history; its
// id, the place the database gave the transition among its case's, is
// returned for every event it bears out (the callbacks' seq).
//
// Its team held the case then: its assignment was in force at the time
// (given at or before it, not ended before it), or it is the latest given
// at or before it (a case returned keeps the team that returned it). The
// first allows for the clocks of the services that stamp the times: a
// router running behind the officers' service may stamp the assignment
// that follows a return before the return itself. Each of its work orders
// is one the case holds.
const checkEvents = `WITH e AS MATERIALIZED (
		SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
			AS e(i, case_id, action, alt, status, team, note, at)
	), missing AS (
		SELECT DISTINCT t.i FROM unnest($9::int[], $10::text[]) AS t(i, ticket) JOIN e ON e.i = t.i
		WHERE NOT EXISTS (SELECT 1 FROM complaints m JOIN case_complaints cc ON cc.complaint_id = m.id
			WHERE m.ticket_id = t.ticket AND cc.case_id = e.case_id)
	), found AS MATERIALIZED (
		SELECT e.i,
			(SELECT max(a.id) FROM case_audit a WHERE a.at = e.at AND a.case_id = e.case_id AND a.action IN (e.action, e.alt)
				AND a.to_status = e.status AND COALESCE(a.reason, '') = e.note) AS audit_id,
			EXISTS (SELECT 1 FROM assignments s WHERE s.case_id = e.case_id AND s.team = e.team AND s.assigned_at <= e.at
				AND (s.ended_at IS NULL OR s.ended_at >= e.at))
			OR (SELECT s.team FROM assignments s WHERE s.case_id = e.case_id AND s.assigned_at <= e.at
				ORDER BY s.assigned_at DESC, s.id DESC LIMIT 1) IS NOT DISTINCT FROM NULLIF(e.team, '') AS held
		FROM e
	)
	SELECT i, CASE WHEN audit_id IS NULL THEN '` + refusedTransition + `' WHEN NOT held THEN '` + refusedTeam + `'
			WHEN i IN (SELECT i FROM missing) THEN '` + refusedWorkOrder + `' END, COALESCE(audit_id, 0)
	FROM found`

// check returns the reasons the database does not bear out the events of
// evs it refuses, by index, and the id of the audit entry of each event it
// bears out (0 for the others), with one statement for them all.
func check(ctx context.Context, tx pgx.Tx, evs []event.CaseChanged) (map[int]string, []int64, error) {
	out := map[int]string{}
	seqs := make([]int64, len(evs))
	var (
		idx                                          []int32
		cases, actions, alts, statuses, teams, notes []string
		ats                                          []time.Time
		tIdx                                         []int32
		tickets                                      []string
	)
	for i, ev := range evs {
		if !wellNamed(ev) {
			out[i] = refusedEventID
			continue
		}
		a := auditActions[ev.Kind]
		idx, cases, actions, alts = append(idx, int32(i)), append(cases, ev.CaseID), append(actions, a[0]), append(alts, a[1])
		statuses, teams, notes, ats = append(statuses, ev.Status), append(teams, ev.Team), append(notes, ev.Note), append(ats, ev.At)
		for _, t := range ev.Tickets {
			tIdx, tickets = append(tIdx, int32(i)), append(tickets, t)
		}
	}
	if len(idx) == 0 {
		return out, seqs, nil
	}
	rows, err := tx.Query(ctx, checkEvents, idx, cases, actions, alts, statuses, teams, notes, ats, tIdx, tickets)
	if err != nil {
		return nil, nil, fmt.Errorf("check %d case events against their cases: %w", len(idx), err)
	}
	var i int32
	var reason *string
	var seq int64
	if _, err := pgx.ForEachRow(rows, []any{&i, &reason, &seq}, func() error {
		if reason != nil {
			out[int(i)] = *reason
		} else {
			seqs[i] = seq
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("check %d case events against their cases: %w", len(idx), err)
	}
	return out, seqs, nil
}

// wellNamed reports whether the event's id is one the case workflow gives
// a transition of its case and kind, <case>.<kind>.<version>, or a later
// page of one, <transition>.p<part>: a forged id would give the hotline
// the same news again under new webhook-ids.
func wellNamed(ev event.CaseChanged) bool {
	id := ev.EventID
	if ev.Transition != "" || ev.Part > 1 {
		if ev.Part < 2 || id != ev.Transition+".p"+strconv.Itoa(ev.Part) {
			return false
		}
		id = ev.Transition
	}
	v, ok := strings.CutPrefix(id, ev.CaseID+"."+ev.Kind+".")
	if !ok || v == "" {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// refuse drops the events of evs that refusals names: they leave no
// trace, not even as processed, so that the genuine event of the same id
// (a forger may name a transition before it happens) is handled when it
// comes, or when the sweeper publishes it again. Each is counted and
// logged once its batch commits, by ids and kind only (no work order, no
// note).
func (s *Service) refuse(ctx context.Context, tx pgx.Tx, evs []event.CaseChanged, metas []natsx.Meta, refusals map[int]string) error {
	ids := make([]string, 0, len(refusals))
	for i := range refusals {
		ids = append(ids, evs[i].EventID)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM processed_events WHERE consumer = $1 AND event_id = ANY($2)`, Durable, ids); err != nil {
		return fmt.Errorf("forget %d refused case events: %w", len(ids), err)
	}
	report := func() {
		for i, reason := range refusals {
			refused.WithLabelValues(reason).Inc()
			// The ids are the publisher's text: bounded.
			s.log.Warn("case event refused: the database does not bear it out (forged or altered?)",
				zap.String("event_id", truncate(evs[i].EventID, 200)), zap.String("case_id", truncate(evs[i].CaseID, 200)),
				zap.String("kind", truncate(evs[i].Kind, 40)), zap.String("subject", truncate(metas[i].Subject, 200)), zap.String("reason", reason))
		}
	}
	if register, afterCommit := natsx.OnCommit(ctx); afterCommit {
		register(report)
	} else {
		report()
	}
	return nil
}
