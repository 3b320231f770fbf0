package intake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type env struct {
	pool   *pgxpool.Pool
	srv    *httptest.Server
	client *hotline.Client
}

func setup(t *testing.T, mutate ...func(*intake.Config)) env {
	t.Helper()
	return setupBehind(t, nil, mutate...)
}

// setupBehind is setup with the intake served behind the trusted
// proxies given, as every process serves its routes
// (NUISANCE_TRUSTED_PROXIES).
func setupBehind(t *testing.T, trusted []netip.Prefix, mutate ...func(*intake.Config)) env {
	t.Helper()
	return setupLogged(t, testenv.Log(t), trusted, mutate...)
}

// setupLogged is setupBehind with the intake logging to log.
func setupLogged(t *testing.T, log *zap.Logger, trusted []netip.Prefix, mutate ...func(*intake.Config)) env {
	t.Helper()
	pool := testenv.DB(t)
	cfg := intake.DefaultConfig(secret + " whsec_b2xkLXNlY3JldC1rZXktZm9yLXJvdGF0aW9u")
	for _, m := range mutate {
		m(&cfg)
	}
	svc, err := intake.New(cfg, pool, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	svc.Routes(mux)
	// Served as a process serves the intake: its raw look-ups before the
	// mux, which would clean their paths.
	srv := httptest.NewServer(httpx.TrustProxies(trusted, svc.RawLookups(mux)))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	c, err := hotline.New(srv.URL, secret)
	if err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, srv: srv, client: c}
}

func body(ticket string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"ticket_id":%q,"received_at":"2024-03-11T23:10:00+08:00","description":"工地夜里打桩，吵得睡不着","address":"思明区莲前街道","location":{"lon":118.1432,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"王小明","phone":"13800138000"}%s}`, ticket, extra))
}

func (e env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAcceptStoresComplaintAndEventOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	resp, err := e.client.Post(ctx, "msg-1", body("T-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	var a intake.Answer
	if err := resp.Decode(&a); err != nil || a.Status != "accepted" || a.TicketID != "T-1" || a.ComplaintID == "" {
		t.Fatalf("answer %+v (%v)", a, err)
	}
	// The same ticket under a new delivery: 200 duplicate, same id.
	resp, _ = e.client.Post(ctx, "msg-2", body("T-1", ""))
	var d intake.Answer
	_ = resp.Decode(&d)
	if resp.Status != http.StatusOK || d.Status != "duplicate" || d.ComplaintID != a.ComplaintID {
		t.Fatalf("duplicate answered %d %+v", resp.Status, d)
	}
	// The same delivery again (a retry after a lost answer): the original answer.
	resp, _ = e.client.Post(ctx, "msg-1", body("T-1", ""))
	var r intake.Answer
	_ = resp.Decode(&r)
	if resp.Status != http.StatusAccepted || r != a {
		t.Fatalf("retried delivery answered %d %+v, want the original %+v", resp.Status, r, a)
	}
	// Another work order under the same delivery id is not a retry: it is
	// refused, naming the id's work order, and not answered as T-1.
	resp, _ = e.client.Post(ctx, "msg-1", body("T-2", ""))
	if resp.Status != http.StatusConflict || !strings.Contains(string(resp.Body), "T-1") || !strings.Contains(string(resp.Body), "webhook_reused") {
		t.Fatalf("another work order under a used webhook-id answered %d %s", resp.Status, resp.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-1'`); n != 1 {
		t.Fatalf("%d complaints stored", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'complaint.received' AND payload->>'ticket_id' = 'T-1'`); n != 1 {
		t.Fatalf("%d events stored", n)
	}
	// The caller is stored for the officers, and never put in the event.
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE caller_phone = '13800138000'`); n != 1 {
		t.Fatal("caller phone not stored")
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE payload::text LIKE '%13800138000%' OR payload::text LIKE '%王小明%'`); n != 0 {
		t.Fatal("personal data in the event")
	}
}

func TestConcurrentSameTicketStoresOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.client.Post(context.Background(), fmt.Sprintf("m-%d", i), body("T-race", ""))
			if err != nil {
				t.Error(err)
				return
			}
			var a intake.Answer
			_ = resp.Decode(&a)
			ids <- a.ComplaintID
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first || id == "" {
			t.Fatalf("answers name different complaints: %q vs %q", id, first)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM complaints`); n != 1 {
		t.Fatalf("%d complaints stored", n)
	}
}

