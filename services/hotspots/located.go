package hotspots

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// ClusteredEventID is the event id of a complaint's complaint.clustered:
// one per complaint, so a replay or a second location of the complaint
// never publishes it twice.
func ClusteredEventID(complaintID string) string { return complaintID + ".clustered" }

// clusteredEventID is the id of the complaint.clustered that answers the
// located event ev. A supervisor's correction of a complaint in triage
// (its located event is <id>.located.c<n>) gets its own, <id>.clustered.c<n>:
// under the first one's id it would be dropped as a copy, and a complaint
// the router could not route would never reach it again, corrected.
func clusteredEventID(ev event.ComplaintLocated) string {
	if _, n, ok := strings.Cut(ev.EventID, ".located.c"); ok && n != "" {
		return ClusteredEventID(ev.ComplaintID) + ".c" + n
	}
	return ClusteredEventID(ev.ComplaintID)
}

// ClusteredSubject is complaint.clustered.<district>.<category>.
func ClusteredSubject(district, category string) string {
	return event.SubjComplaintClustered + "." + district + "." + category
}

// HandleComplaintLocated is HandleComplaintsLocated for one complaint.
func (s *Service) HandleComplaintLocated(ctx context.Context, tx pgx.Tx, ev event.ComplaintLocated, m natsx.Meta) error {
	return s.HandleComplaintsLocated(ctx, tx, []event.ComplaintLocated{ev}, []natsx.Meta{m})
}

