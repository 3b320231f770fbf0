// Package auth decides who sends a request to the officers' API, the
// hotspots API and the reports: officers, supervisors and admins carry a
// bearer token that the operator created with `nuisance officers add`.
// Only the token's SHA-256 hash is stored, so a leaked database does not
// leak working tokens, and an operator can disable or rotate a token at
// any time.
package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// Roles a token holder acts in. They match the officers.role column and
// the roles of internal/caseflow.
const (
	// RoleOfficer works the cases its team holds.
	RoleOfficer = "officer"
	// RoleSupervisor oversees a district: sees its cases, reassigns them,
	// corrects the triage list.
	RoleSupervisor = "supervisor"
	// RoleAdmin sees everything.
	RoleAdmin = "admin"
)

// Roles lists the valid roles, least powerful first.
var Roles = []string{RoleOfficer, RoleSupervisor, RoleAdmin}

// Principal is the holder of a valid token: who acts, for which team and
// district. It carries no token and no hash, so it can be logged by id.
type Principal struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Team     string `json:"team,omitempty"`
	District string `json:"district,omitempty"`
	Role     string `json:"role"`
}

// Actor is the principal's name in audit logs and events: "officer:<id>",
// whatever its role, never its name.
func (p Principal) Actor() string { return "officer:" + p.ID }

type principalKey struct{}

// WithPrincipal returns ctx carrying p, as the middleware does; handlers
// read it back with FromContext.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the middleware authenticated for the
// request, so handlers never parse tokens themselves.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authorizer tells who sent a request. It fails with fault.Unauthorized for
// a missing, malformed, unknown or disabled token, so services that take
// one (the reporter, the hotspots API) never see tokens or hashes.
type Authorizer func(r *http.Request) (Principal, error)

// Role adapts the Authorizer to services that only need the role of the
// token's holder, such as the reporter.
func (a Authorizer) Role() func(r *http.Request) (string, error) {
	return func(r *http.Request) (string, error) {
		p, err := a(r)
		if err != nil {
			return "", err
		}
		return p.Role, nil
	}
}

// Middleware authenticates every request with the officers table of pool,
// caching lookups for DefaultCacheTTL. Requests without a valid token get a
// 401 problem; the others reach next with their Principal in the context.
func Middleware(pool *pgxpool.Pool, log *zap.Logger) func(http.Handler) http.Handler {
	return NewStore(pool, DefaultCacheTTL).Middleware(log)
}

// Middleware is the Store's authentication in front of next.
func (s *Store) Middleware(log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.Authorize(r)
			if err != nil {
				Deny(w, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// Deny answers a failed authentication or authorisation as a problem, with
// the WWW-Authenticate challenge RFC 6750 asks of a 401, or as 429 with
// Retry-After when the client's address failed too often.
func Deny(w http.ResponseWriter, log *zap.Logger, err error) {
	if denyLimited(w, err) {
		return
	}
	if fault.KindOf(err) == fault.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nuisance"`)
	}
	httpx.WriteError(w, log, err)
}

// RequireRole lets through only principals of one of roles: 401 when the
// request was not authenticated, 403 for another role.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := Check(r.Context(), roles...); err != nil {
				Deny(w, zap.NewNop(), err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Check reports whether the principal in ctx holds one of roles:
// fault.Unauthorized without a principal, fault.Forbidden for another role.
func Check(ctx context.Context, roles ...string) error {
	p, ok := FromContext(ctx)
	if !ok {
		return fault.Errorf(fault.Unauthorized, "no bearer token")
	}
	if !slices.Contains(roles, p.Role) {
		return fault.Errorf(fault.Forbidden, "this needs the role %s", strings.Join(roles, " or "))
	}
	return nil
}

// StreamPath is the officers' live event stream, the one route whose
// token may come as the access_token query parameter.
const StreamPath = "/api/v1/stream"

// bearer extracts the token of a request: the Authorization header, or,
// for a GET of the event stream at StreamPath only, the access_token
// query parameter, because a browser's EventSource cannot set headers.
// No other route takes it, so a token is never put in (and leaked from:
// logs, history, Referer) the address of a report or a case.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(tok)
	}
	if r.Method == http.MethodGet && r.URL.Path == StreamPath && strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return r.URL.Query().Get("access_token")
	}
	return ""
}
