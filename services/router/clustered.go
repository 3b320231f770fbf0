package router

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// HandleComplaintClustered puts a clustered complaint into a case: it
// joins the live case of its place for the team that would handle it,
// reopens the case of its place resolved within ReopenWithin, or opens a
// case and assigns it. A complaint no rule covers goes to triage as
// unrouted, with the reason.
func (s *Service) HandleComplaintClustered(ctx context.Context, tx pgx.Tx, ev event.ComplaintClustered, _ natsx.Meta) error {
	if ev.ComplaintID == "" || ev.Category == "" || ev.District == "" || ev.ReceivedAt.IsZero() {
		return fault.Errorf(fault.Invalid, "clustered complaint %q lacks its id, category, district or time", ev.ComplaintID)
	}
	if (ev.Lon == nil) != (ev.Lat == nil) {
		return fault.Errorf(fault.Invalid, "clustered complaint %s has half a point", ev.ComplaintID)
	}
	ctx = caseflow.WithClock(ctx, s.cfg.Now)
	var held string
	err := tx.QueryRow(ctx, `SELECT case_id FROM case_complaints WHERE complaint_id = $1`, ev.ComplaintID).Scan(&held)
	switch {
	case err == nil:
		routed.WithLabelValues("duplicate").Inc()
		return nil // a replay: the complaint is in its case already
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("case of complaint %s: %w", ev.ComplaintID, err)
	}

	dec, err := s.routes.Route(routing.Request{
		Category:    ev.Category,
		Subcategory: ev.Subcategory,
		District:    ev.District,
		Lon:         ev.Lon,
		Lat:         ev.Lat,
		Place:       ev.Place,
		At:          ev.ReceivedAt,
		Priority:    ev.Priority,
		Urgent:      ev.Urgent,
	})
	var noRoute *routing.NoRouteError
	switch {
	case errors.As(err, &noRoute):
		routed.WithLabelValues("unrouted").Inc()
		return unrouted(ctx, tx, []string{ev.ComplaintID}, noRoute.Error())
	case errors.Is(err, routing.ErrInvalidRequest):
		return fault.Wrap(fault.Invalid, fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err))
	case err != nil:
		return fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err)
	}

	// Serialise every decision about one district and category until the
	// transaction commits, so complaints about one place arriving at once,
	// or in one batch, find each other's case. A lock per grid cell would
	// let two complaints either side of a cell edge open two cases.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('case-place:' || $1 || ':' || $2, 0))`, ev.District, ev.Category); err != nil {
		return fmt.Errorf("lock place of complaint %s: %w", ev.ComplaintID, err)
	}
	hotspot := ""
	if ev.HotspotID != nil {
		hotspot = *ev.HotspotID
	}
	p := placeQuery{
		district: ev.District, category: ev.Category, team: dec.Team.ID, hotspot: hotspot,
		placeKey: ev.PlaceKey, lon: ev.Lon, lat: ev.Lat, radius: s.radiusOf(ev.Category, ev.Subcategory),
	}

	caseID, err := p.find(ctx, tx, liveStatuses, nil)
	if err != nil {
		return err
	}
	if caseID != "" {
		if _, _, err := caseflow.Merge(ctx, tx, caseID, actor, ev.ComplaintID, hotspot); err != nil {
			return err
		}
		routed.WithLabelValues("merged").Inc()
		return nil
	}

	since := ev.ReceivedAt.Add(-s.cfg.ReopenWithin)
	caseID, err = p.find(ctx, tx, []string{caseflow.StatusResolved}, &since)
	if err != nil {
		return err
	}
	if caseID != "" {
		if _, err := caseflow.Reopen(ctx, tx, caseID, actor, dec.SignDue, dec.ResolveDue, "complaint "+ev.ComplaintID+" at the same place"); err != nil {
			return err
		}
		if _, _, err := caseflow.Merge(ctx, tx, caseID, actor, ev.ComplaintID, hotspot); err != nil {
			return err
		}
		routed.WithLabelValues("reopened").Inc()
		return nil
	}

	c, _, err := caseflow.Open(ctx, tx, actor, caseflow.NewCase{
		ID:          caseflow.IDFor(ev.ComplaintID),
		ComplaintID: ev.ComplaintID,
		Category:    ev.Category,
		Subcategory: ev.Subcategory,
		District:    ev.District,
		Subdistrict: ev.Subdistrict,
		HotspotID:   hotspot,
		Place:       ev.Place,
		PlaceKey:    ev.PlaceKey,
		Lon:         ev.Lon,
		Lat:         ev.Lat,
		OpenedAt:    ev.ReceivedAt,
	})
	if err != nil {
		return err
	}
	if _, err := caseflow.Assign(ctx, tx, c.ID, actor, assignment(dec, "rule "+dec.Rule)); err != nil {
		return err
	}
	routed.WithLabelValues("opened").Inc()
	return nil
}