// HandleComplaintsLocated clusters a batch of located complaints in
// arrival order and stores, in the batch transaction, what the engine
// decided: every hotspot and member it changed, each written once with
// its final state, the complaints' complaint.clustered and the hotspot
// events, one statement per table. A complaint the engine already holds (a
// second location of it) keeps its hotspot, unless a supervisor's
// correction moves it (see moveCorrected); a located event behind a later
// correction of its complaint changes nothing (see latestOnly).
//
// Before the engine is used, one query tells whether the previous batch's
// transaction committed; when it did not, the engine held decisions the
// database does not and is rebuilt first. A batch that fails after the
// engine moved marks it for rebuilding, so that the consume loop's retry
// with one complaint at a time starts from the database; its complaints
// become suspects, tried before the engine takes them again (see probe).
func (s *Service) HandleComplaintsLocated(ctx context.Context, tx pgx.Tx, evs []event.ComplaintLocated, _ []natsx.Meta) error {
	for _, ev := range evs {
		if err := s.validate(ev); err != nil {
			return err
		}
	}
	evs, err := latestOnly(ctx, tx, evs)
	if err != nil || len(evs) == 0 {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.probe(ctx, tx, evs); err != nil {
		return err
	}
	if err := s.syncForBatch(ctx, tx); err != nil {
		return fmt.Errorf("cluster %d complaints: %w", len(evs), err)
	}
	// From here the engine may move: a failure makes suspects of the
	// batch's complaints, a success clears them.
	ok := false
	defer func() { s.suspect(evs, !ok) }()
	w := newWrites()
	s.store.q = tx
	s.store.flush = func(ctx context.Context) error { return w.flush(ctx, tx) }
	defer func() { s.store.q, s.store.flush = nil, nil }()

	elsewhere, err := s.clusteredElsewhere(ctx, tx, evs)
	if err != nil {
		return fmt.Errorf("cluster %d complaints: %w", len(evs), err)
	}
	kinds, moved, err := s.moveCorrected(ctx, tx, evs)
	if err != nil {
		return fmt.Errorf("cluster %d complaints: %w", len(evs), err)
	}
	if moved {
		// The engine has no undo of a point: it forgets the moved
		// complaints by a rebuild from tx, which holds them no more; a
		// batch that then fails leaves it stale.
		defer func() {
			if !ok {
				s.markStale("a batch failed after a correction moved complaints")
			}
		}()
		s.staleWhy = reasonCorrection
		if err := s.rebuild(ctx, tx); err != nil {
			return fmt.Errorf("cluster %d complaints: %w", len(evs), err)
		}
	}
	outcomes := make([]string, 0, len(evs))
	for i, ev := range evs {
		if hs, ok := elsewhere[ev.ComplaintID]; ok {
			// Corrected into this partition from another one, which
			// clustered it: it keeps its hotspot, as a complaint the
			// engine already holds does.
			if err := w.add(ev, cluster.Result{HotspotID: hs}); err != nil {
				if i > 0 {
					s.markStale("a batch failed after the engine moved")
				}
				return err
			}
			outcomes = append(outcomes, "known")
			continue
		}
		res, err := s.engine.Add(ctx, cluster.Point{
			ID: ev.ComplaintID, Category: ev.Category, Subcategory: ev.Subcategory, District: ev.District,
			Lon: ev.Lon, Lat: ev.Lat, PlaceKey: ev.PlaceKey,
			// PostgreSQL keeps microseconds: memory must agree with what it stores.
			At: ev.ReceivedAt.UTC().Truncate(time.Microsecond),
		})
		if err != nil {
			if i > 0 {
				// The engine holds the batch's earlier complaints, which
				// roll back with this error.
				s.markStale("a batch failed after the engine moved")
			}
			if errors.Is(err, cluster.ErrInvalidPoint) || errors.Is(err, cluster.ErrOtherDistrict) {
				return fault.Wrap(fault.Invalid, fmt.Errorf("cluster %s: %w", ev.ComplaintID, err))
			}
			return fmt.Errorf("cluster %s: %w", ev.ComplaintID, err)
		}
		if err := w.add(ev, res); err != nil {
			s.markStale("a batch failed after the engine moved")
			return err
		}
		switch {
		case len(res.Members) == 0:
			outcomes = append(outcomes, "known")
		case res.HotspotID != "":
			outcomes = append(outcomes, "hotspot")
		default:
			outcomes = append(outcomes, "none")
		}
		for _, c := range res.Changes {
			kinds = append(kinds, c.Kind)
		}
	}
	if err := w.finish(ctx, tx); err != nil {
		// The transaction rolls back; the engine has moved on without it.
		s.markStale("a batch's writes failed")
		return fmt.Errorf("store clustering of %d complaints: %w", len(evs), err)
	}
	for _, o := range outcomes {
		clustered.WithLabelValues(o).Inc()
	}
	for _, k := range kinds {
		changes.WithLabelValues(string(k)).Inc()
	}
	inMemory.WithLabelValues(s.durable).Set(float64(s.engine.Len()))
	ok = true
	return nil
}

// probe tries, before the engine takes them, to write the rows of their
// own that every handling of a batch's complaints writes (each one's
// member, here in no hotspot, and its complaint.clustered), in a
// savepoint it rolls back, and fails the batch with the database's error
// when they are refused. It tries the suspects (the complaints of a batch
// that failed since the engine last took them), and every complaint while
// the engine waits for a rebuild. The caller holds s.mu.
//
// The engine has no undo: once it took a batch whose writes then fail, it
// is rebuilt from the database, a read of every recent complaint (seconds
// in production) during which the detector stops for every district. A
// complaint whose rows the database always refuses (a constraint, a bad
// row) would pay that at each of its deliveries, twice when it comes in a
// batch (the batch, then itself alone in the consume loop's retry one by
// one). Tried first, it fails alone before the engine moves: the others
// of its batch are stored one by one without a rebuild, it is redelivered
// and dead-lettered as any failing message, and the engine is rebuilt at
// most once, for the batch that first held it. While every write fails
// (a full disk), the batches fail here too, and the rebuild waits until
// the database takes writes again. A refusal this cannot foresee (of a
// hotspot's row or event, which depend on the engine's decision) still
// costs a rebuild per failing batch.
func (s *Service) probe(ctx context.Context, tx pgx.Tx, evs []event.ComplaintLocated) error {
	w := newWrites()
	w.probe = true
	var ids []string
	for _, ev := range evs {
		if _, ok := s.suspects[ev.ComplaintID]; !ok && !s.stale() && s.engine != nil {
			continue
		}
		m := cluster.Member{Point: cluster.Point{
			ID: ev.ComplaintID, Category: ev.Category, Subcategory: ev.Subcategory, District: ev.District,
			Lon: ev.Lon, Lat: ev.Lat, PlaceKey: ev.PlaceKey, At: ev.ReceivedAt.UTC().Truncate(time.Microsecond),
		}}
		if err := w.add(ev, cluster.Result{Members: []cluster.Member{m}}); err != nil {
			return err
		}
		ids = append(ids, ev.ComplaintID)
	}
	if len(ids) == 0 {
		return nil
	}
	what := fmt.Sprintf("%d complaints", len(ids))
	if len(ids) == 1 {
		what = "complaint " + ids[0]
	}
	sp, err := tx.Begin(ctx)
	if err == nil {
		err = w.finish(ctx, sp)
		if rerr := sp.Rollback(ctx); err == nil && rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("store %s, tried before clustering: %w", what, err)
	}
	return nil
}

// Suspects are kept for suspectFor after their last failure, long enough
// for every redelivery of a message (natsx.Backoff), and at most
// maxSuspects of them: one forgotten costs at most a rebuild.
const (
	suspectFor  = 15 * time.Minute
	maxSuspects = 10000
)

// suspect records the complaints of a batch that failed (failed true) as
// suspects, or forgets them once the engine took them. The caller holds
// s.mu.
func (s *Service) suspect(evs []event.ComplaintLocated, failed bool) {
	if !failed {
		for _, ev := range evs {
			delete(s.suspects, ev.ComplaintID)
		}
		return
	}
	now := time.Now()
	if s.suspects == nil || len(s.suspects)+len(evs) > maxSuspects {
		for id, at := range s.suspects {
			if now.Sub(at) > suspectFor {
				delete(s.suspects, id)
			}
		}
		if s.suspects == nil || len(s.suspects)+len(evs) > maxSuspects {
			s.suspects = make(map[string]time.Time, len(evs))
		}
	}
	for _, ev := range evs {
		s.suspects[ev.ComplaintID] = now
	}
}

// clusteredElsewhere returns, for the corrections in evs (event id
// <id>.located.c<n>) of complaints another partition clustered already, the
// hotspot they are stored with ("" for none). A correction may move a
// complaint to another district, hence to another instance, whose engine
// has never seen it: clustering it again there would count it in two
// hotspots, and overwrite its stored hotspot with one the stored row's
// district does not lead back to, so that both instances rebuild other
// hotspots than they had. An instance of every district ignores such a
// correction (the engine holds the complaint); so does a partition.
func (s *Service) clusteredElsewhere(ctx context.Context, q querier, evs []event.ComplaintLocated) (map[string]string, error) {
	if len(s.cfg.Districts) == 0 {
		return nil, nil
	}
	var ids []string
	for _, ev := range evs {
		if strings.Contains(ev.EventID, ".located.c") {
			ids = append(ids, ev.ComplaintID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT complaint_id, COALESCE(hotspot_id, '') FROM hotspot_members
		WHERE complaint_id = ANY($1) AND NOT (district = ANY($2))`, ids, s.cfg.Districts)
	if err != nil {
		return nil, fmt.Errorf("complaints clustered in other partitions: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var id, hs string
		if err := rows.Scan(&id, &hs); err != nil {
			return nil, err
		}
		out[id] = hs
	}
	return out, rows.Err()
}

// validate refuses, before the engine sees it, a located complaint the
// engine could never cluster, so that a bad complaint fails its batch
// without moving the engine.
func (s *Service) validate(ev event.ComplaintLocated) error {
	switch {
	case ev.ComplaintID == "" || ev.Category == "" || ev.District == "" || ev.ReceivedAt.IsZero():
		return fault.Errorf(fault.Invalid, "located complaint %q lacks its id, category, district or time", ev.ComplaintID)
	case (ev.Lon == nil) != (ev.Lat == nil):
		return fault.Errorf(fault.Invalid, "located complaint %s has half a point", ev.ComplaintID)
	case ev.Lon != nil && (math.IsNaN(*ev.Lon) || math.IsNaN(*ev.Lat) || math.Abs(*ev.Lon) > 180 || math.Abs(*ev.Lat) > 90):
		return fault.Errorf(fault.Invalid, "located complaint %s has coordinates out of range", ev.ComplaintID)
	case !s.inPartition(ev.District):
		return fault.Errorf(fault.Invalid, "located complaint %s is in %s, outside the partition %v", ev.ComplaintID, ev.District, s.cfg.Districts)
	}
	if _, ok := s.cluster.Categories[ev.Category]; !ok {
		return fault.Errorf(fault.Invalid, "located complaint %s: unknown category %q", ev.ComplaintID, ev.Category)
	}
	return nil
}

// HotspotSubject is hotspot.<kind>.
func HotspotSubject(kind cluster.ChangeKind) string { return event.SubjHotspot + "." + string(kind) }

// addChange adds a hotspot lifecycle event to the events of a batch.
func addChange(evs *outbox.Events, eventID string, c cluster.Change, category, district string) error {
	return evs.Add(HotspotSubject(c.Kind), eventID, event.HotspotChanged{
		EventID: eventID, HotspotID: c.HotspotID, Kind: string(c.Kind), Category: category, District: district,
		Status: string(c.Status), ComplaintCount: c.Count, MergedFrom: c.Absorbed, At: c.At.UTC(),
	})
}
