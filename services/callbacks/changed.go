package callbacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
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
func (s *Service) HandleCaseChanged(ctx context.Context, tx pgx.Tx, ev event.CaseChanged, _ natsx.Meta) error {
	status := ev.Status
	switch ev.Kind {
	case caseflow.KindAssigned, caseflow.KindResolved, caseflow.KindReturned, caseflow.KindClosed, caseflow.KindReopened, caseflow.KindMerged:
	default:
		return nil
	}
	if status == caseflow.StatusOpen {
		return nil // nothing to tell before a team has it
	}
	note := ev.Note
	if ev.Kind == caseflow.KindReopened {
		note = "reopened: " + note
	}
	ids := make([]string, len(ev.Tickets))
	for i, t := range ev.Tickets {
		ids[i] = WebhookID(ev.EventID, t)
	}
	onlyNew := ev.Kind == caseflow.KindMerged
	_, err := tx.Exec(ctx, `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, team, note, at)
		SELECT t.id, $3, t.ticket, $4, $5, NULLIF($6, ''), NULLIF($7, ''), $8
		FROM unnest($1::text[], $2::text[]) AS t(id, ticket)
		WHERE NOT $9 OR NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.ticket_id = t.ticket AND c.case_id = $4)
		ON CONFLICT (id) DO NOTHING`,
		ids, ev.Tickets, ev.EventID, ev.CaseID, status, ev.Team, note, ev.At, onlyNew)
	if err != nil {
		return fmt.Errorf("store callbacks of %s: %w", ev.EventID, err)
	}
	return nil
}
