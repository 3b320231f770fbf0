package officers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// maxBody caps a request body; the largest legitimate one is a note.
const maxBody = 64 << 10

var (
	anyRole     = []string{auth.RoleOfficer, auth.RoleSupervisor, auth.RoleAdmin}
	supervisors = []string{auth.RoleSupervisor, auth.RoleAdmin}
)

// Routes mounts the officers' API under /api/v1. Every route needs a
// bearer token; the roles each allows are checked before the case is
// looked up, so a role that may not act learns nothing of the case.
func (s *Service) Routes(mux httpx.Mux) {
	mux.Handle("GET /api/v1/me", s.route(anyRole, s.handleMe))
	mux.Handle("GET /api/v1/assignments", s.route(anyRole, s.handleAssignments))
	mux.Handle("GET /api/v1/cases/{id}", s.route(anyRole, s.handleCase))
	mux.Handle("POST /api/v1/cases/{id}/callback-reveal", s.route(anyRole, s.handleReveal))
	mux.Handle("POST /api/v1/cases/{id}/accept", s.route(anyRole, s.handleAccept))
	mux.Handle("POST /api/v1/cases/{id}/resolve", s.route(anyRole, s.handleResolve))
	mux.Handle("POST /api/v1/cases/{id}/return", s.route(anyRole, s.handleReturn))
	mux.Handle("POST /api/v1/cases/{id}/reassign", s.route(supervisors, s.handleReassign))
	mux.Handle("POST /api/v1/cases/{id}/extend", s.route(supervisors, s.handleExtend))
	mux.Handle("GET "+auth.StreamPath, s.routeStream(anyRole, s.handleStream))
	mux.Handle("GET /api/v1/triage", s.route(supervisors, s.handleTriage))
	mux.Handle("POST /api/v1/triage/{complaint_id}/correct", s.route(supervisors, s.handleCorrect))
}

// handler is a route's body: it answers the request itself or returns an
// error that route writes as a problem.
type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route authenticates the request, holds its token to its rate (before
// the role is checked: a refused request costs too), checks the role and
// runs h.
func (s *Service) route(roles []string, h handler) http.Handler {
	return s.serve(roles, h, s.limit)
}

// routeStream is route for the event stream: a stream is one long
// request, capped per token by MaxStreamsPerToken, and is not held to
// the requests' rate, which an EventSource reconnecting by itself after
// a refusal would only spend again. What a token is held to is how often
// it opens streams (StreamOpenBurst, one more every StreamOpenEvery):
// each open is a JetStream consumer, and one resuming from an early
// Last-Event-ID reads the case stream through again.
func (s *Service) routeStream(roles []string, h handler) http.Handler {
	return s.serve(roles, h, s.limitStreamOpens)
}

// serve authenticates the request, lets limit refuse it (it answers 429
// itself and reports whether it did), checks the role and runs h.
func (s *Service) serve(roles []string, h handler, limit func(http.ResponseWriter, auth.Principal) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.tokens.Authorize(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if limit(w, p) {
			return
		}
		if err := checkRole(p, roles); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		if err := h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

var abandonedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_officers_requests_abandoned_total",
	Help: "Requests to the officers' API whose client went away before the answer (a phone giving up, a network lost), by route.",
}, []string{"route"})

// abandoned reports whether err only says that r's client went away: the
// console gives up on a request after 15 s, a phone loses its network.
// The request's context ended, and the database calls with it; an action
// then rolled back whole (or had committed whole).
func abandoned(r *http.Request, err error) bool {
	end := r.Context().Err()
	return end != nil && errors.Is(err, end)
}

// failed is the outcome of an action that failed with err, as counted:
// abandoned when its client went away, rejected otherwise.
func failed(r *http.Request, err error) string {
	if abandoned(r, err) {
		return "abandoned"
	}
	return "rejected"
}

// fieldError is invalid input in one named field (a JSON pointer, or the
// name of a query parameter).
type fieldError struct {
	field, detail string
}

func (e *fieldError) Error() string { return fieldName(e.field) + "：" + e.detail }

func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, detail: fmt.Sprintf(format, args...)}
}

// decode reads a JSON object body into v. An empty body is an empty
// object, so actions without parameters need no body.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return invalid("/", "超过 %d 字节", maxBody)
		}
		return fault.Wrap(fault.Invalid, &shownError{detail: "请求内容未能读完，请重试", cause: err})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return invalid("/"+strings.ReplaceAll(te.Field, ".", "/"), "类型不对，应为 %s", jsonType(te.Type.Kind().String()))
		case errors.As(err, &se):
			return invalid("/", "不是有效的 JSON（第 %d 字节）", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return invalid("/"+name, "未知字段")
		}
		return invalid("/", "不是有效的 JSON 对象")
	}
	if dec.More() {
		return invalid("/", "含有多个 JSON 值")
	}
	return nil
}

