package intake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/services/intake/workorder"
)

// MaxBody is the largest work order accepted.
const MaxBody = 64 << 10

// Complaint is the hotline payload.
type Complaint = workorder.Complaint

// Answer is the intake's reply body.
type Answer struct {
	ComplaintID string `json:"complaint_id"`
	TicketID    string `json:"ticket_id"`
	Status      string `json:"status"` // accepted | duplicate
	// Differs says fields of a duplicate are not those of the work order
	// stored under its ticket, which stays the record: a change sent
	// again under the same ticket is not applied, and the hotline is told
	// so rather than left to think it was. Detail names the fields by
	// their JSON pointers (never the caller's values), and says when the
	// stored caller was erased and can no longer be compared.
	Differs bool   `json:"differs,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// History says the work order under this ticket is stored as history
	// (POST /v1/hotline/history): closed, never in a case, never called
	// back. It is the stored one's mark, whichever endpoint this one was
	// sent to, so that the hotline's system can tell a ticket it will
	// hear no more of without reading Detail's prose; false on every
	// answer about a work order handled as the hotline's.
	History bool `json:"history"`
}

// duplicateDetail is the Detail of a duplicate whose fields (JSON
// pointers) differ from the stored work order's, or whose stored caller
// was erased (callerErased); "" for one that is the same.
func duplicateDetail(fields []string, callerErased bool) string {
	var b strings.Builder
	if len(fields) > 0 {
		b.WriteString("a work order with this ticket_id was stored before, with other contents (")
		b.WriteString(strings.Join(fields, ", "))
		b.WriteString("); it stays as first stored, and the contents of this one are not applied")
	}
	if callerErased {
		if b.Len() == 0 {
			b.WriteString("a work order with this ticket_id was stored before, and it stays as first stored; this one is not applied")
		}
		b.WriteString(". The stored work order's caller was erased when its retention period ended, and the phone numbers and caller's name in its words and address masked: its caller can no longer be compared with this one's")
	}
	return b.String()
}

func problem(w http.ResponseWriter, status int, kind, detail string, fields ...httpx.FieldError) {
	requests.WithLabelValues(strconv.Itoa(status)).Inc()
	httpx.WriteProblem(w, httpx.Problem{
		Type:   "https://nuisance.xm.gov/problems/" + kind,
		Status: status,
		Detail: detail,
		Errors: fields,
	})
}

// clientOf is the client the rate limit counts a request against,
// before its signature is checked (httpx.ClientKey): the peer, or behind
// a trusted proxy the one it forwarded for, so that a flood through the
// proxy in front of the hotline does not spend the hotline's budget; an
// IPv6 one by its /64, so that one host cannot draw a budget per address.
func clientOf(r *http.Request) string { return httpx.ClientKey(r) }

// verify checks the Standard Webhooks signature of body against every
// configured secret; the library compares in constant time and enforces
// the 5-minute timestamp tolerance. Signatures sent as several
// webhook-signature lines (a list, as RFC 9110 lets a client or a proxy
// send one) are one space-separated list, as if sent on one line: the
// library reads the first line only.
func (s *Service) verify(body []byte, h http.Header) error {
	if sigs := h.Values("webhook-signature"); len(sigs) > 1 {
		h = h.Clone()
		h.Set("webhook-signature", strings.Join(sigs, " "))
	}
	var err error
	for _, wh := range s.hooks {
		if err = wh.Verify(body, h); err == nil {
			return nil
		}
	}
	return err
}

func signatureDetail(err error) string {
	switch {
	case errors.Is(err, standardwebhooks.ErrRequiredHeaders):
		return "missing webhook-id, webhook-timestamp or webhook-signature header"
	case errors.Is(err, standardwebhooks.ErrInvalidHeaders):
		return "webhook-timestamp is not a Unix time in seconds"
	case errors.Is(err, standardwebhooks.ErrMessageTooOld), errors.Is(err, standardwebhooks.ErrMessageTooNew):
		return "webhook-timestamp is more than 5 minutes from now"
	}
	return "no webhook-signature matches the body"
}

// jsonContent tells whether a Content-Type names a JSON body.
func jsonContent(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/webhook+json")
}

// identityEncoded tells whether a body was sent with no content coding
// (none named, or identity): the intake decodes none, and a compressed
// body read as JSON would be refused as not UTF-8.
func identityEncoded(h http.Header) bool {
	for _, line := range h.Values("Content-Encoding") {
		for coding := range strings.SplitSeq(line, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return false
			}
		}
	}
	return true
}

// readBody reads the body up to MaxBody, into one buffer of the announced
// length when there is one.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, MaxBody)
	n := 512
	if r.ContentLength > 0 && r.ContentLength <= MaxBody {
		n = int(r.ContentLength) + 1 // room to read the end without growing
	}
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// handlePost takes a work order of the hotline's, to be handled.
func (s *Service) handlePost(w http.ResponseWriter, r *http.Request) { s.receive(w, r, false) }

// handleHistory takes a work order the hotline handled before this system
// knew of it (a backfill): the same body, signature and answers, and one
// ticket is stored once whichever way it came. Stored marked as history,
// it is located and clustered, for the hotspots and the reports, and put
// in no case: nothing is assigned or escalated, and the hotline is never
// called back about it. A delivery is a retry on the endpoint it was
// first made to only: the signature does not cover the path, and the
// hotline's delivery sent again here (or the reverse) is refused, 409
// other_endpoint, not answered as the first.
func (s *Service) handleHistory(w http.ResponseWriter, r *http.Request) { s.receive(w, r, true) }

// receive verifies, validates and stores a work order, as history or not.
func (s *Service) receive(w http.ResponseWriter, r *http.Request, history bool) {
	if !s.limiter(clientOf(r)).Allow() {
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this client; retry after a second")
		return
	}
	if !jsonContent(r.Header.Get("Content-Type")) {
		problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		return
	}
	if !identityEncoded(r.Header) {
		// RFC 7694: the 415 names the codings the intake takes.
		w.Header().Set("Accept-Encoding", "identity")
		problem(w, http.StatusUnsupportedMediaType, "unsupported_encoding", "Content-Encoding is not supported: send the body as it is (identity), not compressed")
		return
	}
	if r.ContentLength > MaxBody {
		problem(w, http.StatusRequestEntityTooLarge, "too_large", "body over 64 KiB")
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, "too_large", "body over 64 KiB")
			return
		}
		problem(w, http.StatusBadRequest, "invalid", "body could not be read")
		return
	}
	if err := s.verify(body, r.Header); err != nil {
		problem(w, http.StatusUnauthorized, "signature", signatureDetail(err))
		return
	}
	webhookID := r.Header.Get("webhook-id")
	if len(webhookID) > 128 {
		problem(w, http.StatusBadRequest, "invalid", "webhook-id longer than 128 characters")
		return
	}
	c, fields, err := s.parser.Parse(body)
	if errors.As(err, new(workorder.ErrNotUTF8)) {
		problem(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid", "body is not a JSON document: "+err.Error())
		return
	}
	if len(fields) > 0 {
		fe := make([]httpx.FieldError, len(fields))
		for i, f := range fields {
			fe[i] = httpx.FieldError{Field: f.Field, Detail: f.Detail}
		}
		problem(w, http.StatusBadRequest, "invalid", "the work order does not match hotline.complaint.v1", fe...)
		return
	}
	res := s.submit(r.Context(), c, webhookID, history)
	ans, status, err := res.ans, res.status, res.err
	var reused WebhookReusedError
	if errors.As(err, &reused) {
		problem(w, http.StatusConflict, "webhook_reused", reused.Error())
		return
	}
	var other OtherEndpointError
	if errors.As(err, &other) {
		s.deliveredElsewhere(r, other.reason(), other.Ticket, webhookID)
		problem(w, http.StatusConflict, "other_endpoint", other.Error())
		return
	}
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		problem(w, http.StatusServiceUnavailable, "unavailable", "the complaint could not be stored; retry with the same webhook-id")
		return
	}
	if res.otherEndpoint != "" {
		s.deliveredElsewhere(r, res.otherEndpoint, ans.TicketID, webhookID)
	}
	requests.WithLabelValues(strconv.Itoa(status)).Inc()
	httpx.WriteJSON(w, status, ans)
}

// deliveredElsewhere counts a work order sent to the endpoint its ticket
// was not stored by, and warns of it, by its ticket and delivery (never
// its caller), at most once every 30 seconds a reason: the hotline's
// delivery replayed as history (or the reverse), which is how a work
// order would be kept from being handled, or a ticket sent both ways.
func (s *Service) deliveredElsewhere(r *http.Request, reason, ticket, webhookID string) {
	otherEndpoint.WithLabelValues(reason).Inc()
	s.endpointLog.Fail(zapcore.WarnLevel, reason, "work order sent to the endpoint its ticket was not stored by: nothing changed",
		zap.String("reason", reason), zap.String("endpoint", r.URL.Path),
		zap.String("ticket_id", ticket), zap.String("webhook_id", webhookID))
}

// submission is one work order waiting for a group commit.
type submission struct {
	c         Complaint
	id        string
	webhookID string
	history   bool
	payload   []byte // complaint.received, without personal data
	done      chan result
}

type result struct {
	ans    Answer
	status int
	err    error
	// otherEndpoint is the reason a duplicate is counted under
	// (otherEndpointDetail) when its ticket was stored by the other
	// endpoint; "" when by the same.
	otherEndpoint string
}

func (s *Service) submit(ctx context.Context, c Complaint, webhookID string, history bool) result {
	sub, err := s.prepare(c, webhookID, history)
	if err != nil {
		return result{err: err}
	}
	select {
	case s.subs <- sub:
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
	// The commit goes on even if the client hangs up: the answer is then
	// given to its retry.
	return <-sub.done
}

// prepare gives the work order its complaint id and its complaint.received
// event, ready for a group commit.
func (s *Service) prepare(c Complaint, webhookID string, history bool) (*submission, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	cid := id.String()
	// The complaint is stored verbatim; the event, which JetStream keeps
	// and every consumer (and a dead letter) sees, carries the citizen's
	// words with any phone number and the caller's name in them masked,
	// as the officers' API shows them.
	var caller string
	if c.Caller != nil {
		caller = c.Caller.Name
	}
	ev := event.ComplaintReceived{
		EventID:         cid + ".received",
		ComplaintID:     cid,
		TicketID:        c.TicketID,
		ReceivedAt:      c.ReceivedAt,
		Description:     pii.MaskText(pii.MaskNames(c.Description, caller)),
		Category:        c.Category,
		Subcategory:     c.Subcategory,
		HotlineCategory: c.HotlineCategory,
		Address:         pii.MaskText(pii.MaskNames(c.Address, caller)),
		Location:        c.Location,
		Channel:         c.Channel,
		History:         history,
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return &submission{c: c, id: cid, webhookID: webhookID, history: history, payload: payload, done: make(chan result, 1)}, nil
}
