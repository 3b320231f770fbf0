package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// upstream is a replica that answers its name, the path and query it was
// sent, and the body it read; it counts its requests.
type upstream struct {
	*httptest.Server
	hits atomic.Int32
}

func newUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		httpx.WriteJSON(w, 200, map[string]string{"name": name, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body)})
	}))
	t.Cleanup(u.Close)
	return u
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// deadURL is the address of a replica that is down: nothing listens there.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// setup runs a gateway on routes (PREFIX=URL,... as ParseRoutes reads them)
// and returns its URL and its logs.
func setup(t *testing.T, routes string) (string, *observer.ObservedLogs) {
	t.Helper()
	rs, err := ParseRoutes(routes)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	g, err := New(Config{Routes: rs, Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = Server(g)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

type answer struct {
	Name, Path, Query, Body string
}

func get(t *testing.T, url string) (int, answer) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

func TestRoutesByLongestPrefix(t *testing.T) {
	t.Parallel()
	officers, api, hotspots, reporter := newUpstream(t, "officers"), newUpstream(t, "api"), newUpstream(t, "hotspots"), newUpstream(t, "reporter")
	// Written shortest first: the order must not matter.
	gw, _ := setup(t, fmt.Sprintf("/=%s; /api/v1/=%s; /api/v1/hotspots=%s; /reports/=%s", officers.URL, api.URL, hotspots.URL, reporter.URL))
	tests := []struct {
		path, want, wantQuery string
	}{
		{"/officer/", "officers", ""},
		{"/", "officers", ""},
		{"/api/v1/me", "api", ""},
		{"/api/v1/hotspots?status=emerging,active,escalated&limit=200", "hotspots", "status=emerging,active,escalated&limit=200"},
		{"/api/v1/hotspots/weekly", "hotspots", ""},
		{"/api/v1/hotspotsx", "api", ""},
		{"/reports/weekly/2024-W11.html", "reporter", ""},
		{"/reports", "officers", ""},
	}
	for _, tt := range tests {
		st, a := get(t, gw+tt.path)
		path, _, _ := strings.Cut(tt.path, "?")
		if st != 200 || a.Name != tt.want || a.Path != path || a.Query != tt.wantQuery {
			t.Errorf("%s: %d from %q (%s?%s), want %s", tt.path, st, a.Name, a.Path, a.Query, tt.want)
		}
	}
	if st, _ := get(t, gw+"/healthz"); st != 200 {
		t.Errorf("/healthz: %d", st)
	}
	if st, a := get(t, gw+"/readyz"); st != 200 || a.Name != "" {
		t.Errorf("/readyz: %d from %q, want the gateway's own", st, a.Name)
	}
}

func TestParseRoutesRefusesWhatItCannotRoute(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "api=http://a:1", "/=officers:8080", "/=http://u:p@a:1", "/=http://a:1/x", "/=http://a:1;/=http://b:1", "/="} {
		if _, err := ParseRoutes(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	rs, err := ParseRoutes("/api/v1/hotspots=http://h:8080 /=http://o1:8080,http://o2:8080/")
	if err != nil || len(rs) != 2 || len(rs[1].Upstreams) != 2 || rs[1].Upstreams[1].String() != "http://o2:8080" {
		t.Fatalf("%v %v", rs, err)
	}
}

// hangUp is a replica that takes the connection and the request, then
// closes it without an answer: the request reached it.
func hangUp(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					n.Add(1)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

func TestFailsOverToTheNextReplica(t *testing.T) {
	t.Parallel()
	live := newUpstream(t, "live")
	gw, _ := setup(t, fmt.Sprintf("/=%s,%s", deadURL(t), live.URL))
	// Each request starts at another replica: half of them at the dead one.
	for i := range 4 {
		if st, a := get(t, fmt.Sprintf("%s/api/v1/me?i=%d", gw, i)); st != 200 || a.Name != "live" {
			t.Fatalf("GET %d: %d from %q, want the live replica", i, st, a.Name)
		}
	}
	// A POST never sent (the replica refused the connection) goes to the
	// next one whole.
	for i := range 2 {
		resp, err := http.Post(gw+"/api/v1/cases/c1/accept", "application/json", strings.NewReader(`{"note":"on my way"}`))
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != 200 || a.Body != `{"note":"on my way"}` {
			t.Fatalf("POST %d: %d body %q, want the live replica to read the whole body", i, resp.StatusCode, a.Body)
		}
	}
}

func TestSendsAgainOnlyWhatIsSafeToRepeat(t *testing.T) {
	t.Parallel()
	hung, reached := hangUp(t)
	live := newUpstream(t, "live")
	gw, _ := setup(t, fmt.Sprintf("/=%s,%s", hung, live.URL))
	// Two GETs: one starts at the replica that hangs up, and goes on.
	for i := range 2 {
		if st, a := get(t, gw+"/api/v1/assignments"); st != 200 || a.Name != "live" {
			t.Fatalf("GET %d: %d from %q, want the live replica", i, st, a.Name)
		}
	}
	// Two POSTs: the one that reached the replica that hung up is not
	// sent again, which could act twice.
	var bad int
	for range 2 {
		resp, err := http.Post(gw+"/api/v1/cases/c1/resolve", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			bad++
		}
	}
	if bad != 1 || reached.Load() != 2 || live.hits.Load() != 3 {
		t.Errorf("%d POSTs answered 502, the hanging replica read %d requests, the live one %d: want 1, 2 (a GET and a POST), 3", bad, reached.Load(), live.hits.Load())
	}
}

func TestAllReplicasDownIsAProblemNamingTheRoute(t *testing.T) {
	t.Parallel()
	dead1, dead2 := deadURL(t), deadURL(t)
	officers := newUpstream(t, "officers")
	gw, logs := setup(t, fmt.Sprintf("/api/v1/hotspots=%s,%s; /=%s", dead1, dead2, officers.URL))
	const token = "tok-0123456789abcdef"
	resp, err := http.Get(gw + "/api/v1/hotspots?status=active&access_token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p httpx.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/problem+json" || p.Status != 503 || resp.Header.Get("Retry-After") == "" ||
		p.Type != "https://nuisance.xm.gov/problems/unavailable" {
		t.Fatalf("%d %s %s, want 503 problem+json with Retry-After", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if !strings.Contains(p.Detail, "/api/v1/hotspots") {
		t.Errorf("detail %q does not name the route", p.Detail)
	}
	for _, d := range []string{dead1, dead2} {
		if strings.Contains(string(b), strings.TrimPrefix(d, "http://")) {
			t.Errorf("the answer %s shows the replica's address %s", b, d)
		}
	}
	if logs.FilterMessage("upstream failed").Len() != 1 {
		t.Errorf("%d failures logged, want 1", logs.FilterMessage("upstream failed").Len())
	}
	for _, e := range logs.All() {
		if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, token) || strings.Contains(line, "access_token") {
			t.Errorf("the log holds the query's token: %s", line)
		}
	}
	// The other routes still work.
	if st, a := get(t, gw+"/api/v1/me"); st != 200 || a.Name != "officers" {
		t.Errorf("/api/v1/me: %d from %q", st, a.Name)
	}
}

func TestStreamsEventsAsTheyCome(t *testing.T) {
	t.Parallel()
	// A server-wide write timeout would end every stream at it.
	if s := Server(nil); s.WriteTimeout != 0 || s.ReadHeaderTimeout == 0 {
		t.Errorf("server timeouts: write %s, header %s; want none on the response, one on the header", s.WriteTimeout, s.ReadHeaderTimeout)
	}
	release := make(chan struct{})
	var xff atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff.Store(r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: case\ndata: {\"n\":1}\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "event: case\ndata: {\"n\":2}\n\n")
	}))
	t.Cleanup(up.Close)
	gw, _ := setup(t, "/="+up.URL)
	req, _ := http.NewRequest("GET", gw+"/api/v1/stream?access_token=t", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			return "(nothing within 5 s)"
		}
	}
	// The first event comes while the upstream still holds the stream.
	if l := next(); l != "event: case" {
		t.Fatalf("got %q, want the first event before the upstream goes on", l)
	}
	if l := next(); l != `data: {"n":1}` {
		t.Fatalf("got %q", l)
	}
	close(release)
	next()
	if l := next(); l != "event: case" {
		t.Fatalf("got %q, want the second event", l)
	}
}

// A stopping gateway ends its event streams at once rather than wait
// for them for the whole of its grace period.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": connected\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	rs, _ := ParseRoutes("/=" + up.URL)
	g, err := New(Config{Routes: rs})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, Server(g), ln, 20*time.Second) }()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway still waits for its stream after 10 s")
	}
	t.Logf("stopped in %s", time.Since(start))
}

// The services see the client's address behind the gateway: the gateway
// appends its peer to X-Forwarded-For, and a service that trusts the
// gateway's address (NUISANCE_TRUSTED_PROXIES) counts the request against
// the client, never against an address the client wrote.
func TestForwardsTheClientAddress(t *testing.T) {
	t.Parallel()
	type seen struct{ xff, proto, client string }
	got := make(chan seen, 1)
	gatewayAddr := netip.MustParsePrefix("127.0.0.1/32")
	up := httptest.NewServer(httpx.TrustProxies([]netip.Prefix{gatewayAddr}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), httpx.ClientAddr(r).String()}
	})))
	t.Cleanup(up.Close)
	gw, _ := setup(t, "/="+up.URL)
	// The client connects from another loopback address than the
	// gateway's own.
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	for _, tt := range []struct{ sent, wantXFF string }{
		{"", "127.0.0.2"},
		{"203.0.113.9", "127.0.0.2"}, // the client's own is dropped
	} {
		req, _ := http.NewRequest("GET", gw+"/api/v1/me", nil)
		if tt.sent != "" {
			req.Header.Set("X-Forwarded-For", tt.sent)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		s := <-got
		if s.xff != tt.wantXFF || s.proto != "http" || s.client != "127.0.0.2" {
			t.Errorf("sent X-Forwarded-For %q: the service saw %q, proto %q, client %s; want %q, http, 127.0.0.2", tt.sent, s.xff, s.proto, s.client, tt.wantXFF)
		}
	}
}

