package hotspots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ClusteredSubject is complaint.clustered.<district>.<category>.
func ClusteredSubject(district, category string) string {
	return event.SubjComplaintClustered + "." + district + "." + category
}

// HandleComplaintLocated clusters a located complaint and stores, in the
// batch transaction, its membership, every hotspot and member the engine
// changed, complaint.clustered and the hotspot events. A complaint the
// engine already holds (a second location of it) keeps its hotspot.
func (s *Service) HandleComplaintLocated(ctx context.Context, tx pgx.Tx, ev event.ComplaintLocated, _ natsx.Meta) error {
	switch {
	case ev.ComplaintID == "" || ev.Category == "" || ev.District == "" || ev.ReceivedAt.IsZero():
		return fault.Errorf(fault.Invalid, "located complaint %q lacks its id, category, district or time", ev.ComplaintID)
	case (ev.Lon == nil) != (ev.Lat == nil):
		return fault.Errorf(fault.Invalid, "located complaint %s has half a point", ev.ComplaintID)
	case !s.inPartition(ev.District):
		return fault.Errorf(fault.Invalid, "located complaint %s is in %s, outside the partition %v", ev.ComplaintID, ev.District, s.cfg.Districts)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale || s.engine == nil {
		if err := s.rebuild(ctx, tx); err != nil {
			return fmt.Errorf("cluster %s: %w", ev.ComplaintID, err)
		}
	}
	s.store.q = tx
	defer func() { s.store.q = nil }()

	res, err := s.engine.Add(ctx, cluster.Point{
		ID: ev.ComplaintID, Category: ev.Category, Subcategory: ev.Subcategory, District: ev.District,
		Lon: ev.Lon, Lat: ev.Lat, PlaceKey: ev.PlaceKey,
		// PostgreSQL keeps microseconds: memory must agree with what it stores.
		At: ev.ReceivedAt.UTC().Truncate(time.Microsecond),
	})
	switch {
	case errors.Is(err, cluster.ErrInvalidPoint), errors.Is(err, cluster.ErrOtherDistrict):
		return fault.Wrap(fault.Invalid, fmt.Errorf("cluster %s: %w", ev.ComplaintID, err))
	case err != nil:
		return fmt.Errorf("cluster %s: %w", ev.ComplaintID, err)
	}
	if err := s.persist(ctx, tx, ev, res); err != nil {
		// The savepoint rolls back; the engine has moved on without it.
		s.stale = true
		return fmt.Errorf("store clustering of %s: %w", ev.ComplaintID, err)
	}
	switch {
	case len(res.Members) == 0:
		clustered.WithLabelValues("known").Inc()
	case res.HotspotID != "":
		clustered.WithLabelValues("hotspot").Inc()
	default:
		clustered.WithLabelValues("none").Inc()
	}
	for _, c := range res.Changes {
		changes.WithLabelValues(string(c.Kind)).Inc()
	}
	inMemory.WithLabelValues(s.durable).Set(float64(s.engine.Len()))
	return nil
}

const upsertHotspots = `
INSERT INTO hotspots (id, category, subcategory, district, subdistrict, status, complaint_count, first_at, last_at,
                      lon, lat, place, place_key, merged_into, resolved_at, updated_at)
SELECT id, category, NULLIF(sub, ''), district, NULLIF(subd, ''), status, n, first_at, last_at,
       lon, lat, NULLIF(place, ''), NULLIF(pk, ''), NULLIF(into_id, ''), resolved_at, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::timestamptz[],
            $9::timestamptz[], $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])
     AS t(id, category, sub, district, subd, status, n, first_at, last_at, lon, lat, place, pk, into_id, resolved_at)
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status, complaint_count = EXCLUDED.complaint_count,
    first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at, lon = EXCLUDED.lon, lat = EXCLUDED.lat,
    subcategory = COALESCE(hotspots.subcategory, EXCLUDED.subcategory),
    subdistrict = COALESCE(hotspots.subdistrict, EXCLUDED.subdistrict),
    place = COALESCE(hotspots.place, EXCLUDED.place),
    place_key = COALESCE(hotspots.place_key, EXCLUDED.place_key),
    merged_into = EXCLUDED.merged_into, resolved_at = EXCLUDED.resolved_at, updated_at = now()`

const upsertMembers = `
INSERT INTO hotspot_members (complaint_id, hotspot_id, category, subcategory, district, lon, lat, place_key, at)
SELECT id, NULLIF(hs, ''), category, NULLIF(sub, ''), district, lon, lat, NULLIF(pk, ''), at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::text[], $9::timestamptz[])
     AS t(id, hs, category, sub, district, lon, lat, pk, at)
ON CONFLICT (complaint_id) DO UPDATE SET hotspot_id = EXCLUDED.hotspot_id`

// persist stores everything one Add decided in one round trip. The round
// trip first checks that the previous complaint's transaction committed:
// when it did not, the engine was ahead of the database and everything
// sent after the check is rolled back with the savepoint.
func (s *Service) persist(ctx context.Context, tx pgx.Tx, ev event.ComplaintLocated, res cluster.Result) error {
	b := &pgx.Batch{}
	b.Queue(xactCheck, s.lastXact)
	if len(res.Hotspots) > 0 {
		n := len(res.Hotspots)
		var (
			ids, cats, subs, dists, subds, sts, places, pks, into = make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			counts        = make([]int, n)
			firsts, lasts = make([]time.Time, n), make([]time.Time, n)
			lons, lats    = make([]*float64, n), make([]*float64, n)
			resolved      = make([]*time.Time, n)
		)
		for i, h := range res.Hotspots {
			ids[i], cats[i], dists[i], sts[i] = h.ID, h.Category, h.District, string(h.Status)
			counts[i], firsts[i], lasts[i], lons[i], lats[i] = h.Count, h.FirstAt, h.LastAt, h.Lon, h.Lat
			pks[i], into[i] = h.PlaceKey, h.MergedInto
			if !h.ResolvedAt.IsZero() {
				r := h.ResolvedAt
				resolved[i] = &r
			}
			if h.ID == res.HotspotID {
				// Descriptive fields come from a complaint of the hotspot;
				// the first one stored stays.
				subs[i], subds[i], places[i] = ev.Subcategory, ev.Subdistrict, ev.Place
			}
		}
		b.Queue(upsertHotspots, ids, cats, subs, dists, subds, sts, counts, firsts, lasts, lons, lats, places, pks, into, resolved)
	}
	if len(res.Members) > 0 {
		n := len(res.Members)
		var (
			ids, hss, cats, subs, dists, pks = make([]string, n), make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n)
			lons, lats = make([]*float64, n), make([]*float64, n)
			ats        = make([]time.Time, n)
		)
		for i, m := range res.Members {
			ids[i], hss[i], cats[i], subs[i], dists[i], pks[i] = m.ID, m.HotspotID, m.Category, m.Subcategory, m.District, m.PlaceKey
			lons[i], lats[i], ats[i] = m.Lon, m.Lat, m.At
		}
		b.Queue(upsertMembers, ids, hss, cats, subs, dists, lons, lats, pks, ats)
	}
	for _, h := range res.Hotspots {
		if h.MergedInto == "" {
			continue
		}
		// Members the engine no longer holds still name the absorbed
		// hotspot, and so do hotspots merged into it before.
		b.Queue(`UPDATE hotspot_members SET hotspot_id = $2 WHERE hotspot_id = $1`, h.ID, h.MergedInto)
		b.Queue(`UPDATE hotspots SET merged_into = $2, updated_at = now() WHERE merged_into = $1`, h.ID, h.MergedInto)
	}

	out := event.ComplaintClustered{ComplaintLocated: ev}
	out.EventID = ClusteredEventID(ev.ComplaintID)
	if res.HotspotID != "" {
		id := res.HotspotID
		out.HotspotID = &id
	}
	payload, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode clustered event: %w", err)
	}
	outbox.Queue(b, ClusteredSubject(ev.District, ev.Category), out.EventID, payload)

	recs := make(map[string]cluster.Hotspot, len(res.Hotspots))
	for _, h := range res.Hotspots {
		recs[h.ID] = h
	}
	for _, c := range res.Changes {
		h, ok := recs[c.HotspotID]
		if !ok {
			return fmt.Errorf("change %s of hotspot %s without its record", c.Kind, c.HotspotID)
		}
		id := c.HotspotID + "." + string(c.Kind)
		if c.Kind != cluster.ChangeOpened {
			id += "." + ev.ComplaintID
		}
		if err := queueChange(b, id, c, h.Category, h.District); err != nil {
			return err
		}
	}
	br := tx.SendBatch(ctx, b)
	var xact, last string
	if err := br.QueryRow().Scan(&xact, &last); err != nil {
		_ = br.Close()
		return fmt.Errorf("transaction status: %w", err)
	}
	if err := br.Close(); err != nil {
		return err
	}
	if !s.checkXact(xact, last) {
		return errEngineAhead
	}
	return nil
}

// HotspotSubject is hotspot.<kind>.
func HotspotSubject(kind cluster.ChangeKind) string { return event.SubjHotspot + "." + string(kind) }

// queueChange adds a hotspot lifecycle event to the batch.
func queueChange(b *pgx.Batch, eventID string, c cluster.Change, category, district string) error {
	payload, err := json.Marshal(event.HotspotChanged{
		EventID: eventID, HotspotID: c.HotspotID, Kind: string(c.Kind), Category: category, District: district,
		Status: string(c.Status), ComplaintCount: c.Count, MergedFrom: c.Absorbed, At: c.At.UTC(),
	})
	if err != nil {
		return fmt.Errorf("encode hotspot event: %w", err)
	}
	outbox.Queue(b, HotspotSubject(c.Kind), eventID, payload)
	return nil
}