func post(t *testing.T, e env, contentType string, b []byte, sign func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/hotline/complaints", bytes.NewReader(b))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if sign != nil {
		sign(req)
	} else if err := e.client.Sign(req, "msg-x", b); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("error %d is not problem+json: %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, p
}

func TestRejections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := body("T-big", fmt.Sprintf(`,"hotline_category":%q`, strings.Repeat("噪", 30000)))
	cases := []struct {
		name   string
		ct     string
		body   []byte
		sign   func(*http.Request)
		status int
		field  string // an offending field the problem must name
	}{
		{"not json content type", "text/plain", body("T-a", ""), nil, 415, ""},
		{"too large", "application/json", big, nil, 413, ""},
		{"no signature", "application/json", body("T-b", ""), func(*http.Request) {}, 401, ""},
		{"wrong signature", "application/json", body("T-c", ""), func(r *http.Request) {
			r.Header.Set("webhook-id", "m")
			r.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
			r.Header.Set("webhook-signature", "v1,Zm9vYmFy")
		}, 401, ""},
		{"stale timestamp", "application/json", body("T-d", ""), func(r *http.Request) {
			c, _ := hotline.New(e.srv.URL, secret)
			c.Now = func() time.Time { return time.Now().Add(-6 * time.Minute) }
			b, _ := json.Marshal(json.RawMessage(body("T-d", "")))
			_ = c.Sign(r, "m", b)
		}, 401, ""},
		{"missing required", "application/json", []byte(`{"ticket_id":"T-e","address":"思明区"}`), nil, 400, "/received_at"},
		{"wrong types", "application/json", []byte(`{"ticket_id":5,"received_at":"2024-03-11T23:10:00+08:00","description":"x","address":"思明区"}`), nil, 400, "/ticket_id"},
		{"coordinates out of range", "application/json", body("T-f", "")[:0:0], nil, 400, "/location/lat"},
		{"unknown field", "application/json", body("T-g", `,"priority":"high"`), nil, 400, "/priority"},
		{"bad category", "application/json", body("T-h", `,"category":"smell"`), nil, 400, "/category"},
		{"neither address nor location", "application/json", []byte(`{"ticket_id":"T-i","received_at":"2024-03-11T23:10:00+08:00","description":"吵"}`), nil, 400, "/"},
		{"invalid utf-8", "application/json", []byte("{\"ticket_id\":\"T-j\",\"received_at\":\"2024-03-11T23:10:00+08:00\",\"description\":\"\xff\xfe\",\"address\":\"思明区\"}"), nil, 400, ""},
		{"not json", "application/json", []byte(`{"ticket_id":`), nil, 400, ""},
		{"huge number", "application/json", []byte(`{"ticket_id":"T-k","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{"lon":1e400,"lat":24.5}}`), nil, 400, "/location/lon"},
		{"number past any float", "application/json", []byte(`{"ticket_id":"T-k2","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{"lon":118.1,"lat":1E1000001}}`), nil, 400, "/location/lat"},
		{"deeply nested", "application/json", []byte(`{"ticket_id":"T-l","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`), nil, 400, "/address"},
		{"sql in the ticket id", "application/json", []byte(`{"ticket_id":"T'; DROP TABLE complaints;--","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区"}`), nil, 400, "/ticket_id"},
		{"NUL in the description", "application/json", []byte(`{"ticket_id":"T-n","received_at":"2024-03-11T23:10:00+08:00","description":"吵\u0000","address":"思明区"}`), nil, 400, "/description"},
		{"words in the caller's phone", "application/json", []byte(`{"ticket_id":"T-o","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区","caller":{"name":"王先生","phone":"13800138000 转 5"}}`), nil, 400, "/caller/phone"},
		{"a key sent twice", "application/json", []byte(`{"ticket_id":"T-p","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区","ticket_id":"T-q"}`), nil, 400, "/ticket_id"},
		{"html in the channel", "application/json", []byte(`{"ticket_id":"T-m","received_at":"2024-03-11T23:10:00+08:00","description":"吵","address":"思明区","channel":"<script>alert(1)</script>"}`), nil, 400, "/channel"},
	}
	cases[7].body = []byte(`{"ticket_id":"T-f","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{"lon":118.1,"lat":95}}`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, p := post(t, e, tc.ct, tc.body, tc.sign)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, p)
			}
			// The problem never repeats a caller's phone (its pattern's
			// message would).
			if text := fmt.Sprint(p); strings.Contains(text, "13800138000") {
				t.Fatalf("the problem repeats the caller's phone: %s", text)
			}
			if tc.field != "" {
				found := false
				errs, _ := p["errors"].([]any)
				for _, x := range errs {
					if f, _ := x.(map[string]any)["field"].(string); f == tc.field {
						found = true
					}
				}
				if !found {
					t.Fatalf("problem does not name %s: %v", tc.field, p)
				}
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM complaints`); n != 0 {
		t.Fatalf("rejected posts stored %d complaints", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("rejected posts stored %d events", n)
	}
}

// A citizen's words may contain anything, SQL and HTML included: they are
// stored as text, verbatim, and never interpreted.
func TestHostileTextIsStoredVerbatim(t *testing.T) {
	t.Parallel()
	e := setup(t)
	desc := `工地噪声'); DROP TABLE complaints;-- <script>alert("x")</script> ${jndi:ldap://x}`
	b, _ := json.Marshal(map[string]any{"ticket_id": "T-hostile", "received_at": "2024-03-11T23:10:00+08:00",
		"description": desc, "address": `思明区<img src=x onerror=alert(1)>`})
	resp, err := e.client.Post(context.Background(), "h-1", b)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("post: %v %d %s", err, resp.Status, resp.Body)
	}
	var got string
	if err := e.pool.QueryRow(context.Background(), `SELECT description FROM complaints WHERE ticket_id = 'T-hostile'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != desc {
		t.Fatalf("stored %q, want the text verbatim", got)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints`); n != 1 {
		t.Fatalf("%d complaints", n)
	}
}

func TestSecretRotationAcceptsEitherKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c2, err := hotline.New(e.srv.URL, "whsec_b2xkLXNlY3JldC1rZXktZm9yLXJvdGF0aW9u")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c2.Post(context.Background(), "rot-1", body("T-rot", ""))
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("second key refused: %v %d %s", err, resp.Status, resp.Body)
	}
}

// An empty key ("whsec_" alone, as a configuration template leaves it)
// would let anyone sign: the intake refuses to start with it.
func TestAnEmptySecretIsRefused(t *testing.T) {
	for _, secrets := range [][]string{{"whsec_"}, {secret, "whsec_"}} {
		if _, err := intake.New(intake.Config{Secrets: secrets, MaxBatch: 1, Committers: 1}, nil, testenv.Log(t)); err == nil {
			t.Errorf("the intake started with the secrets %q", secrets)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *intake.Config) { c.RatePerClient = 1; c.Burst = 3 })
	got429 := false
	for i := range 10 {
		resp, err := e.client.Post(context.Background(), fmt.Sprintf("rl-%d", i), body(fmt.Sprintf("T-rl-%d", i), ""))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status == http.StatusTooManyRequests {
			got429 = true
		}
	}
	if !got429 {
		t.Fatal("no 429 after 10 requests at 1/s with burst 3")
	}
}

// forwardedFor is the reverse proxy in front of the intake: it sends
// each request on with the address it came from appended to its
// X-Forwarded-For.
type forwardedFor string

func (a forwardedFor) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	xff := string(a)
	if prior := req.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + xff
	}
	req.Header.Set("X-Forwarded-For", xff)
	return http.DefaultTransport.RoundTrip(req)
}

