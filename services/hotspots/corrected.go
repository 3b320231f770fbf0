package hotspots

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/cluster"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// A supervisor's correction of a complaint (分拣更正) reaches the detector
// as another complaint.located of the complaint, <id>.located.c<n>, with
// the corrected district, kind or place. A complaint the partition has
// clustered before at another place or kind leaves its hotspot, which is
// counted again without it, and is clustered where the correction puts
// it. Only the latest correction places a complaint: the located events
// from before it (the first location, an earlier correction) arriving
// late, or redelivered, change nothing.

// correctionNumber is n of a correction's located event (<id>.located.c<n>),
// 0 for the complaint's first location.
func correctionNumber(eventID string) int {
	if _, n, ok := strings.Cut(eventID, ".located.c"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return v
		}
	}
	return 0
}

// latestOnly drops from evs the located events that a later correction of
// the same complaint supersedes: one the geocoder has applied since
// (locations.corrections, which numbers the corrections' events) or one in
// the same batch. The complaint's place is then that correction's, which
// its own event brings.
func latestOnly(ctx context.Context, q querier, evs []event.ComplaintLocated) ([]event.ComplaintLocated, error) {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ComplaintID
	}
	rows, err := q.Query(ctx, `SELECT complaint_id, corrections FROM locations WHERE complaint_id = ANY($1) AND corrections > 0`, ids)
	if err != nil {
		return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
	}
	latest := make(map[string]int)
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
		}
		latest[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
	}
	for _, ev := range evs {
		if n := correctionNumber(ev.EventID); n > latest[ev.ComplaintID] {
			latest[ev.ComplaintID] = n
		}
	}
	taken := make(map[string]bool, len(evs))
	out := evs[:0:0]
	for _, ev := range evs {
		if correctionNumber(ev.EventID) < latest[ev.ComplaintID] || taken[ev.ComplaintID] {
			clustered.WithLabelValues("superseded").Inc()
			continue
		}
		taken[ev.ComplaintID] = true
		out = append(out, ev)
	}
	return out, nil
}

// sameMember reports whether a stored member is the point ev clusters: a
// correction that changes nothing the engine reads moves nothing.
func sameMember(m cluster.Member, ev event.ComplaintLocated) bool {
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return m.Category == ev.Category && m.Subcategory == ev.Subcategory && m.District == ev.District &&
		m.PlaceKey == ev.PlaceKey && eq(m.Lon, ev.Lon) && eq(m.Lat, ev.Lat) &&
		m.At.Equal(ev.ReceivedAt.UTC().Truncate(time.Microsecond))
}