func assignment(dec routing.Decision, reason string) caseflow.Assignment {
	return caseflow.Assignment{
		Team:           dec.Team.ID,
		Mode:           dec.Mode,
		Priority:       dec.Priority,
		QuietCommunity: dec.QuietCommunity,
		PositiveList:   dec.PositiveList,
		SignDue:        dec.SignDue,
		ResolveDue:     dec.ResolveDue,
		Reason:         reason,
	}
}

// unrouted puts complaints on the triage list as unrouted, with the
// reason; a supervisor's earlier correction of the same complaint is
// reopened rather than lost.
func unrouted(ctx context.Context, tx pgx.Tx, complaintIDs []string, reason string) error {
	_, err := tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind)
		SELECT unnest($1::text[]), $2, 'unrouted'
		ON CONFLICT (complaint_id) DO UPDATE SET reason = EXCLUDED.reason, kind = 'unrouted', created_at = now(), resolved_at = NULL, resolved_by = NULL`,
		complaintIDs, reason)
	if err != nil {
		return fmt.Errorf("triage unrouted complaints: %w", err)
	}
	return nil
}

var liveStatuses = []string{caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted, caseflow.StatusReturned}

// placeQuery finds the case of a complaint's place.
type placeQuery struct {
	district, category, team string
	hotspot, placeKey        string
	lon, lat                 *float64
	radius                   float64
}

// find returns the case in one of statuses (resolved since *since, when
// given) that the complaint belongs to: for the same district and
// category, held by the complaint's team or returned by it (the complaint
// is about the same nuisance its case was re-routed for), and at the same
// place: the complaint's hotspot, or for a case without a hotspot the same
// place key or a point within the radius. The hotspot's case comes first,
// then the nearest, then the oldest.
func (p placeQuery) find(ctx context.Context, tx pgx.Tx, statuses []string, since any) (string, error) {
	var dLat, dLon float64
	if p.lat != nil {
		dLat = p.radius / 111_000
		dLon = p.radius / (111_000 * math.Max(0.1, math.Cos(*p.lat*math.Pi/180)))
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT c.id FROM cases c
		WHERE c.district = $1 AND c.category = $2 AND c.status = ANY($3)
		  AND ($10::timestamptz IS NULL OR c.resolved_at >= $10)
		  AND (c.team = $4 OR c.team IS NULL
		       OR EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'returned' AND a.team = $4))
		  AND (($5 <> '' AND c.hotspot_id = $5)
		       OR ((c.hotspot_id IS NULL OR $5 = '') AND (
		            ($6 <> '' AND c.place_key = $6)
		            OR ($7::float8 IS NOT NULL AND c.lat BETWEEN $8::float8 - $11 AND $8::float8 + $11
		                AND c.lon BETWEEN $7::float8 - $12 AND $7::float8 + $12
		                AND `+haversine+` <= $9))))
		ORDER BY ($5 <> '' AND c.hotspot_id IS NOT DISTINCT FROM $5) DESC,
		         CASE WHEN $7::float8 IS NOT NULL AND c.lat IS NOT NULL THEN `+haversine+` END NULLS LAST,
		         c.opened_at, c.id
		LIMIT 1`,
		p.district, p.category, statuses, p.team, p.hotspot, p.placeKey, p.lon, p.lat, p.radius, since, dLat, dLon).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find case of the place: %w", err)
	}
	return id, nil
}

// haversine is the distance in metres between case c and the point $7, $8.
const haversine = `(2 * 6371008.8 * asin(least(1, sqrt(power(sin(radians(c.lat - $8::float8) / 2), 2)
	+ cos(radians($8::float8)) * cos(radians(c.lat)) * power(sin(radians(c.lon - $7::float8) / 2), 2)))))`
