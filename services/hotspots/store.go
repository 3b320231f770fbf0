package hotspots

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
)

// querier is what reads need: a pool, a transaction or a savepoint.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// memberStore is the engine's cluster.Store over hotspot_members. It reads
// through the transaction of the batch being handled, set by the handler
// under the service's lock, after flush has stored what the batch decided
// so far, so a late complaint also finds the complaints handled earlier in
// the same, uncommitted, batch.
type memberStore struct {
	q     querier
	flush func(context.Context) error
}

const selectMembers = `SELECT complaint_id, COALESCE(hotspot_id, ''), category, COALESCE(subcategory, ''), district,
	lon, lat, COALESCE(place_key, ''), at FROM hotspot_members`

// PointsNear implements cluster.Store.
func (m *memberStore) PointsNear(ctx context.Context, category string, minLon, minLat, maxLon, maxLat float64, from, to time.Time, placeKey string) ([]cluster.Member, error) {
	if m.q == nil {
		return nil, fmt.Errorf("points near: no transaction")
	}
	if m.flush != nil {
		if err := m.flush(ctx); err != nil {
			return nil, fmt.Errorf("points near: %w", err)
		}
	}
	// Two index scans (space-time and place) rather than one OR that
	// would scan the category.
	rows, err := m.q.Query(ctx, selectMembers+`
		WHERE $2::float8 <= $4::float8 AND category = $1 AND lat BETWEEN $3 AND $5 AND lon BETWEEN $2 AND $4 AND at BETWEEN $6 AND $7
		UNION
		`+selectMembers+`
		WHERE $8 <> '' AND category = $1 AND place_key = $8 AND at BETWEEN $6 AND $7`,
		category, minLon, minLat, maxLon, maxLat, from, to, placeKey)
	if err != nil {
		return nil, fmt.Errorf("points near: %w", err)
	}
	out, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("points near: %w", err)
	}
	return out, nil
}

// Hotspot implements cluster.Store: the stored record of a hotspot the
// engine has forgotten, read through the batch's transaction.
func (m *memberStore) Hotspot(ctx context.Context, id string) (cluster.Hotspot, bool, error) {
	if m.q == nil {
		return cluster.Hotspot{}, false, fmt.Errorf("hotspot %s: no transaction", id)
	}
	if m.flush != nil {
		if err := m.flush(ctx); err != nil {
			return cluster.Hotspot{}, false, fmt.Errorf("hotspot %s: %w", id, err)
		}
	}
	rows, err := m.q.Query(ctx, selectHotspots+` WHERE id = $1`, id)
	if err != nil {
		return cluster.Hotspot{}, false, fmt.Errorf("hotspot %s: %w", id, err)
	}
	hs, err := scanHotspots(rows)
	if err != nil || len(hs) == 0 {
		return cluster.Hotspot{}, false, err
	}
	return hs[0], true, nil
}

// selectHotspots reads hotspots as the engine holds them, with the number
// of their members that have coordinates.
const selectHotspots = `SELECT id, category, district, status, complaint_count, first_at, last_at, lon, lat,
	COALESCE(place_key, ''), COALESCE(merged_into, ''), resolved_at,
	(SELECT count(*) FROM hotspot_members m WHERE m.hotspot_id = h.id AND m.lon IS NOT NULL)
	FROM hotspots h`

func scanHotspots(rows pgx.Rows) ([]cluster.Hotspot, error) {
	defer rows.Close()
	var hs []cluster.Hotspot
	for rows.Next() {
		var h cluster.Hotspot
		var status string
		var resolved *time.Time
		if err := rows.Scan(&h.ID, &h.Category, &h.District, &status, &h.Count, &h.FirstAt, &h.LastAt,
			&h.Lon, &h.Lat, &h.PlaceKey, &h.MergedInto, &resolved, &h.Located); err != nil {
			return nil, err
		}
		h.Status = cluster.Status(status)
		h.FirstAt, h.LastAt = h.FirstAt.UTC(), h.LastAt.UTC()
		if resolved != nil {
			h.ResolvedAt = resolved.UTC()
		}
		hs = append(hs, h)
	}
	return hs, rows.Err()
}

