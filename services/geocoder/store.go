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

// storeDecisions writes the locations of a batch of complaints, their
// triage entries and their events, in one statement. The first result for
// a complaint stands: a replay under another event id, or after a
// supervisor's correction, inserts no location and therefore nothing else.
// A triage entry is marked history when the complaint's event or the
// stored complaint says it was loaded as history: the supervisors' list
// keeps it apart from today's. It returns the complaints whose location
// it inserted.
const storeDecisions = `WITH t AS (
	SELECT * FROM unnest($1::text[], $2::bool[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[],
		$8::float8[], $9::float8[], $10::text[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[],
		$16::text[], $17::text[], $18::float8[], $19::text[], $20::bool[], $21::bool[], $22::text[], $23::timestamptz[],
		$24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::bool[])
	AS t(complaint_id, located, district, district_name, subdistrict, subdistrict_code, subdistrict_approx, lon, lat,
		method, confidence, place, place_key, disagreement, category, subcategory, classify_method, classify_score,
		also_mentioned, priority, urgent, priority_reason, received_at, reason, kind, event_id, subject, payload, history)
), ins AS (
	INSERT INTO locations (complaint_id, located, district, district_name, subdistrict,
		subdistrict_code, subdistrict_approx, lon, lat, method, confidence, place, place_key, disagreement,
		category, subcategory, classify_method, classify_score, also_mentioned, priority, urgent, priority_reason,
		received_at)
	SELECT complaint_id, located, NULLIF(district, ''), NULLIF(district_name, ''), NULLIF(subdistrict, ''),
		NULLIF(subdistrict_code, ''), subdistrict_approx, lon, lat, NULLIF(method, ''), confidence, NULLIF(place, ''),
		NULLIF(place_key, ''), NULLIF(disagreement, ''), NULLIF(category, ''), NULLIF(subcategory, ''),
		NULLIF(classify_method, ''), classify_score, ARRAY(SELECT json_array_elements_text(also_mentioned::json)),
		priority, urgent, NULLIF(priority_reason, ''), received_at
	FROM t
	ON CONFLICT (complaint_id) DO NOTHING
	RETURNING complaint_id
), tri AS (
	INSERT INTO triage (complaint_id, reason, kind, history)
	SELECT t.complaint_id, t.reason, t.kind, t.history OR c.history
	FROM t JOIN ins USING (complaint_id) JOIN complaints c ON c.id = t.complaint_id WHERE t.kind <> ''
	ON CONFLICT (complaint_id) DO NOTHING
), ob AS (
	INSERT INTO outbox (event_id, subject, payload)
	SELECT t.event_id, t.subject, t.payload::json FROM t JOIN ins USING (complaint_id)
	ON CONFLICT (event_id) DO NOTHING
)
SELECT complaint_id FROM ins`

// decisions collects the decided complaints of a batch as the columns of
// storeDecisions, one complaint at most once.
type decisions struct {
	ids, districts, districtNames, subdistricts, subdistrictCodes, methods, places, placeKeys,
	disagreements, categories, subcategories, classifyMethods, alsoMentioned, priorityReasons,
	reasons, kinds, eventIDs, subjects, payloads []string
	located, approx, priority, urgent, history []bool
	lons, lats, confidences                    []*float64
	scores                                     []float64
	receivedAt                                 []time.Time
	// outcomes are the metric labels of each row: outcome and method.
	outcomes, outcomeMethods []string
	seen                     map[string]bool
}

// add appends a complaint's decision and the event that announces it. A
// complaint already in the batch keeps its first decision: add reports
// false and adds nothing.
func (ds *decisions) add(ev event.ComplaintReceived, d decision, subject string, out interface{ ID() string }) (bool, error) {
	if ds.seen == nil {
		ds.seen = map[string]bool{}
	}
	if ds.seen[ev.ComplaintID] {
		return false, nil
	}
	payload, err := json.Marshal(out)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", subject, err)
	}
	also := d.cls.AlsoMentioned
	if also == nil {
		also = []string{}
	}
	alsoJSON, err := json.Marshal(also)
	if err != nil {
		return false, fmt.Errorf("encode mentions of %s: %w", ev.ComplaintID, err)
	}
	ds.seen[ev.ComplaintID] = true
	var confidence *float64
	if d.loc.Located() {
		c := d.loc.Confidence
		confidence = &c
	}
	outcome := d.kind
	if outcome == "" {
		outcome = "located"
	}
	ds.ids = append(ds.ids, ev.ComplaintID)
	ds.located = append(ds.located, d.loc.Located())
	ds.districts = append(ds.districts, d.loc.District)
	ds.districtNames = append(ds.districtNames, d.loc.DistrictName)
	ds.subdistricts = append(ds.subdistricts, d.loc.Subdistrict)
	ds.subdistrictCodes = append(ds.subdistrictCodes, d.loc.SubdistrictCode)
	ds.approx = append(ds.approx, d.loc.SubdistrictApprox)
	ds.lons = append(ds.lons, d.loc.Lon)
	ds.lats = append(ds.lats, d.loc.Lat)
	ds.methods = append(ds.methods, d.loc.Method)
	ds.confidences = append(ds.confidences, confidence)
	ds.places = append(ds.places, d.loc.Place)
	ds.placeKeys = append(ds.placeKeys, d.loc.PlaceKey)
	ds.disagreements = append(ds.disagreements, d.loc.Disagreement)
	ds.categories = append(ds.categories, d.cls.Category)
	ds.subcategories = append(ds.subcategories, d.cls.Subcategory)
	ds.classifyMethods = append(ds.classifyMethods, d.cls.Method)
	ds.scores = append(ds.scores, d.cls.Score)
	ds.alsoMentioned = append(ds.alsoMentioned, string(alsoJSON))
	ds.priority = append(ds.priority, d.prio.Priority)
	ds.urgent = append(ds.urgent, d.prio.Urgent)
	ds.priorityReasons = append(ds.priorityReasons, d.prio.Reason)
	ds.receivedAt = append(ds.receivedAt, ev.ReceivedAt)
	ds.reasons = append(ds.reasons, d.reason)
	ds.kinds = append(ds.kinds, d.kind)
	ds.eventIDs = append(ds.eventIDs, out.ID())
	ds.subjects = append(ds.subjects, subject)
	ds.payloads = append(ds.payloads, string(payload))
	ds.history = append(ds.history, ev.History)
	ds.outcomes = append(ds.outcomes, outcome)
	ds.outcomeMethods = append(ds.outcomeMethods, d.loc.Method)
	return true, nil
}

// args are the arguments of storeDecisions.
func (ds *decisions) args() []any {
	return []any{ds.ids, ds.located, ds.districts, ds.districtNames, ds.subdistricts, ds.subdistrictCodes, ds.approx,
		ds.lons, ds.lats, ds.methods, ds.confidences, ds.places, ds.placeKeys, ds.disagreements, ds.categories,
		ds.subcategories, ds.classifyMethods, ds.scores, ds.alsoMentioned, ds.priority, ds.urgent, ds.priorityReasons,
		ds.receivedAt, ds.reasons, ds.kinds, ds.eventIDs, ds.subjects, ds.payloads, ds.history}
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