// flood posts 10 unsigned work orders through the proxy, the i-th from
// the client address from(i) gives and with the X-Forwarded-For it gives
// (none if empty), and says whether one was answered 429.
func (e env) flood(t *testing.T, from func(i int) (client, xff string)) bool {
	t.Helper()
	for i := range 10 {
		client, xff := from(i)
		req, err := http.NewRequest("POST", e.srv.URL+hotline.ComplaintsPath, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := (&http.Client{Transport: forwardedFor(client)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return true
		}
	}
	return false
}

// TestRateLimitBehindAProxy: behind a reverse proxy every request comes
// from the proxy's address. With the proxy trusted
// (NUISANCE_TRUSTED_PROXIES), a flood of posts spends the budget of the
// address the proxy forwarded for it, whatever it writes in
// X-Forwarded-For itself, and the hotline behind the same proxy is still
// served. Without the setting, as documented, they share the proxy's.
func TestRateLimitBehindAProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		hotline int // the answer to the hotline's work order after the flood
	}{
		{"proxy trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, http.StatusAccepted},
		{"no setting", nil, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setupBehind(t, tc.trusted, func(c *intake.Config) { c.RatePerClient = 0.01; c.Burst = 3 })
			// The script writes an X-Forwarded-For of its own each time.
			limited := e.flood(t, func(i int) (string, string) { return "203.0.113.66", fmt.Sprintf("198.51.100.%d", i) })
			if !limited {
				t.Fatal("10 posts at once through the proxy, at 0.01/s with burst 3, were never limited")
			}
			e.client.HTTP = &http.Client{Transport: forwardedFor("198.51.100.200")}
			resp, err := e.client.Post(context.Background(), "proxied-1", body("T-proxied", ""))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.hotline {
				t.Errorf("the hotline's work order after the flood: %d %s, want %d", resp.Status, resp.Body, tc.hotline)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	resp, _ := e.client.Lookup(ctx, "l-1", "T-none")
	if resp.Status != http.StatusNotFound {
		t.Fatalf("unknown ticket: %d", resp.Status)
	}
	if _, err := e.client.Post(ctx, "p-1", body("T-look", "")); err != nil {
		t.Fatal(err)
	}
	resp, _ = e.client.Lookup(ctx, "l-2", "T-look")
	if resp.Status != http.StatusOK {
		t.Fatalf("lookup %d %s", resp.Status, resp.Body)
	}
	var st map[string]any
	_ = resp.Decode(&st)
	if st["status"] != "received" || st["ticket_id"] != "T-look" || st["district"] != nil || st["case_id"] != nil {
		t.Fatalf("lookup %v", st)
	}
	for _, k := range []string{"complaint_id", "status", "category", "subcategory", "district", "district_name", "priority", "hotspot_id", "case_id", "team", "due_at", "updated_at"} {
		if _, ok := st[k]; !ok {
			t.Fatalf("lookup lacks %s", k)
		}
	}
	if strings.Contains(string(resp.Body), "13800138000") {
		t.Fatal("lookup shows the caller's phone")
	}
	// Unsigned look-ups are refused.
	r, _ := http.Get(e.srv.URL + "/v1/hotline/complaints/T-look")
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned lookup: %d", r.StatusCode)
	}
	r.Body.Close()
}

// TestRateLimitIPv6Host: a host is given at least a /64, so a flood from
// one, each post from another of its addresses, spends one budget; a
// client of another /64 is still served.
func TestRateLimitIPv6Host(t *testing.T) {
	t.Parallel()
	e := setupBehind(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, func(c *intake.Config) { c.RatePerClient = 0.01; c.Burst = 3 })
	limited := e.flood(t, func(i int) (string, string) { return fmt.Sprintf("2001:db8:1:2::%x", i+1), "" })
	if !limited {
		t.Fatal("10 posts at once from 10 addresses of one /64, at 0.01/s with burst 3, were never limited")
	}
	e.client.HTTP = &http.Client{Transport: forwardedFor("2001:db8:1:3::1")}
	resp, err := e.client.Post(context.Background(), "v6-1", body("T-v6", ""))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusAccepted {
		t.Errorf("a client of another /64 after the flood: %d %s", resp.Status, resp.Body)
	}
}

// TestDuplicateWithOtherContentsSaysSo: the same ticket sent again with
// other words (an addition, a correction) is a duplicate, and the first
// work order stays the record; the answer says the contents differ, so
// the hotline does not take the change for applied. The same contents
// sent again are a plain duplicate, and a work order sent with no
// address or location stored as none is not said to differ.
func TestDuplicateWithOtherContentsSaysSo(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	post := func(delivery string, b []byte) (int, intake.Answer) {
		t.Helper()
		resp, err := e.client.Post(ctx, delivery, b)
		if err != nil {
			t.Fatal(err)
		}
		var a intake.Answer
		if err := resp.Decode(&a); err != nil {
			t.Fatalf("%s: %d %s", delivery, resp.Status, resp.Body)
		}
		return resp.Status, a
	}
	if code, a := post("d-1", body("T-d", "")); code != http.StatusAccepted || a.Differs {
		t.Fatalf("first: %d %+v", code, a)
	}
	if code, a := post("d-2", body("T-d", "")); code != http.StatusOK || a.Status != "duplicate" || a.Differs || a.Detail != "" {
		t.Errorf("the same contents again: %d %+v, want a plain duplicate", code, a)
	}
	other := []byte(`{"ticket_id":"T-d","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜里打桩，吵得睡不着。补充：凌晨两点还在施工","address":"思明区莲前街道","location":{"lon":118.1432,"lat":24.4871,"crs":"gcj02"}}`)
	code, a := post("d-3", other)
	if code != http.StatusOK || a.Status != "duplicate" || !a.Differs || !strings.Contains(a.Detail, "not applied") {
		t.Errorf("other words under the same ticket: %d %+v, want a duplicate that differs", code, a)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-d' AND description NOT LIKE '%补充%'`); n != 1 {
		t.Errorf("the stored work order changed (%d as first stored)", n)
	}
	moved := []byte(`{"ticket_id":"T-d","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜里打桩，吵得睡不着","address":"思明区莲前街道","location":{"lon":118.15,"lat":24.4871,"crs":"gcj02"}}`)
	if code, a := post("d-4", moved); !a.Differs {
		t.Errorf("other coordinates under the same ticket: %d %+v, want a duplicate that differs", code, a)
	}
	// The caller erased by the retention job, the words masked with it:
	// the same work order sent again is no different.
	named := body("T-e", "")
	named = []byte(strings.Replace(string(named), "吵得睡不着", "吵得睡不着，我是王小明", 1))
	post("e-1", named)
	if _, err := e.pool.Exec(ctx, `UPDATE complaints SET description = '工地夜里打桩，吵得睡不着，我是王**', caller_name = NULL, caller_phone = NULL,
		pii_erased_at = now() WHERE ticket_id = 'T-e'`); err != nil {
		t.Fatal(err)
	}
	if code, a := post("e-2", named); code != http.StatusOK || a.Differs {
		t.Errorf("a work order whose stored caller was erased, sent again: %d %+v, want a plain duplicate", code, a)
	}
	bare := []byte(`{"ticket_id":"T-bare","received_at":"2024-03-11T23:10:00+08:00","description":"吵","location":{"lon":118.1432,"lat":24.4871}}`)
	post("b-1", bare)
	if code, a := post("b-2", bare); code != http.StatusOK || a.Differs {
		t.Errorf("a work order with no address sent again: %d %+v, want a plain duplicate", code, a)
	}
}

// TestACorrectionUnderTheSameWebhookIDSaysItDiffers: a hotline that sends
// each work order under its ticket as webhook-id sends a correction
// under the id of the first delivery. That is no retry: it is answered as
// the duplicate that differs, as under a new id, and never "accepted" as
// if the change were stored; a true retry (the same id and body) still
// has the first answer.
func TestACorrectionUnderTheSameWebhookIDSaysItDiffers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	post := func(b []byte) (int, intake.Answer) {
		t.Helper()
		resp, err := e.client.Post(ctx, "T-same", b)
		if err != nil {
			t.Fatal(err)
		}
		var a intake.Answer
		if err := resp.Decode(&a); err != nil {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		return resp.Status, a
	}
	code, first := post(body("T-same", ""))
	if code != http.StatusAccepted {
		t.Fatalf("first: %d %+v", code, first)
	}
	if code, a := post(body("T-same", "")); code != http.StatusAccepted || a != first {
		t.Errorf("a retry: %d %+v, want the first answer %+v", code, a, first)
	}
	corrected := []byte(strings.Replace(string(body("T-same", "")), "吵得睡不着", "吵得睡不着。更正：在莲前西路", 1))
	code, a := post(corrected)
	if code != http.StatusOK || a.Status != "duplicate" || !a.Differs || !strings.Contains(a.Detail, "not applied") || a.ComplaintID != first.ComplaintID {
		t.Errorf("a correction under the same webhook-id: %d %+v, want 200 duplicate that differs", code, a)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-same' AND description NOT LIKE '%更正%'`); n != 1 {
		t.Errorf("the stored work order changed (%d as first stored)", n)
	}
}

// TestSignaturesOnSeveralLines: several signatures may come as one
// space-separated webhook-signature or as several lines of it (RFC 9110
// lets a client or a proxy send a list either way); the post and the
// look-up are verified against all of them.
func TestSignaturesOnSeveralLines(t *testing.T) {
	t.Parallel()
	e := setup(t)
	other, err := hotline.New(e.srv.URL, "whsec_"+"c29tZS1vdGhlci1zZWNyZXQta2V5LW5vdC1vdXJz")
	if err != nil {
		t.Fatal(err)
	}
	b := body("T-lines", "")
	// Signed with a key the intake does not have, then with its own: the
	// one that matches is on the second line.
	sign := func(r *http.Request, id string, b []byte) {
		if err := other.Sign(r, id, b); err != nil {
			t.Fatal(err)
		}
		foreign := r.Header.Get("webhook-signature")
		if err := e.client.Sign(r, id, b); err != nil {
			t.Fatal(err)
		}
		own := r.Header.Get("webhook-signature")
		r.Header.Del("webhook-signature")
		r.Header.Add("webhook-signature", foreign)
		r.Header.Add("webhook-signature", own)
	}
	st, p := post(t, e, "application/json", b, func(r *http.Request) { sign(r, "lines-1", b) })
	if st != http.StatusAccepted {
		t.Fatalf("a post with its signatures on two lines: %d %v", st, p)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/hotline/complaints/T-lines", nil)
	sign(req, "lines-2", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a look-up with its signatures on two lines: %d", resp.StatusCode)
	}
}

// TestACompressedBodyIsRefusedAsSuch: the intake decodes no content
// coding; a body sent gzip-compressed is answered 415 saying so (with
// Accept-Encoding: identity, RFC 7694), not 400 "not valid UTF-8" as if
// its JSON were broken. identity is the body as it is.
func TestACompressedBodyIsRefusedAsSuch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(body("T-gz", ""))
	_ = zw.Close()
	for _, enc := range []string{"gzip", "br", "identity, gzip"} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/hotline/complaints", bytes.NewReader(gz.Bytes()))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", enc)
		if err := e.client.Sign(req, "gz-1", gz.Bytes()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(fmt.Sprint(p["detail"]), "Content-Encoding") || resp.Header.Get("Accept-Encoding") != "identity" {
			t.Errorf("Content-Encoding %s: %d %s %v (Accept-Encoding %q)", enc, resp.StatusCode, resp.Header.Get("Content-Type"), p, resp.Header.Get("Accept-Encoding"))
		}
	}
	b := body("T-identity", "")
	st, p := post(t, e, "application/json", b, func(r *http.Request) {
		r.Header.Set("Content-Encoding", "identity")
		if err := e.client.Sign(r, "id-1", b); err != nil {
			t.Fatal(err)
		}
	})
	if st != http.StatusAccepted {
		t.Errorf("Content-Encoding identity: %d %v", st, p)
	}
}