func scanMembers(rows pgx.Rows) ([]cluster.Member, error) {
	defer rows.Close()
	var out []cluster.Member
	for rows.Next() {
		var m cluster.Member
		if err := rows.Scan(&m.ID, &m.HotspotID, &m.Category, &m.Subcategory, &m.District,
			&m.Lon, &m.Lat, &m.PlaceKey, &m.At); err != nil {
			return nil, err
		}
		m.At = m.At.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// districtArg is the partition as a query argument: nil matches every
// district.
func (s *Service) districtArg() []string {
	if len(s.cfg.Districts) == 0 {
		return nil
	}
	return s.cfg.Districts
}

// loadState reads what Engine.Restore needs for the partition: the members
// received since cfg.RestoreFrom(latest) and the hotspots they belong to,
// with every hotspot still alive and every recently merged one or
// recently left without complaints by corrections (see moveCorrected):
// the engine names a hotspot after its founder, and a corrected complaint
// that founds one at its new place must not take the id of the one it
// left.
func (s *Service) loadState(ctx context.Context, q querier) ([]cluster.Member, []cluster.Hotspot, error) {
	ds := s.districtArg()
	var latest *time.Time
	if err := q.QueryRow(ctx, `SELECT max(at) FROM hotspot_members WHERE $1::text[] IS NULL OR district = ANY($1)`, ds).Scan(&latest); err != nil {
		return nil, nil, fmt.Errorf("latest member: %w", err)
	}
	if latest == nil {
		return nil, nil, nil
	}
	from := s.cluster.RestoreFrom(*latest)
	rows, err := q.Query(ctx, selectMembers+` WHERE at >= $1 AND ($2::text[] IS NULL OR district = ANY($2)) ORDER BY at, complaint_id`, from, ds)
	if err != nil {
		return nil, nil, fmt.Errorf("members: %w", err)
	}
	members, err := scanMembers(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("members: %w", err)
	}
	rows, err = q.Query(ctx, selectHotspots+`
		WHERE ($2::text[] IS NULL OR district = ANY($2))
		  AND (status NOT IN ('closed', 'merged')
		       OR (status = 'merged' AND last_at >= $1)
		       OR (status = 'closed' AND complaint_count = 0 AND last_at >= $1)
		       OR EXISTS (SELECT 1 FROM hotspot_members m WHERE m.hotspot_id = h.id AND m.at >= $1))`, from, ds)
	if err != nil {
		return nil, nil, fmt.Errorf("hotspots: %w", err)
	}
	hs, err := scanHotspots(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("hotspots: %w", err)
	}
	return members, hs, nil
}

// rebuild replaces the engine with one restored from what q sees. The
// caller holds s.mu. The old engine is let go first: the old and the new
// one together, with the members read for the new one, would double the
// engine's memory for the time of the rebuild. A rebuild that fails
// leaves no engine, and the next batch rebuilds again.
func (s *Service) rebuild(ctx context.Context, q querier) error {
	why := cmp.Or(s.staleWhy, "asked") // "start" when the service is new
	start := time.Now()
	s.engine, s.staleWhy = nil, why
	members, hs, err := s.loadState(ctx, q)
	if err != nil {
		return fmt.Errorf("restore engine: %w", err)
	}
	opts := []cluster.Option{cluster.WithClock(s.cfg.Now)}
	if len(s.cfg.Districts) > 0 {
		opts = append(opts, cluster.WithDistricts(s.cfg.Districts...))
	}
	e := cluster.NewEngine(s.cluster, s.store, opts...)
	if err := e.Restore(members, hs); err != nil {
		return fmt.Errorf("restore engine: %w", err)
	}
	s.engine, s.staleWhy = e, ""
	rebuilds.WithLabelValues(why).Inc()
	// Past the start, a rebuild follows a failure, and stalls the
	// detector for its time: operators hear of it. A correction's is
	// the expected cost of a supervisor's correction.
	level := zap.WarnLevel
	if why == "start" || why == reasonCorrection {
		level = zap.InfoLevel
	}
	s.log.Log(level, "hotspot engine rebuilt from the database", zap.String("reason", why),
		zap.Int("complaints", len(members)), zap.Int("hotspots", len(hs)), zap.Duration("took", time.Since(start)))
	if s.afterRebuild != nil {
		s.afterRebuild(why)
	}
	inMemory.WithLabelValues(s.durable).Set(float64(e.Len()))
	return nil
}

// Restore rebuilds the engine's memory from PostgreSQL; Run calls it at
// start, and tests call it to simulate a restart.
func (s *Service) Restore(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rebuild(ctx, s.pool)
}

// xactCheck is the first statement of every batch of located complaints:
// the transaction it runs in, and whether the transaction of the previous
// batch committed.
const xactCheck = `SELECT pg_current_xact_id()::text,
	CASE WHEN $1 = '' THEN 'committed' ELSE COALESCE(pg_xact_status(NULLIF($1, '')::xid8), 'unknown') END`

// syncForBatch brings the engine in step with the database at the start
// of a batch: when the previous batch ran in another transaction that did
// not commit, or a write failed since, the engine is rebuilt. It records
// tx as the transaction of the last batch. The caller holds s.mu.
//
// The rebuild runs on its own time, not the batch's: a rebuild longer than
// the batch's deadline would otherwise fail its batch, whose failure would
// call for another rebuild, and so on for ever. When the deadline passed
// meanwhile, the batch fails before the engine moves, and the next one
// starts from the rebuilt engine.
func (s *Service) syncForBatch(ctx context.Context, tx pgx.Tx) error {
	var xact, last string
	if err := tx.QueryRow(ctx, xactCheck, s.lastXact).Scan(&xact, &last); err != nil {
		return fmt.Errorf("transaction status: %w", err)
	}
	if xact != s.lastXact && last != "committed" {
		s.markStale("the last batch did not commit")
	}
	if s.stale() || s.engine == nil {
		// At the first call in tx, tx has written nothing of the engine's
		// and the engine is rebuilt from what is committed, whatever
		// becomes of tx; later calls in tx (one complaint per savepoint)
		// rebuild from tx, which sees its own earlier complaints.
		first := xact != s.lastXact
		var q querier = tx
		if first {
			q = s.pool
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rebuildTimeout)
		err := s.rebuild(rctx, q)
		cancel()
		if err != nil {
			return err
		}
		if first {
			s.lastXact = "" // the engine holds only what is committed
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("engine rebuilt after the batch's deadline: %w", err)
		}
	}
	s.lastXact = xact
	return nil
}

// markStale asks for a rebuild before the engine's next use; the first
// reason asked stands. The caller holds s.mu.
func (s *Service) markStale(why string) {
	if !s.stale() {
		s.staleWhy = why
	}
}

// stale reports whether the engine must be rebuilt before its next use.
// The caller holds s.mu.
func (s *Service) stale() bool { return s.staleWhy != "" }

// reasonCorrection is the reason of the rebuild that makes the engine
// forget the complaints a correction moves (see moveCorrected).
const reasonCorrection = "a correction moved complaints"

// rebuildTimeout bounds one rebuild of the engine from PostgreSQL.
const rebuildTimeout = 10 * time.Minute
