// Package event defines the payloads that travel between services on NATS
// subjects. Each type has a JSON Schema in schemas/ with the same version.
package event

import (
	"strconv"
	"time"
)

// Subjects and subject prefixes of the pipeline.
const (
	SubjComplaintReceived  = "complaint.received"
	SubjComplaintLocated   = "complaint.located"   // .<district>.<category>
	SubjComplaintUnlocated = "complaint.unlocated" // triage
	SubjComplaintClustered = "complaint.clustered" // .<district>.<category>
	SubjHotspot            = "hotspot"             // .opened|updated|merged|escalated|cooled|closed
	SubjCase               = "case"                // .opened|merged|assigned.<team>|accepted|...
	SubjCallback           = "callback"            // .requested
	SubjReport             = "report"              // .weekly.generated
)

// Location is a point as the hotline sent it.
type Location struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs,omitempty"`
}

// ComplaintReceived is published by intake once a work order is stored. It
// carries no personal data: the caller stays in PostgreSQL.
type ComplaintReceived struct {
	EventID         string    `json:"event_id"`
	ComplaintID     string    `json:"complaint_id"`
	TicketID        string    `json:"ticket_id"`
	ReceivedAt      time.Time `json:"received_at"`
	Description     string    `json:"description"`
	Category        string    `json:"category,omitempty"`
	Subcategory     string    `json:"subcategory,omitempty"`
	HotlineCategory string    `json:"hotline_category,omitempty"`
	Address         string    `json:"address,omitempty"`
	Location        *Location `json:"location,omitempty"`
	Channel         string    `json:"channel,omitempty"`
	// History marks a work order loaded as history (POST
	// /v1/hotline/history): handled before this system knew of it. It is
	// located and clustered like any other, for the hotspots and the
	// reports, and the mark travels with it so that no case is opened for
	// it and the hotline is never called back about it.
	History bool `json:"history,omitempty"`
}

// ComplaintLocated is published by the geocoder for a complaint placed in a
// district and classified into a category.
type ComplaintLocated struct {
	EventID           string    `json:"event_id"`
	ComplaintID       string    `json:"complaint_id"`
	TicketID          string    `json:"ticket_id"`
	ReceivedAt        time.Time `json:"received_at"`
	District          string    `json:"district"`
	Subdistrict       string    `json:"subdistrict,omitempty"`
	SubdistrictApprox bool      `json:"subdistrict_approx,omitempty"`
	Lon               *float64  `json:"lon,omitempty"` // WGS-84
	Lat               *float64  `json:"lat,omitempty"` // WGS-84
	Method            string    `json:"method"`
	Confidence        float64   `json:"confidence"`
	Category          string    `json:"category"`
	Subcategory       string    `json:"subcategory,omitempty"`
	Priority          bool      `json:"priority"`
	Urgent            bool      `json:"urgent"`
	PlaceKey          string    `json:"place_key,omitempty"` // normalised address or named place
	Place             string    `json:"place,omitempty"`
	// Detail is a finer kind of social-life noise that decides the
	// department (classify.Result.Detail): "neighbour" or "bar_ktv".
	Detail string `json:"detail,omitempty"`
	// History is the mark of ComplaintReceived.History, carried on to
	// complaint.clustered: the router opens no case for the complaint.
	History bool `json:"history,omitempty"`
}

// ComplaintUnlocated is published for a complaint sent to triage.
type ComplaintUnlocated struct {
	EventID     string `json:"event_id"`
	ComplaintID string `json:"complaint_id"`
	TicketID    string `json:"ticket_id"`
	Reason      string `json:"reason"`
	// History is the mark of ComplaintReceived.History.
	History bool `json:"history,omitempty"`
}

// ComplaintClustered is a located complaint after hotspot detection.
type ComplaintClustered struct {
	ComplaintLocated
	HotspotID *string `json:"hotspot_id"`
}

// HotspotChanged announces a hotspot lifecycle event.
type HotspotChanged struct {
	EventID        string    `json:"event_id"`
	HotspotID      string    `json:"hotspot_id"`
	Kind           string    `json:"kind"` // opened|updated|merged|escalated|cooled|closed
	Category       string    `json:"category"`
	District       string    `json:"district"`
	Status         string    `json:"status"`
	ComplaintCount int       `json:"complaint_count"`
	MergedFrom     []string  `json:"merged_from,omitempty"`
	At             time.Time `json:"at"`
}

