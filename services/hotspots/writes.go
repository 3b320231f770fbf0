package hotspots

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// upsertHotspots writes the final records of a batch's hotspots; a row
// that would not change is left as it is.
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
    merged_into = EXCLUDED.merged_into, resolved_at = EXCLUDED.resolved_at, updated_at = now()
WHERE (hotspots.status, hotspots.complaint_count, hotspots.first_at, hotspots.last_at, hotspots.lon, hotspots.lat,
       hotspots.merged_into, hotspots.resolved_at)
      IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.complaint_count, EXCLUDED.first_at, EXCLUDED.last_at, EXCLUDED.lon,
       EXCLUDED.lat, EXCLUDED.merged_into, EXCLUDED.resolved_at)
   OR (hotspots.subcategory IS NULL AND EXCLUDED.subcategory IS NOT NULL)
   OR (hotspots.subdistrict IS NULL AND EXCLUDED.subdistrict IS NOT NULL)
   OR (hotspots.place IS NULL AND EXCLUDED.place IS NOT NULL)
   OR (hotspots.place_key IS NULL AND EXCLUDED.place_key IS NOT NULL)`

// insertMembers inserts the members of a batch.
const insertMembers = `
INSERT INTO hotspot_members (complaint_id, hotspot_id, category, subcategory, district, lon, lat, place_key, at)
SELECT id, NULLIF(hs, ''), category, NULLIF(sub, ''), district, lon, lat, NULLIF(pk, ''), at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::text[], $9::timestamptz[])
     AS t(id, hs, category, sub, district, lon, lat, pk, at)`

// upsertMembers writes the members of a batch; a member whose hotspot is
// unchanged is left as it is.
const upsertMembers = insertMembers + `
ON CONFLICT (complaint_id) DO UPDATE SET hotspot_id = EXCLUDED.hotspot_id
WHERE hotspot_members.hotspot_id IS DISTINCT FROM EXCLUDED.hotspot_id`

// probeMembers is upsertMembers for a trial (see Service.probe): a member
// stored already is left alone, not locked, since the engine leaves the
// member of a complaint it holds as it is.
const probeMembers = insertMembers + `
ON CONFLICT (complaint_id) DO NOTHING`

// Members the engine no longer holds still name an absorbed hotspot, and
// so do hotspots merged into it before: both move to the survivor.
const (
	relabelMembers = `UPDATE hotspot_members m SET hotspot_id = t.survivor
