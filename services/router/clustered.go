package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

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
// unrouted, with the reason. It takes two round trips to PostgreSQL: one
// finds and locks the place's case, one writes the transitions.
func (s *Service) HandleComplaintClustered(ctx context.Context, tx pgx.Tx, ev event.ComplaintClustered, _ natsx.Meta) error {
	if ev.ComplaintID == "" || ev.Category == "" || ev.District == "" || ev.ReceivedAt.IsZero() {
		return fault.Errorf(fault.Invalid, "clustered complaint %q lacks its id, category, district or time", ev.ComplaintID)
	}
	if (ev.Lon == nil) != (ev.Lat == nil) {
		return fault.Errorf(fault.Invalid, "clustered complaint %s has half a point", ev.ComplaintID)
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
	if err != nil {
		return s.unroutable(ctx, tx, ev, err)
	}
	hotspot := ""
	if ev.HotspotID != nil {
		hotspot = *ev.HotspotID
	}
	p := placeQuery{
		district: ev.District, category: ev.Category, team: dec.Team.ID, hotspot: hotspot,
		placeKey: ev.PlaceKey, lon: ev.Lon, lat: ev.Lat, radius: s.radiusOf(ev.Category, ev.Subcategory),
		since: ev.ReceivedAt.Add(-s.cfg.ReopenWithin), complaintID: ev.ComplaintID,
	}
	f, err := p.find(ctx, tx)
	if err != nil {
		return err
	}
	if f.held {
		routed.WithLabelValues("duplicate").Inc()
		return nil // a replay: the complaint is in its case already
	}

	at := s.now()
	var w caseflow.Writes
	outcome := "merged"
	switch {
	case f.found && f.c.Status == caseflow.StatusResolved:
		reopened, err := w.Reopen(f.c, actor, dec.SignDue, dec.ResolveDue, "complaint "+ev.ComplaintID+" at the same place", f.tickets, at)
		if err != nil {
			return err
		}
		if _, err := w.Merge(reopened, actor, ev.ComplaintID, hotspot, f.withComplaint, at); err != nil {
			return err
		}
		outcome = "reopened"
	case f.found:
		if _, err := w.Merge(f.c, actor, ev.ComplaintID, hotspot, f.withComplaint, at); err != nil {
			return err
		}
	default:
		_, err := w.OpenAssigned(actor, caseflow.NewCase{
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
		}, assignment(dec, "rule "+dec.Rule), f.withComplaint, at)
		if err != nil {
			return err
		}
		outcome = "opened"
	}
	if err := w.Send(ctx, tx); err != nil {
		return fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err)
	}
	routed.WithLabelValues(outcome).Inc()
	return nil
}

