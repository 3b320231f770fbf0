package geocoder

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/locate"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// storeDecision writes a complaint's location, its triage entry when it
// has one, and its event, in one statement. The first result for a
// complaint stands: a replay under another event id, or after a
// supervisor's correction, inserts no location and therefore nothing else.
const storeDecision = `WITH ins AS (
	INSERT INTO locations (complaint_id, located, district, district_name, subdistrict,
		subdistrict_code, subdistrict_approx, lon, lat, method, confidence, place, place_key, disagreement,
		category, subcategory, classify_method, classify_score, also_mentioned, priority, urgent, priority_reason,
		received_at)
	VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), $7, $8, $9, NULLIF($10, ''),
		$11, NULLIF($12, ''), NULLIF($13, ''), NULLIF($14, ''), NULLIF($15, ''), NULLIF($16, ''), NULLIF($17, ''),
		$18, $19, $20, $21, NULLIF($22, ''), $23)
	ON CONFLICT (complaint_id) DO NOTHING
	RETURNING complaint_id
), tri AS (
	INSERT INTO triage (complaint_id, reason, kind)
	SELECT complaint_id, $24, $25 FROM ins WHERE $25 <> ''
	ON CONFLICT (complaint_id) DO NOTHING
), ob AS (
	INSERT INTO outbox (event_id, subject, payload)
	SELECT $26, $27, $28::jsonb FROM ins
	ON CONFLICT (event_id) DO NOTHING
)
SELECT count(*) FROM ins`

// storeArgs are the arguments of storeDecision.
func storeArgs(ev event.ComplaintReceived, d decision, subject string, out interface{ ID() string }) ([]any, error) {
	payload, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", subject, err)
	}
	var confidence *float64
	if d.loc.Located() {
		confidence = &d.loc.Confidence
	}
	also := d.cls.AlsoMentioned
	if also == nil {
		also = []string{}
	}
	return []any{ev.ComplaintID, d.loc.Located(), d.loc.District, d.loc.DistrictName, d.loc.Subdistrict,
		d.loc.SubdistrictCode, d.loc.SubdistrictApprox, d.loc.Lon, d.loc.Lat, d.loc.Method,
		confidence, d.loc.Place, d.loc.PlaceKey, d.loc.Disagreement,
		d.cls.Category, d.cls.Subcategory, d.cls.Method, d.cls.Score, also, d.prio.Priority, d.prio.Urgent, d.prio.Reason,
		ev.ReceivedAt, d.reason, d.kind, out.ID(), subject, payload}, nil
}

// queueOutbox adds an event to the batch; its id is in the payload.
func queueOutbox(b *pgx.Batch, subject string, ev interface{ ID() string }) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s: %w", subject, err)
	}
	outbox.Queue(b, subject, ev.ID(), payload)
	return nil
}

// locatedEvent builds complaint.located from a location and a category.
func locatedEvent(eventID, complaintID, ticketID string, receivedAt time.Time, loc locate.Result, category, subcategory string, prio classify.Priority) event.ComplaintLocated {
	return event.ComplaintLocated{
		EventID:           eventID,
		ComplaintID:       complaintID,
		TicketID:          ticketID,
		ReceivedAt:        receivedAt,
		District:          loc.District,
		Subdistrict:       loc.Subdistrict,
		SubdistrictApprox: loc.SubdistrictApprox,
		Lon:               loc.Lon,
		Lat:               loc.Lat,
		Method:            loc.Method,
		Confidence:        loc.Confidence,
		Category:          category,
		Subcategory:       subcategory,
		Priority:          prio.Priority,
		Urgent:            prio.Urgent,
		PlaceKey:          loc.PlaceKey,
		Place:             loc.Place,
	}
}

// locatedSubject is complaint.located.<district>.<category>, which lets the
// hotspot detector partition by district.
func locatedSubject(ev event.ComplaintLocated) string {
	return event.SubjComplaintLocated + "." + ev.District + "." + ev.Category
}