FROM unnest($1::text[], $2::text[]) AS t(absorbed, survivor) WHERE m.hotspot_id = t.absorbed`
	relabelMerged = `UPDATE hotspots h SET merged_into = t.survivor, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS t(absorbed, survivor) WHERE h.merged_into = t.absorbed`
)

// hotspotWrite is a hotspot's final record in a batch, with the
// descriptive fields of the first of its complaints that had them.
type hotspotWrite struct {
	rec                             cluster.Hotspot
	subcategory, subdistrict, place string
}

// writes collects what the engine decided for the complaints of one batch
// so that each table is written once: a hotspot or a member changed by
// several complaints is stored with its final state. Reads of the engine's
// store flush the tables first, so that they find what the batch decided
// so far; the events are written at the end.
type writes struct {
	hotspots    []hotspotWrite
	hotspotAt   map[string]int // hotspot id -> index in hotspots
	members     []cluster.Member
	memberAt    map[string]int // complaint id -> index in members
	absorbed    map[string]string
	absorbOrder []string
	events      outbox.Events
	// probe writes members with probeMembers (see Service.probe).
	probe bool
}

func newWrites() *writes {
	return &writes{hotspotAt: map[string]int{}, memberAt: map[string]int{}, absorbed: map[string]string{}}
}

// add records what one Add decided for the complaint ev.
func (w *writes) add(ev event.ComplaintLocated, res cluster.Result) error {
	for _, h := range res.Hotspots {
		i, ok := w.hotspotAt[h.ID]
		if !ok {
			i = len(w.hotspots)
			w.hotspotAt[h.ID] = i
			w.hotspots = append(w.hotspots, hotspotWrite{})
		}
		hw := &w.hotspots[i]
		hw.rec = h
		if h.ID == res.HotspotID {
			// Descriptive fields come from a complaint of the hotspot;
			// the first one stored stays.
			hw.subcategory = cmpOr(hw.subcategory, ev.Subcategory)
			hw.subdistrict = cmpOr(hw.subdistrict, ev.Subdistrict)
			hw.place = cmpOr(hw.place, ev.Place)
		}
		if h.MergedInto != "" {
			if _, ok := w.absorbed[h.ID]; !ok {
				w.absorbOrder = append(w.absorbOrder, h.ID)
			}
			w.absorbed[h.ID] = h.MergedInto
		}
	}
	for _, m := range res.Members {
		if i, ok := w.memberAt[m.ID]; ok {
			w.members[i].HotspotID = m.HotspotID
			continue
		}
		w.memberAt[m.ID] = len(w.members)
		w.members = append(w.members, m)
	}

	out := event.ComplaintClustered{ComplaintLocated: ev}
	out.EventID = clusteredEventID(ev)
	if res.HotspotID != "" {
		id := res.HotspotID
		out.HotspotID = &id
	}
	if err := w.events.Add(ClusteredSubject(ev.District, ev.Category), out.EventID, out); err != nil {
		return err
	}
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
		if err := addChange(&w.events, id, c, h.Category, h.District); err != nil {
			return err
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// queue puts the statements that store the hotspots, members and merges
// collected so far into b, and forgets them.
func (w *writes) queue(b *pgx.Batch) {
	if n := len(w.hotspots); n > 0 {
		// In the order of their ids, the order in which a tick locks
		// them: the two never wait for each other in a cycle.
		slices.SortFunc(w.hotspots, func(a, b hotspotWrite) int { return strings.Compare(a.rec.ID, b.rec.ID) })
		var (
			ids, cats, subs, dists, subds, sts, places, pks, into = make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			counts        = make([]int, n)
			firsts, lasts = make([]time.Time, n), make([]time.Time, n)
			lons, lats    = make([]*float64, n), make([]*float64, n)
			resolved      = make([]*time.Time, n)
		)
		for i, hw := range w.hotspots {
			h := hw.rec
			ids[i], cats[i], dists[i], sts[i] = h.ID, h.Category, h.District, string(h.Status)
			counts[i], firsts[i], lasts[i], lons[i], lats[i] = h.Count, h.FirstAt, h.LastAt, h.Lon, h.Lat
			pks[i], into[i] = h.PlaceKey, h.MergedInto
			subs[i], subds[i], places[i] = hw.subcategory, hw.subdistrict, hw.place
			if !h.ResolvedAt.IsZero() {
				r := h.ResolvedAt
				resolved[i] = &r
			}
		}
		b.Queue(upsertHotspots, ids, cats, subs, dists, subds, sts, counts, firsts, lasts, lons, lats, places, pks, into, resolved)
	}
	if n := len(w.members); n > 0 {
		var (
			ids, hss, cats, subs, dists, pks = make([]string, n), make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n)
			lons, lats = make([]*float64, n), make([]*float64, n)
			ats        = make([]time.Time, n)
		)
		for i, m := range w.members {
			ids[i], hss[i], cats[i], subs[i], dists[i], pks[i] = m.ID, m.HotspotID, m.Category, m.Subcategory, m.District, m.PlaceKey
			lons[i], lats[i], ats[i] = m.Lon, m.Lat, m.At
		}
		stmt := upsertMembers
		if w.probe {
			stmt = probeMembers
		}
		b.Queue(stmt, ids, hss, cats, subs, dists, lons, lats, pks, ats)
	}
	if n := len(w.absorbOrder); n > 0 {
		from, to := make([]string, n), make([]string, n)
		for i, id := range w.absorbOrder {
			from[i], to[i] = id, w.survivor(id)
		}
		b.Queue(relabelMembers, from, to)
		b.Queue(relabelMerged, from, to)
	}
	w.hotspots, w.members, w.absorbOrder = w.hotspots[:0], w.members[:0], w.absorbOrder[:0]
	clear(w.hotspotAt)
	clear(w.memberAt)
	clear(w.absorbed)
}

// survivor follows the merges of the batch from an absorbed hotspot to the
// hotspot that absorbed it last.
func (w *writes) survivor(id string) string {
	for range len(w.absorbed) + 1 {
		next, ok := w.absorbed[id]
		if !ok {
			break
		}
		id = next
	}
	return id
}

// flush stores the hotspots, members and merges collected so far in one
// round trip.
func (w *writes) flush(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	w.queue(b)
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store hotspots and members: %w", err)
	}
	return nil
}

// finish stores everything the batch decided, events included, in one
// round trip.
func (w *writes) finish(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	w.queue(b)
	w.events.Queue(b)
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}