// unroutable handles a complaint the routing rules refused: one no rule
// covers goes to triage as unrouted, unless a case holds it already.
func (s *Service) unroutable(ctx context.Context, tx pgx.Tx, ev event.ComplaintClustered, err error) error {
	var held bool
	if qerr := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM case_complaints WHERE complaint_id = $1)`, ev.ComplaintID).Scan(&held); qerr != nil {
		return fmt.Errorf("case of complaint %s: %w", ev.ComplaintID, qerr)
	}
	if held {
		routed.WithLabelValues("duplicate").Inc()
		return nil // a replay: the complaint is in its case already
	}
	var noRoute *routing.NoRouteError
	switch {
	case errors.As(err, &noRoute):
		routed.WithLabelValues("unrouted").Inc()
		return unrouted(ctx, tx, []string{ev.ComplaintID}, noRoute.Error())
	case errors.Is(err, routing.ErrInvalidRequest):
		return fault.Wrap(fault.Invalid, fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err))
	default:
		return fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err)
	}
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

// findStatuses are the statuses of a case a complaint may join: the live
// ones, and resolved (since a time) to reopen it.
var findStatuses = []string{caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted, caseflow.StatusReturned, caseflow.StatusResolved}

// placeQuery finds the case of a complaint's place.
type placeQuery struct {
	district, category, team string
	hotspot, placeKey        string
	lon, lat                 *float64
	radius                   float64
	since                    time.Time // a resolved case reopens if resolved since
	complaintID              string
}

// found is what find learnt in its round trip.
type found struct {
	held          bool // a case holds the complaint already
	found         bool // c is the case of the place, locked
	c             caseflow.Case
	tickets       []string // c's work orders
	withComplaint []string // and the complaint's, in the order caseflow.Tickets lists them
}

// find serialises every decision about the complaint's district and
// category until the transaction commits, so complaints about one place
// arriving at once, or in one batch, find each other's case (a lock per
// grid cell would let two complaints either side of a cell edge open two
// cases). Under the lock, in the same round trip, it learns whether a
// case holds the complaint already, and finds and locks the case the
// complaint belongs to: a live one (open, assigned, accepted, returned)
// before one resolved since p.since, for the same district and category,
// held by the complaint's team or returned by it (the complaint is about
// the same nuisance its case was re-routed for), and at the same place:
// the complaint's hotspot, or for a case without a hotspot the same place
// key or a point within the radius. The hotspot's case comes first, then
// the nearest, then the oldest.
func (p placeQuery) find(ctx context.Context, tx pgx.Tx) (found, error) {
	var dLat, dLon float64
	if p.lat != nil {
		dLat = p.radius / 111_000
		dLon = p.radius / (111_000 * math.Max(0.1, math.Cos(*p.lat*math.Pi/180)))
	}
	var b pgx.Batch
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('case-place:' || $1 || ':' || $2, 0))`, p.district, p.category)
	b.Queue(`SELECT m.ticket_id, cc.case_id IS NOT NULL FROM complaints m LEFT JOIN case_complaints cc ON cc.complaint_id = m.id
		WHERE m.id = $1`, p.complaintID)
	b.Queue(findSQL,
		p.district, p.category, findStatuses, p.team, p.hotspot, p.placeKey, p.lon, p.lat, p.radius, p.since, dLat, dLon, p.complaintID)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	var f found
	if _, err := br.Exec(); err != nil {
		return f, fmt.Errorf("lock place of complaint %s: %w", p.complaintID, err)
	}
	var ticket string
	err := br.QueryRow().Scan(&ticket, &f.held)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("complaint %s is not stored", p.complaintID)
	}
	if err != nil {
		return f, fmt.Errorf("case of complaint %s: %w", p.complaintID, err)
	}
	f.withComplaint = []string{ticket}
	rows, err := br.Query()
	if err != nil {
		return f, fmt.Errorf("find case of the place: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		f.found = true
		if f.c, err = caseflow.Scan(withTickets{rows, &f.tickets, &f.withComplaint}); err != nil {
			return f, fmt.Errorf("find case of the place: %w", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("find case of the place: %w", err)
	}
	if err := br.Close(); err != nil {
		return f, fmt.Errorf("find case of the place: %w", err)
	}
	return f, nil
}

// withTickets scans a row of caseflow.Columns followed by the case's
// tickets without and with the complaint's.
type withTickets struct {
	rows          pgx.Rows
	tickets, with *[]string
}

func (w withTickets) Scan(dest ...any) error {
	return w.rows.Scan(append(dest, w.tickets, w.with)...)
}

// haversine is the distance in metres between case c and the point $7, $8.
const haversine = `(2 * 6371008.8 * asin(least(1, sqrt(power(sin(radians(c.lat - $8::float8) / 2), 2)
	+ cos(radians($8::float8)) * cos(radians(c.lat)) * power(sin(radians(c.lon - $7::float8) / 2), 2)))))`

// findSQL finds and locks the case of a place with its tickets; see find.
//
// The candidates are gathered first by three index-friendly branches (the
// hotspot, the place key, the bounding box), so the cost does not grow
// with the number of open cases in the district; the full condition then
// decides among them.
const findSQL = `WITH cand AS (
		SELECT id FROM cases WHERE $5 <> '' AND hotspot_id = $5
		UNION
		SELECT id FROM cases WHERE $6 <> '' AND district = $1 AND category = $2 AND place_key = $6
		UNION
		SELECT id FROM cases WHERE $7::float8 IS NOT NULL AND district = $1 AND category = $2
		  AND lat BETWEEN $8::float8 - $11 AND $8::float8 + $11 AND lon BETWEEN $7::float8 - $12 AND $7::float8 + $12),
	f AS (SELECT ` + caseflow.Columns + ` FROM cases c
		WHERE c.id IN (SELECT id FROM cand) AND c.district = $1 AND c.category = $2
		  AND c.status = ANY($3) AND (c.status <> 'resolved' OR c.resolved_at >= $10)
		  AND (c.team = $4 OR c.team IS NULL
		       OR EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'returned' AND a.team = $4))
		  AND (($5 <> '' AND c.hotspot_id = $5)
		       OR ((c.hotspot_id IS NULL OR $5 = '') AND (
		            ($6 <> '' AND c.place_key = $6)
		            OR ($7::float8 IS NOT NULL AND c.lat BETWEEN $8::float8 - $11 AND $8::float8 + $11
		                AND c.lon BETWEEN $7::float8 - $12 AND $7::float8 + $12
		                AND ` + haversine + ` <= $9))))
		ORDER BY c.status = 'resolved',
		         ($5 <> '' AND c.hotspot_id IS NOT DISTINCT FROM $5) DESC,
		         CASE WHEN $7::float8 IS NOT NULL AND c.lat IS NOT NULL THEN ` + haversine + ` END NULLS LAST,
		         c.opened_at, c.id
		LIMIT 1
		FOR UPDATE OF c),
	held AS (SELECT (SELECT m.ticket_id FROM complaints m WHERE m.id = cc.complaint_id) AS t
		FROM f JOIN case_complaints cc ON cc.case_id = f.id)
	SELECT f.*, array(SELECT t FROM held ORDER BY t), array(SELECT t FROM held UNION ALL SELECT ticket_id FROM complaints WHERE id = $13 ORDER BY 1)
	FROM f`
