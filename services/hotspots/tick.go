package hotspots

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// runTicks applies the time-driven transitions every TickEvery until ctx
// ends.
func (s *Service) runTicks(ctx context.Context) error {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.TickOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("tick hotspots", zap.Error(err))
		}
	}
}

// tickStatuses stores the statuses a tick decided, one hotspot at most
// once, where the database still agrees with the record the tick judged,
// and returns the hotspots it changed.
const tickStatuses = `UPDATE hotspots h SET status = t.status, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[]) AS t(id, status, last_at, n)
WHERE h.id = t.id AND h.last_at = t.last_at AND h.complaint_count = t.n AND h.status NOT IN ('merged', t.status)
RETURNING h.id`

// TickOnce cools and closes the hotspots that went quiet by the service's
// clock, stores their new status with hotspot.cooled or hotspot.closed,
// and reports how many it changed. A status the database no longer
// agrees with (a complaint came in meanwhile) is left to the complaint.
func (s *Service) TickOnce(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	if err := s.syncForTick(ctx); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if s.engine == nil || s.stale {
		s.mu.Unlock()
		return 0, nil // a batch in progress will rebuild the engine first
	}
	engine := s.engine
	cs := engine.Tick(now)
	recs := make([]cluster.Hotspot, len(cs))
	for i, c := range cs {
		recs[i], _ = engine.Hotspot(c.HotspotID)
	}
	s.mu.Unlock()
	if len(cs) == 0 {
		return 0, nil
	}
	if s.beforeTickWrite != nil {
		s.beforeTickWrite()
	}

	// The lock is released before writing: the located consumer's batch
	// may hold these rows, and it needs the lock to finish.
	n := 0
	var drifted []int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, drifted = 0, drifted[:0]
		ids, statuses, counts := make([]string, len(cs)), make([]string, len(cs)), make([]int, len(cs))
		lasts := make([]time.Time, len(cs))
		for i, c := range cs {
			ids[i], statuses[i], counts[i], lasts[i] = c.HotspotID, string(c.Status), c.Count, recs[i].LastAt
		}
		rows, err := tx.Query(ctx, tickStatuses, ids, statuses, lasts, counts)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		changed := make(map[string]bool, len(stored))
		for _, id := range stored {
			changed[id] = true
		}
		var evs outbox.Events
		for i, c := range cs {
			if !changed[c.HotspotID] {
				drifted = append(drifted, i)
				continue
			}
			id := fmt.Sprintf("%s.%s.%d.%d", c.HotspotID, c.Kind, c.Count, recs[i].LastAt.UnixMilli())
			if err := addChange(&evs, id, c, recs[i].Category, recs[i].District); err != nil {
				return err
			}
			n++
		}
		return evs.Write(ctx, tx)
	})
	s.mu.Lock()
	var unexplained []string
	switch {
	case err != nil:
		s.markStale("a tick's writes failed")
	default:
		unexplained = s.unexplained(engine, cs, recs, drifted)
		if len(unexplained) > 0 {
			s.markStale("the database refused a tick's status")
		}
	}
	s.mu.Unlock()
	if len(unexplained) > 0 {
		s.logRefusals(ctx, engine, unexplained, cs, recs)
	}
	if err != nil {
		return 0, fmt.Errorf("store hotspot statuses: %w", err)
	}
	for _, c := range cs {
		changes.WithLabelValues(string(c.Kind)).Inc()
	}
	return n, nil
}

// unexplained returns the ids of the hotspots whose tick the database
// refused (drifted, indices into cs) and that have not moved on in the
// engine since the tick decided them. A hotspot a complaint clustered
// into meanwhile has moved on: that batch writes the hotspot's whole
// record, status included, so the engine and the database agree on it
// again once the batch commits (and when the batch does not commit, the
// next batch or tick finds out and rebuilds). Any other refusal means the
// database changed behind the engine's back, and the engine must be
// rebuilt. The caller holds s.mu.
func (s *Service) unexplained(engine *cluster.Engine, cs []cluster.Change, recs []cluster.Hotspot, drifted []int) []string {
	var out []string
	for _, i := range drifted {
		now, ok := engine.Hotspot(cs[i].HotspotID)
		if s.engine != engine || !ok || now.Count == recs[i].Count && now.LastAt.Equal(recs[i].LastAt) && now.Status == recs[i].Status {
			out = append(out, cs[i].HotspotID)
		}
	}
	return out
}

// logRefusals tells operators which hotspots' statuses the database
// refused, and what it holds for the first few of them.
func (s *Service) logRefusals(ctx context.Context, engine *cluster.Engine, ids []string, cs []cluster.Change, recs []cluster.Hotspot) {
	planned := make(map[string]string, len(cs))
	for i, c := range cs {
		planned[c.HotspotID] = fmt.Sprintf("%s, %d complaints, last %s", c.Status, c.Count, recs[i].LastAt.Format(time.RFC3339Nano))
	}
	shown := ids[:min(len(ids), 3)]
	held := make([]string, 0, len(shown))
	for _, id := range shown {
		mem := "forgotten"
		if h, ok := engine.Hotspot(id); ok {
			mem = fmt.Sprintf("%s, %d complaints, last %s", h.Status, h.Count, h.LastAt.Format(time.RFC3339Nano))
		}
		var status string
		var n int
		var last time.Time
		err := s.pool.QueryRow(ctx, `SELECT status, complaint_count, last_at FROM hotspots WHERE id = $1`, id).Scan(&status, &n, &last)
		switch {
		case err != nil:
			held = append(held, fmt.Sprintf("%s: tick %s; engine now %s; database: %v", id, planned[id], mem, err))
		default:
			held = append(held, fmt.Sprintf("%s: tick %s; engine now %s; database %s, %d complaints, last %s",
				id, planned[id], mem, status, n, last.UTC().Format(time.RFC3339Nano)))
		}
	}
	s.log.Warn("the database refused statuses a tick decided; the engine will be rebuilt",
		zap.Int("hotspots", len(ids)), zap.Strings("first", held))
}

// syncForTick brings the engine in step with the database outside any
// located batch: it rebuilds when the last batch did not commit or a write
// failed, unless a batch is still in progress (its handlers rebuild first).
// The caller holds s.mu.
func (s *Service) syncForTick(ctx context.Context) error {
	st := "committed"
	if s.lastXact != "" {
		if err := s.pool.QueryRow(ctx, `SELECT COALESCE(pg_xact_status($1::xid8), 'unknown')`, s.lastXact).Scan(&st); err != nil {
			return fmt.Errorf("transaction status: %w", err)
		}
	}
	switch st {
	case "in progress":
		return nil
	case "committed":
	default:
		s.markStale("the last batch did not commit")
	}
	if s.stale || s.engine == nil {
		return s.rebuild(ctx, s.pool)
	}
	return nil
}