// jsonType names a Go kind as JSON calls it, for a refusal of a value of
// another type.
func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "字符串"
	case kind == "bool":
		return "true 或 false"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "数字"
	case kind == "slice", kind == "array":
		return "数组"
	}
	return "对象"
}

// actor is the principal as caseflow sees it.
func actor(p auth.Principal) caseflow.Actor {
	return caseflow.Actor{ID: p.Actor(), Team: p.Team, District: p.District, Role: p.Role}
}

// page reads limit from the query.
func (s *Service) page(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return s.cfg.PageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > s.cfg.MaxPage {
		return 0, invalid("limit", "应为 1 到 %d", s.cfg.MaxPage)
	}
	return n, nil
}

// cursor is the position after the last item of a page: the sort key of
// that item, a time and an id.
type cursor struct {
	At time.Time
	ID string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "|" + c.ID))
}

// parseCursor reads the cursor query parameter; the zero cursor starts at
// the first page.
func parseCursor(r *http.Request) (*cursor, error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, invalid("cursor", "无效，请从第一页重新加载")
	}
	us, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, invalid("cursor", "无效，请从第一页重新加载")
	}
	return &cursor{At: time.UnixMicro(n).UTC(), ID: id}, nil
}

// listCursor is the position after the last item of a page of cases:
// for a list by what needs action (listActive), the time the first page
// was read (AsOf, which every page ranks by), the item's rank and
// deadline, then as for an ended list its opening time and id.
type listCursor struct {
	byAction bool
	AsOf     time.Time
	Rank     int
	Due      time.Time
	At       time.Time
	ID       string
}

func (c listCursor) String() string {
	if !c.byAction {
		return cursor{At: c.At, ID: c.ID}.String()
	}
	us := func(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }
	return base64.RawURLEncoding.EncodeToString([]byte("a|" + us(c.AsOf) + "|" + strconv.Itoa(c.Rank) + "|" + us(c.Due) + "|" + us(c.At) + "|" + c.ID))
}

// parseListCursor reads the cursor of a list of cases, by action or not;
// a cursor of the other order (the status filter changed between pages)
// is refused.
func parseListCursor(r *http.Request, byAction bool) (*listCursor, error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		return nil, nil
	}
	bad := invalid("cursor", "无效，请从第一页重新加载")
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	rest, action := strings.CutPrefix(string(b), "a|")
	if action != byAction {
		return nil, bad
	}
	if !byAction {
		c, err := parseCursor(r)
		if err != nil {
			return nil, err
		}
		return &listCursor{At: c.At, ID: c.ID}, nil
	}
	parts := strings.SplitN(rest, "|", 5)
	if len(parts) != 5 || parts[4] == "" {
		return nil, bad
	}
	var n [4]int64
	for i := range 4 {
		if n[i], err = strconv.ParseInt(parts[i], 10, 64); err != nil {
			return nil, bad
		}
	}
	return &listCursor{byAction: true, AsOf: time.UnixMicro(n[0]).UTC(), Rank: int(n[1]), Due: time.UnixMicro(n[2]).UTC(),
		At: time.UnixMicro(n[3]).UTC(), ID: parts[4]}, nil
}

// oneOf checks a comma-separated query parameter against allowed values,
// which a refusal lists by their names (待签收（assigned）).
func oneOf(r *http.Request, name string, allowed []string, names map[string]string) ([]string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return []string{}, nil
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		if !slices.Contains(allowed, x) {
			choices := make([]string, len(allowed))
			for i, a := range allowed {
				choices[i] = names[a] + "（" + a + "）"
			}
			return nil, invalid(name, "%q 无效：应为%s", x, strings.Join(choices, "、"))
		}
		out = append(out, x)
	}
	return out, nil
}

// handleMe tells the console who the token belongs to, with the team's
// name, so a sign-in can be checked before any case is shown.
func (s *Service) handleMe(w http.ResponseWriter, _ *http.Request, p auth.Principal) error {
	out := struct {
		auth.Principal
		TeamName     string `json:"team_name,omitempty"`
		DistrictName string `json:"district_name,omitempty"`
	}{Principal: p, TeamName: s.teamName(p.Team), DistrictName: s.districtName(p.District)}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) teamName(id string) string {
	if id == "" {
		return ""
	}
	t, ok, err := s.tokens.Team(id)
	if err != nil || !ok {
		return ""
	}
	return t.Name
}

func (s *Service) districtName(slug string) string {
	if d, ok := s.districts.BySlug(slug); ok {
		return d.Name
	}
	return ""
}