// moveCorrected takes the complaints the corrections of evs move out of
// the hotspots the partition clustered them in: their members are
// deleted, so that the engine clusters them afresh, and each hotspot they
// leave is counted again from the members it keeps (count, first and last
// complaint, centroid), with hotspot.updated. A hotspot left with fewer
// complaints than any of them needs to be a core point (MinCount) holds
// no hotspot any more: it closes with no complaint (hotspot.closed) and
// its remaining complaints are in no hotspot. Its status is otherwise
// kept: a correction is no complaint, it neither wakes nor escalates.
//
// It returns the changes' kinds and whether it moved any complaint; the
// caller then rebuilds the
// engine from tx, which has no undo of a point. Corrections are a
// supervisor's, a few a day: the rebuild is their cost, not the feed's.
// A complaint another partition clustered is left to clusteredElsewhere.
func (s *Service) moveCorrected(ctx context.Context, tx pgx.Tx, evs []event.ComplaintLocated) ([]cluster.ChangeKind, bool, error) {
	byID := make(map[string]event.ComplaintLocated)
	var ids []string
	for _, ev := range evs {
		if n := correctionNumber(ev.EventID); n > 0 {
			byID[ev.ComplaintID] = ev
			ids = append(ids, ev.ComplaintID)
		}
	}
	if len(ids) == 0 {
		return nil, false, nil
	}
	rows, err := tx.Query(ctx, selectMembers+` WHERE complaint_id = ANY($1) AND ($2::text[] IS NULL OR district = ANY($2))
		ORDER BY complaint_id FOR UPDATE`, ids, s.districtArg())
	if err != nil {
		return nil, false, fmt.Errorf("members of %d corrected complaints: %w", len(ids), err)
	}
	stored, err := scanMembers(rows)
	if err != nil {
		return nil, false, fmt.Errorf("members of %d corrected complaints: %w", len(ids), err)
	}
	var moving []string
	leaving := map[string][]string{} // hotspot -> the corrected complaints that leave it
	for _, m := range stored {
		if sameMember(m, byID[m.ID]) {
			continue
		}
		moving = append(moving, m.ID)
		if m.HotspotID != "" {
			leaving[m.HotspotID] = append(leaving[m.HotspotID], m.ID)
		}
	}
	if len(moving) == 0 {
		return nil, false, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM hotspot_members WHERE complaint_id = ANY($1)`, moving); err != nil {
		return nil, false, fmt.Errorf("move %d corrected complaints: %w", len(moving), err)
	}
	var kinds []cluster.ChangeKind
	if len(leaving) > 0 {
		if kinds, err = s.recount(ctx, tx, leaving, byID); err != nil {
			return nil, false, err
		}
	}
	return kinds, true, nil
}

// recount stores the hotspots corrected complaints left (leaving: hotspot
// id -> those complaints) as their remaining members make them, with
// their events. The caller holds s.mu and has deleted the leaving members.
func (s *Service) recount(ctx context.Context, tx pgx.Tx, leaving map[string][]string, byID map[string]event.ComplaintLocated) ([]cluster.ChangeKind, error) {
	hsIDs := make([]string, 0, len(leaving))
	for id := range leaving {
		hsIDs = append(hsIDs, id)
	}
	slices.Sort(hsIDs) // the order in which ticks and batches lock hotspots
	rows, err := tx.Query(ctx, selectHotspots+` WHERE id = ANY($1) ORDER BY id FOR UPDATE`, hsIDs)
	if err != nil {
		return nil, fmt.Errorf("hotspots corrected complaints left: %w", err)
	}
	recs, err := scanHotspots(rows)
	if err != nil {
		return nil, fmt.Errorf("hotspots corrected complaints left: %w", err)
	}
	rows, err = tx.Query(ctx, selectMembers+` WHERE hotspot_id = ANY($1)`, hsIDs)
	if err != nil {
		return nil, fmt.Errorf("members of the hotspots corrected complaints left: %w", err)
	}
	members, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("members of the hotspots corrected complaints left: %w", err)
	}
	kept := make(map[string][]cluster.Member, len(recs))
	for _, m := range members {
		kept[m.HotspotID] = append(kept[m.HotspotID], m)
	}
	var evs outbox.Events
	var dissolved []string
	var kinds []cluster.ChangeKind
	b := &pgx.Batch{}
	for _, h := range recs {
		ms := kept[h.ID]
		need := 0
		for _, m := range ms {
			if n := s.cluster.Categories[m.Category].Sub(m.Subcategory).MinCount; need == 0 || n < need {
				need = n
			}
		}
		kind := cluster.ChangeUpdated
		if len(ms) == 0 || len(ms) < need {
			kind, h.Status, h.Count, h.Located = cluster.ChangeClosed, cluster.StatusClosed, 0, 0
			dissolved = append(dissolved, h.ID)
		} else {
			h.Count, h.Located = len(ms), 0
			var sumLon, sumLat float64
			for i, m := range ms {
				if i == 0 || m.At.Before(h.FirstAt) {
					h.FirstAt = m.At
				}
				if i == 0 || m.At.After(h.LastAt) {
					h.LastAt = m.At
				}
				if m.Lon != nil && m.Lat != nil {
					h.Located++
					sumLon, sumLat = sumLon+*m.Lon, sumLat+*m.Lat
				}
			}
			h.Lon, h.Lat = nil, nil
			if h.Located > 0 {
				lon, lat := sumLon/float64(h.Located), sumLat/float64(h.Located)
				h.Lon, h.Lat = &lon, &lat
			}
		}
		b.Queue(`UPDATE hotspots SET status = $2, complaint_count = $3, first_at = $4, last_at = $5, lon = $6, lat = $7,
			updated_at = now() WHERE id = $1`, h.ID, string(h.Status), h.Count, h.FirstAt, h.LastAt, h.Lon, h.Lat)
		// Named after the first complaint that left and its correction, so
		// that a redelivered batch writes the same event once.
		first := slices.Min(leaving[h.ID])
		id := fmt.Sprintf("%s.%s.%s.c%d", h.ID, kind, first, correctionNumber(byID[first].EventID))
		c := cluster.Change{Kind: kind, HotspotID: h.ID, Status: h.Status, Count: h.Count, At: s.cfg.Now().UTC()}
		if err := addChange(&evs, id, c, h.Category, h.District); err != nil {
			return nil, err
		}
		kinds = append(kinds, kind)
	}
	if len(dissolved) > 0 {
		b.Queue(`UPDATE hotspot_members SET hotspot_id = NULL WHERE hotspot_id = ANY($1)`, dissolved)
	}
	evs.Queue(b)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store the hotspots corrected complaints left: %w", err)
	}
	return kinds, nil
}
