package auth

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const failuresMetric = "nuisance_auth_rate_limited_total"

// lookups counts the queries of the officers table a pool sends to
// PostgreSQL: token look-ups, readings of the valid tokens.
type lookups struct{ n atomic.Int64 }

func (l *lookups) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "FROM officers") {
		l.n.Add(1)
	}
	return ctx
}

func (l *lookups) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countingPool is a second pool on the database of pool whose token
// look-ups are counted.
func countingPool(t *testing.T, pool *pgxpool.Pool) (*pgxpool.Pool, *lookups) {
	t.Helper()
	cfg := pool.Config()
	l := &lookups{}
	cfg.ConnConfig.Tracer = l
	cp, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	return cp, l
}

// clientFrom is an HTTP client whose connections come from ip, another
// address of the loopback network.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// limitEnv is a Store behind a real HTTP server whose handler answers the
// principal's id, on a database whose officers queries are counted, with
// a clock the test moves.
type limitEnv struct {
	t      *testing.T
	pool   *pgxpool.Pool
	looked *lookups
	cli    *Store // the operator's `officers add`, another process
	mu     sync.Mutex
	now    time.Time
}

func newLimitEnv(t *testing.T) *limitEnv {
	pool, looked := countingPool(t, testenv.DB(t))
	return &limitEnv{t: t, pool: pool, looked: looked, cli: NewStore(pool, 0), now: time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)}
}

func (e *limitEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// start starts a process: a Store with the cache of production, served,
// behind the trusted proxies given (NUISANCE_TRUSTED_PROXIES) as every
// process serves its routes.
func (e *limitEnv) start(trusted ...netip.Prefix) (*Store, *httptest.Server) {
	s := NewStore(e.pool, DefaultCacheTTL)
	s.now = func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	srv := httptest.NewServer(httpx.TrustProxies(trusted, s.Middleware(testenv.Log(e.t))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		_, _ = io.WriteString(w, p.ID)
	}))))
	e.t.Cleanup(srv.Close)
	return s, srv
}

func (e *limitEnv) add(name string) (Officer, string) {
	o, tok, err := e.cli.Add(context.Background(), NewOfficer{Name: name, Team: "siming-eco"})
	if err != nil {
		e.t.Fatal(err)
	}
	return o, tok
}

func get(t *testing.T, c *http.Client, srv *httptest.Server, tok string) (*http.Response, string) {
	t.Helper()
	return getFor(t, c, srv, tok, "")
}