// CaseChanged announces a case transition; Tickets lists the work orders
// it concerns, so callbacks can answer each: every work order the case
// holds, except for a merge, which concerns only the joining work order
// (the others have heard of the case already, or hear of it when it is
// assigned), and an escalation, which concerns none (the hotline is not
// told of it). Those two events thus stay the same size however many
// complaints the case holds.
type CaseChanged struct {
	EventID  string   `json:"event_id"`
	CaseID   string   `json:"case_id"`
	Kind     string   `json:"kind"` // opened|merged|assigned|accepted|resolved|returned|reopened|escalated|extended|closed
	Status   string   `json:"status"`
	Team     string   `json:"team,omitempty"`
	Category string   `json:"category"`
	District string   `json:"district"`
	Note     string   `json:"note,omitempty"`
	Actor    string   `json:"actor"`
	Tickets  []string `json:"tickets,omitempty"`
	// PreviousTeam is the team an assignment took the case from, when
	// another team held it (a supervisor's reassignment, a return), so
	// that team's officers hear that it left them.
	PreviousTeam string `json:"previous_team,omitempty"`
	// DeadlineSooner says a merge brought a deadline of the case forward:
	// the complaint that joined it is due sooner than the case was.
	DeadlineSooner bool       `json:"deadline_sooner,omitempty"`
	DueAt          *time.Time `json:"due_at,omitempty"`
	At             time.Time  `json:"at"`
	// Part and Parts page the work orders of a transition that concerns
	// more of them than one event may carry (MaxTickets): part 1 is the
	// transition itself, with the event id <case>.<kind>.<version>; parts
	// 2..Parts repeat it with the next work orders, with the event id
	// <transition>.p<part>, and only the callbacks act on them. Zero is
	// one event of every work order.
	Part  int `json:"part,omitempty"`
	Parts int `json:"parts,omitempty"`
	// Transition is, on a part after the first, the event id of the
	// transition it continues (the id of its part 1).
	Transition string `json:"transition,omitempty"`
}

// MaxTickets is the most work orders one CaseChanged carries: 1,000 of
// the longest ticket_id (64 characters) are 67 KB, far below the 1 MiB
// NATS accepts, whatever the case's size.
const MaxTickets = 1000

// Continuation reports whether the event is a later part of a transition
// (more of its work orders), which only the callbacks act on.
func (e CaseChanged) Continuation() bool { return e.Part > 1 }

// TransitionID is the event id of the transition the event is a part of.
func (e CaseChanged) TransitionID() string {
	if e.Transition != "" {
		return e.Transition
	}
	return e.EventID
}

// Paged splits the event into parts of at most MaxTickets work orders
// each; an event within the bound is returned as it is.
func (e CaseChanged) Paged() []CaseChanged {
	if len(e.Tickets) <= MaxTickets {
		return []CaseChanged{e}
	}
	parts := (len(e.Tickets) + MaxTickets - 1) / MaxTickets
	out := make([]CaseChanged, 0, parts)
	for i := range parts {
		p := e
		p.Tickets = e.Tickets[i*MaxTickets : min((i+1)*MaxTickets, len(e.Tickets))]
		p.Part, p.Parts = i+1, parts
		if i > 0 {
			p.EventID = e.EventID + ".p" + strconv.Itoa(i+1)
			p.Transition = e.EventID
		}
		out = append(out, p)
	}
	return out
}

// ReportGenerated announces a stored weekly report.
type ReportGenerated struct {
	EventID string    `json:"event_id"`
	Week    string    `json:"week"`
	Total   int       `json:"total"`
	At      time.Time `json:"at"`
}

// ID returns the event id consumers record for idempotency.
func (e ComplaintReceived) ID() string { return e.EventID }

// ID returns the event id consumers record for idempotency.
func (e ComplaintLocated) ID() string { return e.EventID }

// ID returns the event id consumers record for idempotency.
func (e ComplaintUnlocated) ID() string { return e.EventID }

// ID returns the event id consumers record for idempotency.
func (e HotspotChanged) ID() string { return e.EventID }

// ID returns the event id consumers record for idempotency.
func (e CaseChanged) ID() string { return e.EventID }

// ID returns the event id consumers record for idempotency.
func (e ReportGenerated) ID() string { return e.EventID }

// EarliestReceived is the earliest received_at of a work order: no work
// order is older than the hotline's records. The intake refuses one
// before it, and no week before it holds a complaint, nor a report.
var EarliestReceived = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
