package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serve runs a gateway on routes (as ParseRoutes reads them) with the
// given default header timeout (0: the gateway's) and returns its URL.
func serve(t *testing.T, routes string, headerTimeout time.Duration) string {
	t.Helper()
	rs, err := ParseRoutes(routes)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Routes: rs, HeaderTimeout: headerTimeout})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = Server(g)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// scrape reads the gateway's /metrics: each series of the gateway's own
// metrics as written (name{labels}) and its value.
func scrape(t *testing.T, gw string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(gw + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "nuisance_gateway_") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out, string(b)
}

// hangs is a replica that reads each request and never answers, until
// the test ends.
func hangs(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = http.ReadRequest(bufio.NewReader(c))
				<-done
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// The operator reads on /metrics which route fails or is slow: each
// request counted under its route's prefix, method and status, its
// time to the response's headers, the replicas that did not answer.
// The routes' prefixes are this test's own: the metrics are the
// process's, shared by the other tests' gateways.
func TestMetricsCountEachRoute(t *testing.T) {
	t.Parallel()
	hotspots, officers := newUpstream(t, "hotspots"), newUpstream(t, "officers")
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": connected\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(stream.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	dead, hung := deadURL(t), hangs(t)
	gw := serve(t, fmt.Sprintf("/m1/hotspots=%s; /m1/stream=%s; /m1/reports/=%s; /m1/down=%s; /m1/slow[timeout=1s]=%s; /m1/=%s,%s",
		hotspots.URL, stream.URL, notFound.URL, dead, hung, dead, officers.URL), 0)
	const token = "tok-fedcba9876543210"
	// What this test adds: a run again (-count) finds the last run's.
	before, _ := scrape(t, gw)

	for i := range 2 {
		if st, a := get(t, fmt.Sprintf("%s/m1/hotspots?status=active&limit=%d", gw, i)); st != 200 || a.Name != "hotspots" {
			t.Fatalf("GET hotspots: %d from %q", st, a.Name)
		}
	}
	if st, _ := get(t, gw+"/m1/reports/weekly/2024-W11.html"); st != 404 {
		t.Fatalf("GET a report: %d, want the reporter's 404", st)
	}
	if st, _ := get(t, gw+"/m1/down?access_token="+token); st != 503 {
		t.Fatalf("GET down: %d, want 503", st)
	}
	if st, _ := get(t, gw+"/m1/slow"); st != 504 {
		t.Fatalf("GET slow: %d, want 504", st)
	}
	// Two POSTs on a route of two replicas, one down: one of them is
	// refused by it first and sent on.
	for range 2 {
		resp, err := http.Post(gw+"/m1/cases/c1/accept", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
	}
	// An event stream is counted when it starts, and open until it ends.
	req, _ := http.NewRequest("GET", gw+"/m1/stream?access_token="+token, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}

	after, text := scrape(t, gw)
	for series, want := range map[string]float64{
		`nuisance_gateway_requests_total{code="200",method="GET",route="/m1/hotspots"}`: 2,
		`nuisance_gateway_requests_total{code="404",method="GET",route="/m1/reports/"}`: 1,
		`nuisance_gateway_requests_total{code="503",method="GET",route="/m1/down"}`:     1,
		`nuisance_gateway_requests_total{code="504",method="GET",route="/m1/slow"}`:     1,
		`nuisance_gateway_requests_total{code="200",method="POST",route="/m1/"}`:        2,
		`nuisance_gateway_requests_total{code="200",method="GET",route="/m1/stream"}`:   1,
		`nuisance_gateway_response_header_seconds_count{route="/m1/hotspots"}`:          2,
		`nuisance_gateway_response_header_seconds_count{route="/m1/slow"}`:              1,
		`nuisance_gateway_response_header_seconds_count{route="/m1/stream"}`:            1,
		`nuisance_gateway_response_header_seconds_bucket{route="/m1/slow",le="0.5"}`:    0,
		`nuisance_gateway_response_header_seconds_bucket{route="/m1/slow",le="+Inf"}`:   1,
		`nuisance_gateway_streams_open{route="/m1/stream"}`:                             1,
		`nuisance_gateway_streams_open{route="/m1/hotspots"}`:                           0,
		`nuisance_gateway_upstream_errors_total{kind="refused",route="/m1/down"}`:       1,
		`nuisance_gateway_upstream_errors_total{kind="refused",route="/m1/"}`:           1,
		`nuisance_gateway_upstream_errors_total{kind="timeout",route="/m1/slow"}`:       1,
		`nuisance_gateway_upstream_errors_total{kind="timeout",route="/m1/hotspots"}`:   0,
		`nuisance_gateway_failovers_total{route="/m1/"}`:                                1,
		`nuisance_gateway_failovers_total{route="/m1/down"}`:                            0,
		`nuisance_gateway_upstream_errors_total{kind="other",route="/m1/slow"}`:         0,
		`nuisance_gateway_requests_total{code="200",method="GET",route="/m1/reports/"}`: 0,
	} {
		_, ok := after[series]
		if got := after[series] - before[series]; got != want || (want > 0 && !ok) {
			t.Errorf("%s rose by %v (there: %v), want %v", series, got, ok, want)
		}
	}
	// No label holds a query, a token or an upstream's address.
	for _, leak := range []string{token, "access_token", "?", "status=active", strings.TrimPrefix(dead, "http://"), strings.TrimPrefix(hotspots.URL, "http://")} {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "nuisance_gateway_") && strings.Contains(l, leak) {
				t.Errorf("/metrics shows %q: %s", leak, l)
			}
		}
	}

	// The stream ended is no longer open.
	resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, _ := scrape(t, gw)
		if m[`nuisance_gateway_streams_open{route="/m1/stream"}`] == before[`nuisance_gateway_streams_open{route="/m1/stream"}`] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream is still counted open 10 s after its client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A route given a longer timeout waits for a service slower than the
// default allows (the reporter generating a week's report); one given a
// shorter one gives up on its replica sooner than the default would.
func TestARouteWaitsForItsOwnTimeout(t *testing.T) {
	t.Parallel()
	const defaultTimeout = 200 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Well past the default's bound, far within the route's.
		time.Sleep(5 * defaultTimeout)
		fmt.Fprint(w, "the week's report")
	}))
	t.Cleanup(slow.Close)
	hung := hangs(t)
	gw := serve(t, fmt.Sprintf("/reports/[timeout=5m]=%s; /api/v1/hotspots[timeout=1s]=%s; /=%s", slow.URL, hung, slow.URL), defaultTimeout)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/reports/weekly/2024-W11.html", 200},
		{"/officer/", 504},
	} {
		resp, err := client.Get(gw + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.path, resp.StatusCode, b, tt.want)
		}
	}

	// The same with a default of a minute: the route's second ends the
	// wait on a replica that never answers, well before the client's.
	gw = serve(t, "/api/v1/hotspots[timeout=1s]="+hung+"; /="+slow.URL, time.Minute)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(gw + "/api/v1/hotspots")
	if err != nil {
		t.Fatalf("%v: want the route's timeout to answer first", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || !strings.Contains(string(b), "/api/v1/hotspots") {
		t.Errorf("%d %s, want a 504 naming the route", resp.StatusCode, b)
	}
}

func TestParseRoutesReadsATimeout(t *testing.T) {
	t.Parallel()
	rs, err := ParseRoutes("/api/v1/hotspots=http://h:8080; /reports/[timeout=5m]=http://r1:8080,http://r2:8080; /api/v1/[timeout=90s]=http://[::1]:8080 /=http://[fd00::1]:8080")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		prefix  string
		timeout time.Duration
		hosts   string
	}{
		{"/api/v1/hotspots", 0, "h:8080"},
		{"/reports/", 5 * time.Minute, "r1:8080 r2:8080"},
		{"/api/v1/", 90 * time.Second, "[::1]:8080"},
		{"/", 0, "[fd00::1]:8080"},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d routes, want %d: %v", len(rs), len(want), rs)
	}
	for i, w := range want {
		var hosts []string
		for _, u := range rs[i].Upstreams {
			hosts = append(hosts, u.Host)
		}
		if rs[i].Prefix != w.prefix || rs[i].HeaderTimeout != w.timeout || strings.Join(hosts, " ") != w.hosts {
			t.Errorf("route %d: %s timeout %s to %v, want %s timeout %s to %s", i, rs[i].Prefix, rs[i].HeaderTimeout, hosts, w.prefix, w.timeout, w.hosts)
		}
	}

	for _, s := range []string{
		"/reports/[timeout=5]=http://r:8080",     // no unit
		"/reports/[timeout=0s]=http://r:8080",    // none
		"/reports/[timeout=-5m]=http://r:8080",   // negative
		"/reports/[timeout=500ms]=http://r:8080", // 5m mistyped
		"/reports/[timeout=2h]=http://r:8080",    // a hang held for hours
		"/reports/[timeout=]=http://r:8080",      // empty
		"/reports/[]=http://r:8080",              // no option
		"/reports/[retries=2]=http://r:8080",     // unknown
		"/reports/[timeout=5m,timeout=6m]=http://r:8080",
		"/reports/[timeout=5m=http://r:8080",                                          // unclosed
		"/reports/[timeout=5m]http://r:8080",                                          // no "="
		"/reports/[timeout=5m]=http://r:8080/x",                                       // the upstream's own errors still name the route
		"/=http://o:8080;/reports/[timeout=5m]=http://r:8080;/reports/=http://r:8080", // given twice
	} {
		_, err := ParseRoutes(s)
		if err == nil {
			t.Errorf("%q: no error", s)
			continue
		}
		if !strings.Contains(err.Error(), "route /reports/") {
			t.Errorf("%q: %v, want the error to name the route /reports/", s, err)
		}
	}
}

// A route's own timeout needs the gateway's transport, which it bounds.
func TestATimeoutOfItsOwnNeedsTheDefaultTransport(t *testing.T) {
	t.Parallel()
	rs, err := ParseRoutes("/reports/[timeout=5m]=http://r:8080;/=http://o:8080")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Routes: rs, Transport: http.DefaultTransport}); err == nil || !strings.Contains(err.Error(), "/reports/") {
		t.Errorf("got %v, want an error naming the route", err)
	}
	if _, err := New(Config{Routes: rs}); err != nil {
		t.Error(err)
	}
}