// getFor is get with the X-Forwarded-For xff, unless empty: a request a
// proxy forwards.
func getFor(t *testing.T, c *http.Client, srv *httptest.Server, tok, xff string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+"/api/v1/hotspots", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func random(t *testing.T) string {
	tok, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestFailedAuthenticationsAreLimited: a script sending random tokens
// from one address makes a bounded number of database queries and is
// then answered 429 with Retry-After, counted; the same wrong token again
// asks nothing of the database; a colleague's token from the same
// address (an office behind one NAT) keeps working, and a token created
// after misses works at once, or, from the address over its limit, within
// a few seconds.
func TestFailedAuthenticationsAreLimited(t *testing.T) {
	t.Parallel()
	e := newLimitEnv(t)
	_, srv := e.start()
	here := http.DefaultClient

	colleague, colleagueTok := e.add("同事")
	if resp, body := get(t, here, srv, colleagueTok); resp.StatusCode != 200 || body != colleague.ID {
		t.Fatalf("the colleague signs in: %d %s", resp.StatusCode, body)
	}

	// A miss, then a new officer: the new token works at once.
	missed := random(t)
	if resp, body := get(t, here, srv, missed); resp.StatusCode != 401 {
		t.Fatalf("an unknown token: %d %s", resp.StatusCode, body)
	}
	newbie, newbieTok := e.add("新同事")
	if resp, body := get(t, here, srv, newbieTok); resp.StatusCode != 200 || body != newbie.ID {
		t.Fatalf("a token created after a miss: %d %s", resp.StatusCode, body)
	}

	// A script of random tokens.
	before, _ := testenv.Metric(t, failuresMetric)
	e.looked.n.Store(0)
	// At most the address's burst of look-ups, and one reading of the
	// valid tokens once it is spent.
	const tries, maxQueries = 100, failureBurst + 1
	limited, wait := 0, 0
	for i := range tries {
		resp, body := get(t, here, srv, random(t))
		switch resp.StatusCode {
		case 401:
			if limited > 0 {
				t.Fatalf("random token %d answered 401 after a 429", i+1)
			}
		case 429:
			limited++
			if resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("429 as %s: %s", resp.Header.Get("Content-Type"), body)
			}
			var p struct{ Status int }
			if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != 429 {
				t.Fatalf("429 problem %s: %v", body, err)
			}
			var err error
			if wait, err = strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || wait < 1 || wait > 60 {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("random token %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if n := e.looked.n.Load(); n > maxQueries {
		t.Errorf("%d random tokens made %d database queries, want at most %d", tries, n, maxQueries)
	}
	if limited == 0 {
		t.Fatalf("%d random tokens from one address were never answered 429", tries)
	}
	if after, _ := testenv.Metric(t, failuresMetric); after-before != float64(limited) {
		t.Errorf("%s went from %v to %v, want %d more", failuresMetric, before, after, limited)
	}

	// The same wrong token again (a console retrying a typo) asks the
	// database nothing and spends nothing.
	n := e.looked.n.Load()
	if resp, body := get(t, here, srv, missed); resp.StatusCode != 401 {
		t.Errorf("the missed token again: %d %s", resp.StatusCode, body)
	}
	if e.looked.n.Load() != n {
		t.Errorf("the missed token again was looked up in the database")
	}

	// The colleague's token, its cached look-up expired, still works from
	// the address over its limit; so does the new officer's.
	e.advance(4 * time.Second)
	for _, tc := range []struct{ tok, id string }{{colleagueTok, colleague.ID}, {newbieTok, newbie.ID}} {
		if resp, body := get(t, here, srv, tc.tok); resp.StatusCode != 200 || body != tc.id {
			t.Errorf("a valid token from the limited address: %d %s", resp.StatusCode, body)
		}
	}
	if e.looked.n.Load() == n {
		t.Errorf("the valid tokens were not looked up again after their cache expired")
	}
	// The 4 s gave the address one more look-up, not a new burst.
	if resp, _ := get(t, here, srv, random(t)); resp.StatusCode != 401 {
		t.Fatalf("a random token 4 s later: %d, want one more look-up", resp.StatusCode)
	}
	if resp, _ := get(t, here, srv, random(t)); resp.StatusCode != 429 {
		t.Fatalf("the address is no longer limited: %d", resp.StatusCode)
	}

	// A token created now works at once from another address, and from
	// the limited one within a few seconds, following Retry-After.
	late, lateTok := e.add("后来者")
	if resp, body := get(t, clientFrom("127.0.0.2"), srv, lateTok); resp.StatusCode != 200 || body != late.ID {
		t.Errorf("a new token from another address: %d %s", resp.StatusCode, body)
	}
	last, lastTok := e.add("最后")
	waited := time.Duration(0)
	for {
		resp, body := get(t, here, srv, lastTok)
		if resp.StatusCode == 200 && body == last.ID {
			break
		}
		if resp.StatusCode != 429 || waited > knownEvery+failureEvery {
			t.Fatalf("a new token from the limited address, after %s: %d %s", waited, resp.StatusCode, body)
		}
		wait, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
		e.advance(time.Duration(wait) * time.Second)
		waited += time.Duration(wait) * time.Second
	}
}

// TestFailedAuthenticationsAfterRestart: a process that just started
// has seen no token valid; a script spending its address's budget does
// not lock out the officers of that address (or of a proxy in front of
// every client), whose tokens exist in the database.
func TestFailedAuthenticationsAfterRestart(t *testing.T) {
	t.Parallel()
	e := newLimitEnv(t)
	officer, tok := e.add("同事")
	_, srv := e.start()
	limited := false
	for range 100 {
		if resp, _ := get(t, http.DefaultClient, srv, random(t)); resp.StatusCode == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("random tokens were never limited")
	}
	for i := range 3 {
		if resp, body := get(t, http.DefaultClient, srv, tok); resp.StatusCode != 200 || body != officer.ID {
			t.Fatalf("request %d of an officer from the limited address: %d %s", i+1, resp.StatusCode, body)
		}
		e.advance(DefaultCacheTTL) // past the cache: looked up each time
	}
}

// TestFailedAuthenticationsFromManyAddresses: a script spreading random
// tokens over many client addresses (the /64s of one IPv6 /48, a botnet)
// makes a bounded number of database queries: each new address came with
// a burst of its own, and one evicted from the limiter's bounded memory
// came back with a new one, so the queries had no end.
func TestFailedAuthenticationsFromManyAddresses(t *testing.T) {
	t.Parallel()
	e := newLimitEnv(t)
	s, _ := e.start()
	officer, tok := e.add("同事")
	e.looked.n.Store(0)
	const addresses = 300
	limited := 0
	for i := range addresses {
		r := httptest.NewRequest("GET", "/api/v1/hotspots", nil)
		r.RemoteAddr = "[2001:db8:1:" + strconv.FormatInt(int64(i), 16) + "::1]:40000"
		r.Header.Set("Authorization", "Bearer "+random(t))
		if _, err := s.Authorize(r); err != nil && strings.Contains(err.Error(), "retry after") {
			limited++
		}
	}
	if n, most := e.looked.n.Load(), int64(addresses/2); n > most {
		t.Errorf("random tokens from %d addresses made %d database queries (%d refused), want at most %d", addresses, n, limited, most)
	}
	// An officer's token is served all the same, from a new address too.
	r := httptest.NewRequest("GET", "/api/v1/hotspots", nil)
	r.RemoteAddr = "[2001:db8:2::1]:40000"
	r.Header.Set("Authorization", "Bearer "+tok)
	if p, err := s.Authorize(r); err != nil || p.ID != officer.ID {
		t.Errorf("an officer's token during the flood: %+v %v", p, err)
	}
}

// TestFailedAuthenticationsBehindAProxy: behind a reverse proxy every
// request comes from the proxy's address. With the proxy trusted
// (NUISANCE_TRUSTED_PROXIES), a script's failures spend the budget of the
// address the proxy forwarded for it, whatever it writes in
// X-Forwarded-For itself, and another client behind the same proxy is
// not held to it: its mistyped token is answered 401, and a token
// created after the script was limited works at once. Without the
// setting, as documented, the clients behind the proxy share the
// proxy's budget. A client the setting does not name is counted as
// itself whatever X-Forwarded-For it sends.
func TestFailedAuthenticationsBehindAProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		// other and late are the answers to the other client's mistyped
		// token and to a token created after the script was limited.
		other, late int
	}{
		{"proxy trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 401, 200},
		{"no setting", nil, 429, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newLimitEnv(t)
			_, srv := e.start(tc.trusted...)
			proxy := http.DefaultClient // on 127.0.0.1
			const script, colleague = "203.0.113.66", "203.0.113.10"

			limited := false
			for i := range 100 {
				// The script writes another address each time; the proxy
				// appends the one it came from.
				spoofed := "198.51.100." + strconv.Itoa(i) + ", " + script
				resp, body := getFor(t, proxy, srv, random(t), spoofed)
				if resp.StatusCode == 429 {
					limited = true
					break
				}
				if resp.StatusCode != 401 {
					t.Fatalf("random token %d: %d %s", i+1, resp.StatusCode, body)
				}
			}
			if !limited {
				t.Fatal("100 random tokens through the proxy were never limited")
			}
			if resp, body := getFor(t, proxy, srv, random(t), colleague); resp.StatusCode != tc.other {
				t.Errorf("another client's mistyped token: %d %s, want %d", resp.StatusCode, body, tc.other)
			}
			late, lateTok := e.add("新同事")
			resp, body := getFor(t, proxy, srv, lateTok, colleague)
			if resp.StatusCode != tc.late || (tc.late == 200 && body != late.ID) {
				t.Errorf("another client's new token: %d %s, want %d", resp.StatusCode, body, tc.late)
			}
			if resp, _ := getFor(t, proxy, srv, random(t), "198.51.100.250, "+script); resp.StatusCode != 429 {
				t.Errorf("the script through the proxy, after: %d, want 429", resp.StatusCode)
			}

			// A client the setting does not name (127.0.0.2) is counted
			// as itself, however many addresses it claims to forward for.
			direct := clientFrom("127.0.0.2")
			limited = false
			for i := range 100 {
				resp, body := getFor(t, direct, srv, random(t), "198.51.100."+strconv.Itoa(i))
				if resp.StatusCode == 429 {
					limited = true
					break
				}
				if resp.StatusCode != 401 {
					t.Fatalf("random token %d from an untrusted peer: %d %s", i+1, resp.StatusCode, body)
				}
			}
			if !limited {
				t.Fatal("100 random tokens from an untrusted peer, each claiming another X-Forwarded-For, were never limited")
			}
		})
	}
}