func TestMatchTakesTheLongestPrefix(t *testing.T) {
	t.Parallel()
	rs, err := ParseRoutes("/=http://o:1;/api/v1/hotspots=http://h:1;/api/v1/=http://a:1")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/api/v1/hotspots": "h:1", "/api/v1/hotspots/weekly": "h:1", "/api/v1/stream": "a:1", "/officer/": "o:1"} {
		if r, ok := Match(rs, path); !ok || r.Upstreams[0].Host != want {
			t.Errorf("%s: %v %v, want %s", path, r, ok, want)
		}
	}
	if _, ok := Match(rs[1:], "/officer/"); ok {
		t.Error("a path no route takes matched")
	}
}

func TestAnUpstreamThatDoesNotAnswerIsATimeout(t *testing.T) {
	t.Parallel()
	// The replica reads the request and never answers.
	rs, err := ParseRoutes("/=" + hangs(t))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Routes: rs, HeaderTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = Server(g)
	srv.Start()
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	resp, err := client.Get(srv.URL + "/api/v1/assignments")
	if err != nil {
		t.Fatalf("after %s: %v; want the gateway to answer", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	var p httpx.Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusGatewayTimeout || p.Type != "https://nuisance.xm.gov/problems/gateway_timeout" {
		t.Errorf("%d %q after %s, want 504 gateway_timeout", resp.StatusCode, p.Type, time.Since(start).Round(time.Millisecond))
	}
}

// The services trust the gateway's whole network, the host-side address
// that a published port's proxy connects from included: a client's own
// X-Forwarded-For passed on from there would be taken for its address,
// and each request could claim a new one against the rate limits. Only
// a load balancer the gateway trusts has its entries passed on.
func TestAClientCannotClaimAnAddress(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	frontNet := netip.MustParsePrefix("127.0.0.0/8")
	up := httptest.NewServer(httpx.TrustProxies([]netip.Prefix{frontNet}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- httpx.ClientAddr(r).String()
	})))
	t.Cleanup(up.Close)
	rs, err := ParseRoutes("/=" + up.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"an untrusted peer", nil, "127.0.0.2"},
		{"a trusted load balancer", []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, "203.0.113.9"},
	} {
		g, err := New(Config{Routes: rs, TrustedProxies: tt.trusted})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(g)
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if s := <-got; s != tt.want {
			t.Errorf("%s sent X-Forwarded-For 203.0.113.9: the service counted %s, want %s", tt.name, s, tt.want)
		}
	}
}

// An HTTP_PROXY in the gateway's environment (Docker's client sets one in
// every container it creates when configured to) must not carry the
// requests to the services, with their tokens, out of the deployment.
// ProxyFromEnvironment never proxies loopback, so the transport is read.
func TestUpstreamsAreReachedDirectly(t *testing.T) {
	t.Parallel()
	tr := defaultTransport(time.Second)
	if tr.Proxy != nil {
		req, _ := http.NewRequest("GET", "http://officers:8080/api/v1/me", nil)
		u, err := tr.Proxy(req)
		t.Errorf("the transport has a proxy function (for officers:8080 now: %v, %v); want none", u, err)
	}
}
