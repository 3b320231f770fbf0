package intake

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// Status is the work order as the pipeline knows it; fields a later stage
// fills are null until then.
type Status struct {
	TicketID     string     `json:"ticket_id"`
	ComplaintID  string     `json:"complaint_id"`
	Status       string     `json:"status"`
	Category     *string    `json:"category"`
	Subcategory  *string    `json:"subcategory"`
	District     *string    `json:"district"`
	DistrictName *string    `json:"district_name"`
	Priority     *bool      `json:"priority"`
	HotspotID    *string    `json:"hotspot_id"`
	CaseID       *string    `json:"case_id"`
	Team         *string    `json:"team"`
	DueAt        *time.Time `json:"due_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// History says the work order was stored as history (POST
	// /v1/hotline/history): closed from the start, no case ever holds
	// it and the hotline is never called back about it. A closed work
	// order that is not history was handled and closed out by a team.
	History bool `json:"history"`
}

func (s *Service) handleLookup(w http.ResponseWriter, r *http.Request) {
	if !s.limiter(clientOf(r)).Allow() {
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this client; retry after a second")
		return
	}
	if err := s.verify(nil, r.Header); err != nil {
		problem(w, http.StatusUnauthorized, "signature", signatureDetail(err))
		return
	}
	ticket, ok := ticketOf(r)
	if !ok {
		problem(w, http.StatusNotFound, "not_found", "no ticket_id in the path: GET "+hotline.ComplaintsPath+"/{ticket_id}")
		return
	}
	var st Status
	err := s.pool.QueryRow(r.Context(), `SELECT l.ticket_id, l.complaint_id, l.status, l.category, l.subcategory, l.district,
		l.district_name, l.priority, l.hotspot_id, l.case_id, l.team, l.due_at, l.updated_at, c.history
		FROM complaint_lookup l JOIN complaints c ON c.id = l.complaint_id WHERE l.ticket_id = $1`, ticket).Scan(&st.TicketID, &st.ComplaintID, &st.Status,
		&st.Category, &st.Subcategory, &st.District, &st.DistrictName, &st.Priority, &st.HotspotID, &st.CaseID,
		&st.Team, &st.DueAt, &st.UpdatedAt, &st.History)
	if errors.Is(err, pgx.ErrNoRows) {
		problem(w, http.StatusNotFound, "not_found", "no work order with this ticket_id")
		return
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Error("lookup", logging.Error(err))
			problem(w, http.StatusServiceUnavailable, "unavailable", "the work order could not be read; retry")
		}
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// ticketOf is the ticket_id of a look-up: the rest of the path as sent,
// each escape (%2F) undone, read from the raw path and not the cleaned
// one: a ticket may hold //, /./ or /../ (XM/../0004), which cleaning
// would make another ticket's.
func ticketOf(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), hotline.ComplaintsPath+"/")
	if !ok {
		rest = r.PathValue("ticket_id")
	} else if t, err := url.PathUnescape(rest); err == nil {
		rest = t
	} else {
		return "", false
	}
	return rest, rest != ""
}

// handleComplaintsOther answers a method other than POST on the
// collection of work orders.
func handleComplaintsOther(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	problem(w, http.StatusMethodNotAllowed, "method_not_allowed",
		r.Method+" is not allowed here: "+hotline.ComplaintsPath+" takes POST (a work order); a work order is looked up with GET "+hotline.ComplaintsPath+"/{ticket_id}")
}
