package hotspots

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// runTicks applies the time-driven transitions every TickEvery until ctx
// ends.
func (s *Service) runTicks(ctx context.Context) error {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	warn := logging.NewThrottle(s.log, logging.ThrottleEvery)
	defer warn.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.TickOnce(ctx); err != nil && ctx.Err() == nil {
			warn.Warn("tick hotspots", logging.Error(err))
		} else if err == nil {
			warn.OK("tick hotspots")
		}
	}
}

// lockTicked locks and reads the hotspots a tick is about to change, in
// the order of their ids: the order in which a batch of located
// complaints writes its hotspots, so that the two never wait for each
// other in a cycle.
const lockTicked = `SELECT id, status, complaint_count, last_at FROM hotspots WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// tickStatuses stores the statuses a tick decided.
const tickStatuses = `UPDATE hotspots h SET status = t.status, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS t(id, status) WHERE h.id = t.id`

// TickOnce cools and closes the hotspots that went quiet by the service's
// clock, stores their new status with hotspot.cooled or hotspot.closed,
// and reports how many it changed.
//
// The engine decides the transitions; they are stored where the database
// holds the same record the engine judged, and only then applied to the
// engine, each unless a complaint changed the hotspot meanwhile. A
// transition the database refuses (a complaint came, perhaps in a batch
// not yet committed when the engine judged it) is left to that
// complaint, and a later tick decides again: nothing of a tick has to be
// undone. Only a refusal that outlasts the batch in flight when it was
// first judged rebuilds the engine: the database then holds a record the
// engine does not.
func (s *Service) TickOnce(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	inFlight, err := s.syncForTick(ctx)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.engine == nil || s.stale() {
		s.mu.Unlock()
		return 0, nil // a batch in progress will rebuild the engine first
	}
	due := s.engine.Due(now)
	// The batch whose effects the engine held but the database may not
	// have yet, if any: it explains refusals until it ends.
	pending := ""
	if inFlight {
		pending = s.lastXact
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return 0, nil
	}
	if s.beforeTickWrite != nil {
		s.beforeTickWrite()
	}

	// The lock is released before writing: the located consumer's batch
	// may hold these rows, and it needs the lock to finish.
	stored := make(map[string]bool, len(due))
	n := 0
	db := make(map[string]cluster.Hotspot, len(due))
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids := make([]string, len(due))
		for i, d := range due {
			ids[i] = d.HotspotID
		}
		rows, err := tx.Query(ctx, lockTicked, ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h cluster.Hotspot
			if err := rows.Scan(&h.ID, &h.Status, &h.Count, &h.LastAt); err != nil {
				rows.Close()
				return err
			}
			db[h.ID] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A hotspot whose count or last complaint differ has had a
		// complaint the engine's judgement did not see. One that holds
		// the decided status already (the engine lagged behind the
		// database) takes it in memory without a second event.
		var upIDs, upStatuses []string
		var evs outbox.Events
		for _, d := range due {
			h, ok := db[d.HotspotID]
			if !ok || h.Count != d.Count || !h.LastAt.Equal(d.From.LastAt) || h.Status == cluster.StatusMerged {
				continue
			}
			stored[d.HotspotID] = true
			if h.Status == d.Status {
				continue
			}
			upIDs, upStatuses = append(upIDs, d.HotspotID), append(upStatuses, string(d.Status))
			n++
			id := fmt.Sprintf("%s.%s.%d.%d", d.HotspotID, d.Kind, d.Count, d.From.LastAt.UnixMilli())
			if err := addChange(&evs, id, d.Change, d.From.Category, d.From.District); err != nil {
				return err
			}
		}
		if len(upIDs) > 0 {
			if _, err := tx.Exec(ctx, tickStatuses, upIDs, upStatuses); err != nil {
				return err
			}
		}
		return evs.Write(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("store hotspot statuses: %w", err)
	}

	// Whatever engine is current (a batch may have rebuilt it meanwhile,
	// before or after this commit) takes the stored statuses where it
	// still holds the record they were decided on.
	s.mu.Lock()
	refused := make(map[string]cluster.Hotspot, len(due)-len(stored))
	// The last tick's refusals are explained no more once the batch then
	// in flight has ended: this tick judged after it.
	settled := s.refusedPending == "" || s.refusedPending != pending
	var again []string
	for _, d := range due {
		switch {
		case stored[d.HotspotID]:
			changes.WithLabelValues(string(d.Kind)).Inc()
			if s.engine != nil {
				s.engine.Apply(d)
			}
		case s.overtaken(d):
			// A complaint changed the hotspot after the tick judged it:
			// that explains the refusal.
		default:
			refused[d.HotspotID] = d.From
			if before, ok := s.refused[d.HotspotID]; ok && settled && before.SameState(d.From) {
				again = append(again, d.HotspotID)
			}
		}
	}
	// A refusal that outlasts a tick is no batch in flight: the database
	// holds another record than the engine, which is rebuilt.
	s.refused, s.refusedPending = refused, pending
	if len(again) > 0 {
		s.markStale("the database holds other records of hotspots than the engine")
	}
	s.mu.Unlock()
	if len(again) > 0 {
		shown := make([]string, 0, 3)
		for _, id := range again[:min(len(again), 3)] {
			from, h := refused[id], db[id]
			shown = append(shown, fmt.Sprintf("%s: engine %s, %d complaints, last %s; database %s, %d complaints, last %s",
				id, from.Status, from.Count, from.LastAt.Format(time.RFC3339Nano), h.Status, h.Count, h.LastAt.UTC().Format(time.RFC3339Nano)))
		}
		s.log.Warn("the database refused the same statuses at two ticks; the hotspot engine will be rebuilt",
			zap.Int("hotspots", len(again)), zap.Strings("first", shown))
	}
	return n, nil
}

// overtaken reports whether the current engine holds another record of
// a transition's hotspot than the one the tick judged. The caller holds
// s.mu.
func (s *Service) overtaken(d cluster.Transition) bool {
	if s.engine == nil {
		return false
	}
	now, ok := s.engine.Hotspot(d.HotspotID)
	return ok && !now.SameState(d.From)
}

// syncForTick brings the engine in step with the database outside any
// located batch: it rebuilds when the last batch did not commit or a write
// failed, unless a batch is still in progress (its handlers rebuild first),
// which it reports. The caller holds s.mu.
func (s *Service) syncForTick(ctx context.Context) (inFlight bool, err error) {
	st := "committed"
	if s.lastXact != "" {
		if err := s.pool.QueryRow(ctx, `SELECT COALESCE(pg_xact_status($1::xid8), 'unknown')`, s.lastXact).Scan(&st); err != nil {
			return false, fmt.Errorf("transaction status: %w", err)
		}
	}
	switch st {
	case "in progress":
		return true, nil
	case "committed":
	default:
		s.markStale("the last batch did not commit")
	}
	if s.stale() || s.engine == nil {
		return false, s.rebuild(ctx, s.pool)
	}
	return false, nil
}
