package officers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// The officers' and supervisors' console shows a problem's title and
// detail as they are, to people who read Chinese: every refusal of this
// API is worded in Chinese, a team and a district by their names, a time
// in Xiamen time (caseflow.When) and a status as the console names it
// (caseflow.StatusNames). The problem's type and status, and the fields
// it names, stay the machine's contract. No refusal carries a caller's
// name or number, nor what a database or NATS said (that goes to the
// log).

// titles are the problems' titles by HTTP status.
var titles = map[int]string{
	http.StatusBadRequest:          "请求有误",
	http.StatusUnauthorized:        "未登录或登录已失效",
	http.StatusForbidden:           "无权进行此操作",
	http.StatusNotFound:            "未找到",
	http.StatusConflict:            "与当前状态冲突",
	http.StatusTooManyRequests:     "请求过于频繁",
	http.StatusInternalServerError: "服务器内部错误",
	http.StatusServiceUnavailable:  "服务暂不可用",
}

// writeProblem writes a problem of type kind (a slug of
// https://nuisance.xm.gov/problems/; "": about:blank) with its Chinese
// title.
func writeProblem(w http.ResponseWriter, kind string, status int, detail string, fields ...httpx.FieldError) {
	typ := ""
	if kind != "" {
		typ = "https://nuisance.xm.gov/problems/" + kind
	}
	httpx.WriteProblem(w, httpx.Problem{Type: typ, Title: titles[status], Status: status, Detail: detail, Errors: fields})
}

// fieldNames are the request's fields as the console's forms call them.
var fieldNames = map[string]string{
	"/":             "请求内容",
	"/outcome":      "处置结果",
	"/note":         "处置说明",
	"/reason":       "理由",
	"/team":         "承办单位",
	"/resolve_due":  "办结时限",
	"/complaint_id": "投诉",
	"/district":     "区",
	"/subdistrict":  "街道",
	"/lon":          "经度",
	"/lat":          "纬度",
	"/category":     "类别",
	"/subcategory":  "小类",
	"limit":         "每页条数 (limit)",
	"cursor":        "翻页位置 (cursor)",
	"status":        "状态 (status)",
	"kind":          "分拣类型 (kind)",
	"history":       "历史工单 (history)",
	"heartbeat":     "心跳 (heartbeat)",
	"Last-Event-ID": "推送位置 (Last-Event-ID)",
	"last_event_id": "推送位置 (last_event_id)",
}

// fieldName is a field as the reader knows it, or the field itself.
func fieldName(field string) string {
	if n, ok := fieldNames[field]; ok {
		return n
	}
	return strings.TrimPrefix(field, "/")
}

// shownError is an error whose reader is told detail, and the log the
// cause: a dependency that did not answer, say, in words the reader can
// act on, without what the dependency said.
type shownError struct {
	detail string
	cause  error
}

func (e *shownError) Error() string {
	if e.cause == nil {
		return e.detail
	}
	return e.detail + ": " + e.cause.Error()
}

func (e *shownError) Unwrap() error { return e.cause }

// unavailable is fault.Unavailable telling the reader detail, the log
// cause (nil: none).
func unavailable(detail string, cause error) error {
	return fault.Wrap(fault.Unavailable, &shownError{detail: detail, cause: cause})
}

// authFailures word internal/auth's refusals of a token.
var authFailures = map[string]string{
	"no bearer token":                  "未提供登录令牌：请先登录",
	"malformed bearer token":           "登录令牌格式不对：请重新登录",
	"unknown or disabled bearer token": "登录令牌无效或已停用：请重新登录，或请管理员发放新令牌",
}

// deny answers a request whose token internal/auth refused (err, of kind
// fault.Unauthorized): 401 with the challenge of auth.Deny, or 429 with
// its Retry-After when the client's address failed too often, worded in
// Chinese.
func (s *Service) deny(w http.ResponseWriter, err error) {
	rec := &headerOnly{header: w.Header()}
	auth.Deny(rec, s.log, err)
	if rec.status == http.StatusTooManyRequests {
		writeProblem(w, "rate_limited", rec.status, fmt.Sprintf("此网络地址的无效登录过多，请 %s 秒后再试", w.Header().Get("Retry-After")))
		return
	}
	detail, ok := authFailures[err.Error()]
	if !ok {
		detail = "未登录或登录已失效：请重新登录"
	}
	writeProblem(w, "unauthorized", http.StatusUnauthorized, detail)
}

// headerOnly is a ResponseWriter that keeps the headers set and the
// status written, and drops the body: deny takes auth.Deny's decision,
// and words it itself.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(status int)      { h.status = status }

// roleNames are the roles as the console's people call them.
var roleNames = map[string]string{
	auth.RoleOfficer:    "执法人员",
	auth.RoleSupervisor: "区级主管",
	auth.RoleAdmin:      "管理员",
}

// checkRole refuses p unless it holds one of roles.
func checkRole(p auth.Principal, roles []string) error {
	if slices.Contains(roles, p.Role) {
		return nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = roleNames[r]
	}
	return fault.Errorf(fault.Forbidden, "此操作仅限%s", strings.Join(names, "或"))
}

// limited answers 429 with Retry-After when limiter holds p back, counted
// in refused and logged at Debug as logged, and reports whether it did;
// what is the reader's word for what p did too often.
func (s *Service) limited(w http.ResponseWriter, limiter *auth.RateLimiter, p auth.Principal, refused interface{ Inc() }, what, logged string) bool {
	ok, wait := limiter.Allow(p)
	if ok {
		return false
	}
	refused.Inc()
	secs := strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
	w.Header().Set("Retry-After", secs)
	writeProblem(w, "rate_limited", http.StatusTooManyRequests, what+"过于频繁，请 "+secs+" 秒后再试")
	s.log.Debug(logged, zap.String("officer", p.ID), zap.String("retry_after", secs))
	return true
}

// writeError writes err as a problem, naming the offending field of a
// fieldError. A request its client gave up on is no failure of the
// server: it is counted and logged at Info, not as an error. A failure
// of the server (internal, or a dependency unavailable) is logged, and
// its reader told what to do, not what failed.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if abandoned(r, err) {
		abandonedTotal.WithLabelValues(r.Pattern).Inc()
		s.log.Info("request abandoned by its client", zap.String("route", r.Pattern), logging.Error(err))
		writeProblem(w, "", http.StatusServiceUnavailable, "请求已中断：客户端已不再等待")
		return
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		writeProblem(w, "invalid", http.StatusBadRequest, fe.Error(), httpx.FieldError{Field: fe.field, Detail: fe.detail})
		return
	}
	k := fault.KindOf(err)
	if k == fault.Unauthorized {
		s.deny(w, err)
		return
	}
	st := fault.HTTPStatus(k)
	detail := err.Error()
	if st >= 500 {
		s.log.Error("request failed", zap.String("route", r.Pattern), logging.Error(err))
		detail = "服务器内部错误，请稍后再试"
		if k == fault.Unavailable {
			detail = "服务暂不可用，请稍后再试"
		}
	}
	var se *shownError
	if errors.As(err, &se) {
		detail = se.detail
	}
	writeProblem(w, k.String(), st, detail)
}
