package geocoder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/locate"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// MethodCorrected is the method of a location a supervisor set from the
// triage list.
const MethodCorrected = "corrected"

// current is a complaint's stored location and category, the starting
// point of a correction.
type current struct {
	ticketID    string
	receivedAt  time.Time
	loc         locate.Result
	category    string
	subcategory string
	corrections int
	// history: the work order was loaded as history, and stays so
	// corrected.
	history bool
}

// corrected is what a correction leaves: the location and category the
// complaint goes on with.
type corrected struct {
	loc                   locate.Result
	category, subcategory string
}

// correct applies a supervisor's correction to the stored result. Empty
// fields keep what was there; a point without a district names its
// district; a changed district drops a point and a sub-district that were
// in the old one. It fails with fault.Invalid when the correction names an
// unknown district or category or leaves the complaint without either.
func (s *Service) correct(cur current, ev event.TriageCorrected) (corrected, error) {
	out := corrected{loc: cur.loc, category: cur.category, subcategory: cur.subcategory}
	loc := &out.loc
	loc.Method, loc.Confidence, loc.Reason = MethodCorrected, 1, ""
	var notes []string

	moved := false
	var pointHit locate.Result
	if ev.Lon != nil && ev.Lat != nil {
		hit, err := s.loc.Locate(locate.Input{Lon: ev.Lon, Lat: ev.Lat, CRS: string(geo.WGS84)})
		if err != nil {
			return out, fault.Wrap(fault.Invalid, fmt.Errorf("correction of %s: %w", ev.ComplaintID, err))
		}
		lon, lat := *ev.Lon, *ev.Lat
		loc.Lon, loc.Lat = &lon, &lat
		loc.Place = ""
		pointHit, moved = hit, true
	}

	district := loc.District
	switch {
	case ev.District != "":
		district = ev.District
		if moved && pointHit.District != district {
			where := pointHit.District
			if where == "" {
				where = "outside Xiamen"
			}
			notes = append(notes, "corrected point in "+where+", corrected district "+district)
		}
	case moved:
		if !pointHit.Located() {
			return out, fault.Errorf(fault.Invalid, "correction of %s: point (%g, %g) is outside Xiamen and names no district", ev.ComplaintID, *ev.Lon, *ev.Lat)
		}
		district = pointHit.District
	}
	if district == "" {
		return out, fault.Errorf(fault.Invalid, "correction of %s leaves it without a district", ev.ComplaintID)
	}
	d, ok := s.districts.BySlug(district)
	if !ok {
		return out, fault.Errorf(fault.Invalid, "correction of %s: unknown district %q", ev.ComplaintID, district)
	}
	if district != loc.District {
		loc.Place = "" // named in the old district's gazetteer
		if !moved && loc.Lon != nil && loc.Lat != nil {
			if hit, ok := s.districts.Contains(*loc.Lon, *loc.Lat); !ok || hit.Slug != district {
				// The old point is what put it in the wrong district.
				loc.Lon, loc.Lat = nil, nil
			}
		}
		loc.PlaceKey = rescope(loc.PlaceKey, loc.District, district)
		loc.Subdistrict, loc.SubdistrictCode, loc.SubdistrictApprox = "", "", false
	}
	loc.District, loc.DistrictName = district, d.Name

	switch {
	case ev.Subdistrict != "":
		loc.Subdistrict, loc.SubdistrictCode, loc.SubdistrictApprox = ev.Subdistrict, "", false
		if sd, ok := s.subdistrict(district, ev.Subdistrict); ok {
			loc.Subdistrict, loc.SubdistrictCode = sd.name, sd.code
		}
	case moved && pointHit.District == district:
		loc.Subdistrict, loc.SubdistrictCode, loc.SubdistrictApprox = pointHit.Subdistrict, pointHit.SubdistrictCode, pointHit.SubdistrictApprox
	case moved && loc.SubdistrictApprox:
		// The approximation was from the old point.
		loc.Subdistrict, loc.SubdistrictCode, loc.SubdistrictApprox = "", "", false
	}
	loc.Disagreement = joinReasons(notes...)

	if ev.Category != "" || ev.Subcategory != "" {
		cls, err := s.cls.Classify(classify.Input{Category: ev.Category, Subcategory: ev.Subcategory})
		if err != nil {
			if errors.Is(err, classify.ErrInvalidCode) {
				err = fault.Wrap(fault.Invalid, err)
			}
			return out, fmt.Errorf("correction of %s: %w", ev.ComplaintID, err)
		}
		out.category, out.subcategory = cls.Category, cls.Subcategory
	}
	if out.category == "" {
		return out, fault.Errorf(fault.Invalid, "correction of %s leaves it without a category", ev.ComplaintID)
	}
	return out, nil
}

type subdistrictName struct{ name, code string }

// subdistrict finds a sub-district of a district by its name or an alias.
func (s *Service) subdistrict(district, name string) (subdistrictName, bool) {
	name = strings.TrimSpace(name)
	for _, sd := range s.subs[district] {
		if sd.Name == name {
			return subdistrictName{sd.Name, sd.Code}, true
		}
		for _, a := range sd.Aliases {
			if a == name {
				return subdistrictName{sd.Name, sd.Code}, true
			}
		}
	}
	return subdistrictName{}, false
}

