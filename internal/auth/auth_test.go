package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func TestNewTokenIsRandomAndHashed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, TokenPrefix) || !wellFormed(tok) {
			t.Fatalf("token %q is not well formed", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q drawn twice", tok)
		}
		seen[tok] = true
		if string(hash) != string(HashToken(tok)) || len(hash) != 32 {
			t.Fatalf("hash of %q is not its SHA-256", tok)
		}
		if strings.Contains(string(hash), tok[len(TokenPrefix):]) {
			t.Fatal("the hash holds the token")
		}
	}
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	good, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{good, true},
		{"", false},
		{strings.TrimPrefix(good, TokenPrefix), false},
		{good[:len(good)-1], false},
		{good + "A", false},
		{TokenPrefix + strings.Repeat("!", 43), false},
		{"xyz_" + good[4:], false},
	} {
		if got := wellFormed(tc.tok); got != tc.want {
			t.Errorf("wellFormed(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, url, authz, accept, want string
	}{
		{"header", "GET", "/x", "Bearer nso_abc", "", "nso_abc"},
		{"scheme case", "POST", "/x", "bearer  nso_abc ", "", "nso_abc"},
		{"basic", "GET", "/x", "Basic dXNlcjpwYXNz", "", ""},
		{"no scheme", "GET", "/x", "nso_abc", "", ""},
		{"none", "GET", "/x", "", "", ""},
		{"query on a stream", "GET", "/api/v1/stream?heartbeat=event&access_token=nso_q", "", "text/event-stream", "nso_q"},
		{"query on the stream as json", "GET", "/api/v1/stream?access_token=nso_q", "", "application/json", ""},
		{"query on a post", "POST", "/api/v1/stream?access_token=nso_q", "", "text/event-stream", ""},
		{"query on another route", "GET", "/api/v1/assignments?access_token=nso_q", "", "text/event-stream", ""},
		{"query on a report", "GET", "/reports/weekly/2024-W11.html?access_token=nso_q", "", "text/event-stream", ""},
		{"query under the stream", "GET", "/api/v1/stream/x?access_token=nso_q", "", "text/event-stream", ""},
		{"header wins", "GET", "/api/v1/stream?access_token=nso_q", "Bearer nso_h", "text/event-stream", "nso_h"},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		if tc.authz != "" {
			r.Header.Set("Authorization", tc.authz)
		}
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := bearer(r); got != tc.want {
			t.Errorf("%s: bearer = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNormalise(t *testing.T) {
	t.Parallel()
	s := NewStore(nil, 0)
	for _, tc := range []struct {
		name    string
		in      NewOfficer
		want    NewOfficer
		invalid bool
	}{
		{"officer takes the team's district", NewOfficer{Name: " 陈警官 ", Team: "siming-eco"}, NewOfficer{Name: "陈警官", Team: "siming-eco", District: "siming", Role: RoleOfficer}, false},
		{"officer without team", NewOfficer{Name: "a", Role: RoleOfficer}, NewOfficer{}, true},
		{"unknown team", NewOfficer{Name: "a", Team: "gulangyu-eco"}, NewOfficer{}, true},
		{"team and other district", NewOfficer{Name: "a", Team: "huli-urban", District: "jimei"}, NewOfficer{}, true},
		{"supervisor by district", NewOfficer{Name: "b", Role: RoleSupervisor, District: "jimei"}, NewOfficer{Name: "b", District: "jimei", Role: RoleSupervisor}, false},
		{"supervisor by team", NewOfficer{Name: "b", Role: RoleSupervisor, Team: "tongan-police"}, NewOfficer{Name: "b", Team: "tongan-police", District: "tongan", Role: RoleSupervisor}, false},
		{"supervisor without district", NewOfficer{Name: "b", Role: RoleSupervisor}, NewOfficer{}, true},
		{"unknown district", NewOfficer{Name: "b", Role: RoleSupervisor, District: "gulangyu"}, NewOfficer{}, true},
		{"admin needs nothing", NewOfficer{Name: "c", Role: RoleAdmin}, NewOfficer{Name: "c", Role: RoleAdmin}, false},
		{"unknown role", NewOfficer{Name: "c", Role: "root"}, NewOfficer{}, true},
		{"no name", NewOfficer{Name: "  ", Team: "siming-eco"}, NewOfficer{}, true},
		{"long name", NewOfficer{Name: strings.Repeat("王", 101), Team: "siming-eco"}, NewOfficer{}, true},
	} {
		got, err := s.normalise(tc.in)
		if tc.invalid {
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("%s: err = %v, want invalid", tc.name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: normalise = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewStore(testenv.DB(t), 0)

	o, tok, err := s.Add(ctx, NewOfficer{Name: "林队长", Team: "huli-urban"})
	if err != nil {
		t.Fatal(err)
	}
	if o.District != "huli" || o.Role != RoleOfficer || !strings.HasPrefix(o.ID, "off_") {
		t.Fatalf("added %+v", o)
	}
	var stored []byte
	if err := s.pool.QueryRow(ctx, `SELECT token_hash FROM officers WHERE id = $1`, o.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) != string(HashToken(tok)) {
		t.Fatal("the stored hash is not the token's")
	}
	p, err := s.Lookup(ctx, tok)
	if err != nil || p != o.Principal {
		t.Fatalf("lookup = %+v, %v; want %+v", p, err, o.Principal)
	}
	other, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, other); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("unknown token: %v", err)
	}

	newTok, err := s.Rotate(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, tok); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("old token after rotate: %v", err)
	}
	if p, err := s.Lookup(ctx, newTok); err != nil || p.ID != o.ID {
		t.Fatalf("new token: %+v, %v", p, err)
	}

	if err := s.Disable(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Disable(ctx, o.ID); err != nil {
		t.Fatalf("disable twice: %v", err)
	}
	if _, err := s.Lookup(ctx, newTok); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("disabled token: %v", err)
	}
	if _, err := s.Rotate(ctx, o.ID); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("rotate disabled: %v", err)
	}
	if err := s.Disable(ctx, "off_nobody"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("disable unknown: %v", err)
	}
	if _, err := s.Rotate(ctx, "off_nobody"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("rotate unknown: %v", err)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != o.ID || list[0].DisabledAt == nil || list[0].RotatedAt == nil {
		t.Fatalf("list = %+v", list)
	}
}

// TestCacheExpires checks that a token disabled by another process (a
// direct update, which this Store's cache does not hear of) stops working
// once the cache entry expires, and not before.
func TestCacheExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	s := NewStore(pool, 3*time.Second)
	now := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	o, tok, err := s.Add(ctx, NewOfficer{Name: "a", Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE officers SET disabled_at = now() WHERE id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.Lookup(ctx, tok); err != nil {
		t.Fatalf("within the TTL the cached lookup holds: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.Lookup(ctx, tok); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("after the TTL a disabled token must fail: %v", err)
	}
}

func TestMiddlewareAndRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	s := NewStore(pool, time.Second)
	_, officerTok, err := s.Add(ctx, NewOfficer{Name: "o", Team: "jimei-eco"})
	if err != nil {
		t.Fatal(err)
	}
	sup, supTok, err := s.Add(ctx, NewOfficer{Name: "s", Role: RoleSupervisor, District: "jimei"})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Middleware(testenv.Log(t))(RequireRole(RoleSupervisor, RoleAdmin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			t.Error("no principal in the context")
		}
		_ = json.NewEncoder(w).Encode(p)
	})))
	for _, tc := range []struct {
		name, authz string
		want        int
	}{
		{"no token", "", 401},
		{"garbage", "Bearer nonsense", 401},
		{"officer", "Bearer " + officerTok, 403},
		{"supervisor", "Bearer " + supTok, 200},
	} {
		r := httptest.NewRequest("GET", "/api/v1/triage", nil)
		if tc.authz != "" {
			r.Header.Set("Authorization", tc.authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.want)
			continue
		}
		switch w.Code {
		case 401:
			if w.Header().Get("WWW-Authenticate") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: 401 without challenge or problem: %v", tc.name, w.Header())
			}
		case 200:
			var p Principal
			if err := json.NewDecoder(w.Body).Decode(&p); err != nil || p.ID != sup.ID || p.District != "jimei" {
				t.Errorf("%s: principal %+v, %v", tc.name, p, err)
			}
		}
	}

	role, err := s.Authorizer().Role()(func() *http.Request {
		r := httptest.NewRequest("GET", "/reports/weekly/", nil)
		r.Header.Set("Authorization", "Bearer "+supTok)
		return r
	}())
	if err != nil || role != RoleSupervisor {
		t.Fatalf("Role() = %q, %v", role, err)
	}
}

// BenchmarkLookup measures authenticating a request's token: from the
// cache, and from PostgreSQL on every request.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"database", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s := NewStore(pool, bc.ttl)
			_, tok, err := s.Add(ctx, NewOfficer{Name: "bench", Team: "haicang-eco"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Lookup(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
