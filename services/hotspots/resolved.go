package hotspots

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// HandleCaseResolved records that the team resolved the hotspot of a case,
// so that a complaint received after it escalates the hotspot as a repeat
// after close-out. Cases without a hotspot, or of another partition's
// districts, change nothing.
func (s *Service) HandleCaseResolved(ctx context.Context, tx pgx.Tx, ev event.CaseChanged, _ natsx.Meta) error {
	if ev.Kind != "resolved" || ev.At.IsZero() || ev.Continuation() {
		return nil
	}
	var id, district string
	err := tx.QueryRow(ctx, `SELECT COALESCE(h.merged_into, h.id), h.district
		FROM cases c JOIN hotspots h ON h.id = c.hotspot_id WHERE c.id = $1`, ev.CaseID).Scan(&id, &district)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil // no hotspot, or not ours to know
	case err != nil:
		return fmt.Errorf("hotspot of case %s: %w", ev.CaseID, err)
	case !s.inPartition(district):
		return nil
	}
	at := ev.At.UTC().Truncate(time.Microsecond)

	// Memory first, under the lock, before this transaction holds the
	// hotspot's row: the located consumer may wait for that row while
	// holding the lock.
	s.mu.Lock()
	if s.engine != nil {
		if h, ok := s.engine.Hotspot(id); ok && !h.LastAt.After(at) {
			_ = s.engine.MarkResolved(id, at)
		}
	}
	s.mu.Unlock()

	// A complaint after the resolution already reopened the question.
	if _, err := tx.Exec(ctx, `UPDATE hotspots SET resolved_at = $2, updated_at = now()
		WHERE id = $1 AND last_at <= $2 AND (resolved_at IS NULL OR resolved_at < $2)`, id, at); err != nil {
		return fmt.Errorf("resolve hotspot %s of case %s: %w", id, ev.CaseID, err)
	}
	return nil
}