// rescope moves a place key (district/key) to another district.
func rescope(key, from, to string) string {
	if from != "" && strings.HasPrefix(key, from+"/") {
		return to + "/" + strings.TrimPrefix(key, from+"/")
	}
	return key
}

const selectCurrent = `SELECT c.ticket_id, l.received_at, l.located, COALESCE(l.district, ''), COALESCE(l.district_name, ''),
	COALESCE(l.subdistrict, ''), COALESCE(l.subdistrict_code, ''), l.subdistrict_approx, l.lon, l.lat,
	COALESCE(l.method, ''), COALESCE(l.confidence, 0), COALESCE(l.place, ''), COALESCE(l.place_key, ''),
	COALESCE(l.category, ''), COALESCE(l.subcategory, ''), l.corrections, c.history
FROM locations l JOIN complaints c ON c.id = l.complaint_id
WHERE l.complaint_id = $1
FOR UPDATE OF l`

const updateCorrected = `UPDATE locations SET located = true, district = $2, district_name = $3,
	subdistrict = NULLIF($4, ''), subdistrict_code = NULLIF($5, ''), subdistrict_approx = $6, lon = $7, lat = $8,
	method = $9, confidence = 1, place = NULLIF($10, ''), place_key = NULLIF($11, ''), disagreement = NULLIF($12, ''),
	category = $13, subcategory = NULLIF($14, ''), classify_method = $9, classify_score = 1,
	priority = $15, urgent = $16, priority_reason = NULLIF($17, ''),
	corrections = corrections + 1, corrected_by = $18, located_at = now()
WHERE complaint_id = $1
RETURNING corrections`

// HandleTriageCorrected applies a supervisor's correction to a complaint's
// location and category, resolves its triage entry and publishes
// complaint.located again (event id <complaint_id>.located.c<n> for the
// n-th correction) so the complaint re-enters the pipeline.
func (s *Service) HandleTriageCorrected(ctx context.Context, tx pgx.Tx, ev event.TriageCorrected, _ natsx.Meta) error {
	var cur current
	var located bool
	err := tx.QueryRow(ctx, selectCurrent, ev.ComplaintID).Scan(&cur.ticketID, &cur.receivedAt, &located,
		&cur.loc.District, &cur.loc.DistrictName, &cur.loc.Subdistrict, &cur.loc.SubdistrictCode, &cur.loc.SubdistrictApprox,
		&cur.loc.Lon, &cur.loc.Lat, &cur.loc.Method, &cur.loc.Confidence, &cur.loc.Place, &cur.loc.PlaceKey,
		&cur.category, &cur.subcategory, &cur.corrections, &cur.history)
	if errors.Is(err, pgx.ErrNoRows) {
		var known bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM complaints WHERE id = $1)`, ev.ComplaintID).Scan(&known); err != nil {
			return fmt.Errorf("correction of %s: %w", ev.ComplaintID, err)
		}
		if !known {
			return fault.Errorf(fault.Invalid, "correction of unknown complaint %s", ev.ComplaintID)
		}
		// Received but not geocoded yet: retried until it is.
		return fmt.Errorf("correction of %s: not geocoded yet", ev.ComplaintID)
	}
	if err != nil {
		return fmt.Errorf("correction of %s: %w", ev.ComplaintID, err)
	}
	if !located {
		cur.loc.District, cur.loc.DistrictName = "", ""
	}
	c, err := s.correct(cur, ev)
	if err != nil {
		return err
	}
	prio := s.cls.Prioritise(c.category, c.subcategory, c.loc.District, cur.receivedAt)

	var n int
	err = tx.QueryRow(ctx, updateCorrected, ev.ComplaintID, c.loc.District, c.loc.DistrictName,
		c.loc.Subdistrict, c.loc.SubdistrictCode, c.loc.SubdistrictApprox, c.loc.Lon, c.loc.Lat,
		MethodCorrected, c.loc.Place, c.loc.PlaceKey, c.loc.Disagreement,
		c.category, c.subcategory, prio.Priority, prio.Urgent, prio.Reason, ev.Officer).Scan(&n)
	if err != nil {
		return fmt.Errorf("store correction of %s: %w", ev.ComplaintID, err)
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE triage SET resolved_at = now(), resolved_by = $2 WHERE complaint_id = $1 AND resolved_at IS NULL`,
		ev.ComplaintID, ev.Officer)
	// The officers' API refuses another correction until this one is applied.
	b.Queue(`UPDATE triage_corrections SET applied_at = now() WHERE complaint_id = $1 AND event_id = $2`, ev.ComplaintID, ev.EventID)
	located2 := locatedEvent(ev.ComplaintID+".located.c"+strconv.Itoa(n), ev.ComplaintID, cur.ticketID, cur.receivedAt,
		c.loc, c.category, c.subcategory, prio)
	located2.History = cur.history
	if err := queueOutbox(b, locatedSubject(located2), located2); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store correction of %s: %w", ev.ComplaintID, err)
	}
	decided.WithLabelValues("corrected", MethodCorrected).Inc()
	return nil
}
