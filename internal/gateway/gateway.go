// Package gateway is the front door of the distributed deployment: one
// address for the officers' console and every API it calls, each path
// sent to the service that serves it. In the all-in-one process one mux
// serves everything; split into processes, the console's calls to the
// hotspots and the reports would otherwise reach a process that does not
// serve them. Services never call each other: the gateway only proxies
// the clients' requests.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// Route sends the requests whose path starts with Prefix to one of
// Upstreams, the replicas of one service.
type Route struct {
	// Prefix is matched on whole path segments: "/api/v1/hotspots"
	// takes /api/v1/hotspots and /api/v1/hotspots/weekly, not
	// /api/v1/hotspotsx; one ending in "/" takes what starts with it.
	Prefix string
	// Upstreams are base URLs (scheme and host) of the replicas.
	Upstreams []*url.URL
	// HeaderTimeout bounds the wait for a replica's response headers
	// on this route, for a service slower to answer than the others
	// (the reporter generating a week's report); 0: the gateway's
	// (Config.HeaderTimeout).
	HeaderTimeout time.Duration
}

// Name is how problems and logs name the route: its prefix, never an
// upstream's internal address.
func (r Route) Name() string { return r.Prefix }

// matches reports whether the route takes path.
func (r Route) matches(path string) bool {
	if r.Prefix == "/" || strings.HasSuffix(r.Prefix, "/") {
		return strings.HasPrefix(path, r.Prefix)
	}
	return path == r.Prefix || strings.HasPrefix(path, r.Prefix+"/")
}

// Match is the route that serves path: the longest prefix that takes it.
// A deployment's tests ask it which service a console's call reaches.
func Match(routes []Route, path string) (Route, bool) {
	best := -1
	for i, r := range routes {
		if r.matches(path) && (best < 0 || len(r.Prefix) > len(routes[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return Route{}, false
	}
	return routes[best], true
}

// DefaultHeaderTimeout is how long the gateway waits for a replica's
// response headers on a route with no timeout of its own, unless
// Config.HeaderTimeout says otherwise.
const DefaultHeaderTimeout = 60 * time.Second

// Bounds of a route's header timeout: under a second is a unit mistyped
// (5ms for 5m); over an hour, a replica that hangs holds its client and
// connection nearly for ever.
const (
	minHeaderTimeout = time.Second
	maxHeaderTimeout = time.Hour
)

// ParseRoutes reads routes written PREFIX[OPTIONS]=URL[,URL...],
// separated by semicolons or white space, e.g.
//
//	/api/v1/hotspots=http://hotspots:8080; /reports/[timeout=5m]=http://reporter:8080; /=http://officers-1:8080,http://officers-2:8080
//
// The options, in brackets between the prefix and "=", are optional:
// timeout=DURATION (Go's syntax, from 1s to 1h, e.g. 90s or 5m) bounds
// the wait for the route's response headers in place of the gateway's
// default (60 s). A route with no options is written as before.
func ParseRoutes(s string) ([]Route, error) {
	var out []Route
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' || r == '\n' }) {
		prefix, ups, ok := strings.Cut(e, "=")
		opts, hasOpts := "", false
		if i := strings.IndexByte(prefix, '['); i >= 0 {
			// The options' own "=" came first: the prefix ends at the
			// bracket, the upstreams begin after the "]=". A bracket
			// after the first "=" is an upstream's (an IPv6 host).
			j := strings.IndexByte(e[i:], ']')
			if j < 0 || !strings.HasPrefix(e[i+j+1:], "=") {
				return nil, fmt.Errorf("route %s: want /PREFIX[timeout=DURATION]=http://HOST:PORT[,http://HOST:PORT...]", e[:i])
			}
			prefix, opts, ups, hasOpts = e[:i], e[i+1:i+j], e[i+j+2:], true
		}
		if !ok || !strings.HasPrefix(prefix, "/") {
			return nil, fmt.Errorf("route %q: want /PREFIX[timeout=DURATION]=http://HOST:PORT[,http://HOST:PORT...]", e)
		}
		if slices.ContainsFunc(out, func(r Route) bool { return r.Prefix == prefix }) {
			return nil, fmt.Errorf("route %s: given twice", prefix)
		}
		r := Route{Prefix: prefix}
		if hasOpts {
			if err := r.parseOptions(opts); err != nil {
				return nil, err
			}
		}
		for _, raw := range strings.Split(ups, ",") {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				return nil, fmt.Errorf("route %s: upstream %q: want http://HOST:PORT", prefix, raw)
			}
			u.Path = ""
			r.Upstreams = append(r.Upstreams, u)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no routes: want at least /=http://HOST:PORT")
	}
	return out, nil
}

// parseOptions reads the options of a route, written between brackets
// after its prefix: timeout=DURATION.
func (r *Route) parseOptions(opts string) error {
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "timeout":
			if r.HeaderTimeout != 0 {
				return fmt.Errorf("route %s: timeout given twice", r.Prefix)
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < minHeaderTimeout || d > maxHeaderTimeout {
				return fmt.Errorf("route %s: timeout %q: want a duration from %s to %s, e.g. [timeout=5m]", r.Prefix, v, minHeaderTimeout, maxHeaderTimeout)
			}
			r.HeaderTimeout = d
		default:
			return fmt.Errorf("route %s: option %q: want [timeout=DURATION]", r.Prefix, o)
		}
	}
	return nil
}

// Config is the gateway's routing and what it runs on.
type Config struct {
	Routes []Route
	// Transport reaches the upstreams; nil: a default one per header
	// timeout. One given serves every route with its own bounds, and
	// then no route may have a timeout of its own.
	Transport http.RoundTripper
	// HeaderTimeout bounds the wait for an upstream's response headers
	// with the default Transport, on the routes with no timeout of their
	// own, so that a replica that hangs does not hold the client and the
	// gateway's connection for ever; 0: 60 s. It bounds each attempt: a
	// GET whose replica timed out is sent on to the next. An event
	// stream's headers come at once, its events after them.
	HeaderTimeout time.Duration
	// TrustedProxies are the load balancers in front of the gateway
	// (NUISANCE_TRUSTED_PROXIES) whose X-Forwarded-For it passes on;
	// any other client's is dropped. The services trust the gateway's
	// whole network, whose host-side address (a published port's proxy)
	// is a peer of the gateway too: a client's own entries passed on
	// from there would be read as its address.
	TrustedProxies []netip.Prefix
	Log            *zap.Logger
}

// Gateway is the proxy; it is an http.Handler.
type Gateway struct {
	routes []route // longest prefix first
	log    *zap.Logger
	mux    *http.ServeMux // the gateway's own /healthz, /readyz, /metrics
}

type route struct {
	Route
	proxy   *httputil.ReverseProxy
	metrics *routeMetrics
}

// New builds the gateway for cfg's routes.
func New(cfg Config) (*Gateway, error) {
	if len(cfg.Routes) == 0 {
		return nil, errors.New("gateway: no routes")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	// ResponseHeaderTimeout is a transport's: one transport for each
	// timeout the routes have.
	transports := map[time.Duration]http.RoundTripper{}
	g := &Gateway{log: cfg.Log, mux: http.NewServeMux()}
	for _, r := range cfg.Routes {
		if len(r.Upstreams) == 0 {
			return nil, fmt.Errorf("gateway: route %s has no upstream", r.Prefix)
		}
		if r.HeaderTimeout < 0 {
			return nil, fmt.Errorf("gateway: route %s: timeout %s", r.Prefix, r.HeaderTimeout)
		}
		tr := cfg.Transport
		if tr == nil {
			d := cmp.Or(r.HeaderTimeout, cfg.HeaderTimeout)
			if transports[d] == nil {
				transports[d] = defaultTransport(d)
			}
			tr = transports[d]
		} else if r.HeaderTimeout != 0 {
			return nil, fmt.Errorf("gateway: route %s: a timeout of its own needs the default transport", r.Prefix)
		}
		g.routes = append(g.routes, g.route(r, tr, cfg.TrustedProxies))
	}
	// Longest prefix first: /api/v1/hotspots before /api/v1/ before /.
	slices.SortStableFunc(g.routes, func(a, b route) int { return len(b.Prefix) - len(a.Prefix) })
	httpx.Ops(g.mux)
	return g, nil
}

// defaultTransport is http.DefaultTransport's settings with a bound on
// how long an upstream may take to connect, so that a replica that
// swallows connections is left for the next one, and on how long it may
// take to answer.
func defaultTransport(headerTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = headerTimeout
	// The upstreams are the deployment's own services: never through
	// an HTTP_PROXY the environment (or Docker's client) sets, which
	// would carry the officers' tokens out of it.
	t.Proxy = nil
	t.MaxIdleConnsPerHost = 32
	return t
}

func (g *Gateway) route(r Route, base http.RoundTripper, trusted []netip.Prefix) route {
	name := r.Name()
	m := newRouteMetrics(name)
	ft := &failover{upstreams: r.Upstreams, base: base, metrics: m}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The scheme and host are the failover's to choose per
			// attempt; the first replica stands in until then.
			pr.SetURL(r.Upstreams[0])
			// The peer is appended to the X-Forwarded-For of a trusted
			// load balancer, and is the whole of anyone else's.
			if trustedPeer(trusted, pr.In.RemoteAddr) {
				pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			}
			pr.SetXForwarded()
		},
		Transport: ft,
		// Event streams (the officers' live push) go out as each
		// event comes; the rest is copied in 32 KiB writes anyway.
		FlushInterval: -1,
		ErrorLog:      zap.NewStdLog(g.log.Named("proxy")),
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			g.fail(w, req, name, err)
		},
	}
	return route{Route: r, proxy: p, metrics: m}
}

// ServeHTTP answers the gateway's own /healthz, /readyz and /metrics and
// proxies everything else by the longest matching prefix.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		g.mux.ServeHTTP(w, r)
		return
	}
	for _, rt := range g.routes {
		if rt.matches(r.URL.Path) {
			if c := httpx.Closing(r.Context()); c != nil && isStream(r) {
				// A stream ends when the gateway begins to stop, so
				// that the shutdown need not wait for it: the client
				// reconnects, to another replica.
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				go func() {
					select {
					case <-c:
						cancel()
					case <-ctx.Done():
					}
				}()
				r = r.WithContext(ctx)
			}
			rt.metrics.serve(rt.proxy, w, r)
			return
		}
	}
	httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/not_found", Status: http.StatusNotFound,
		Detail: "no service serves this path"})
}

// trustedPeer reports whether a request's peer is one of trusted.
func trustedPeer(trusted []netip.Prefix, remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap().WithZone("")
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// isStream tells a Server-Sent Events request, which may last for hours.
func isStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// fail answers a request that no replica of the route could serve as an
// RFC 9457 problem naming the route. The log names the method, the path
// (never the query, which may hold an access token) and the error.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, route string, err error) {
	if r.Context().Err() != nil {
		return // the client is gone: nobody reads the answer
	}
	st, kind := http.StatusBadGateway, "bad_gateway"
	var down *allDown
	switch {
	case errors.As(err, &down):
		st, kind = http.StatusServiceUnavailable, "unavailable"
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, context.DeadlineExceeded):
		st, kind = http.StatusGatewayTimeout, "gateway_timeout"
	}
	g.log.Warn("upstream failed", zap.String("route", route), zap.String("method", r.Method),
		zap.String("path", r.URL.Path), zap.Int("status", st), logging.Error(err))
	httpx.WriteProblem(w, httpx.Problem{Type: "https://nuisance.xm.gov/problems/" + kind, Status: st,
		Detail: fmt.Sprintf("the service of %s did not answer; retry later", route)})
}

// allDown is the error of a request that no replica took: each refused
// the connection (or could not be reached).
type allDown struct{ last error }

func (e *allDown) Error() string { return "no replica reachable: " + e.last.Error() }
func (e *allDown) Unwrap() error { return e.last }

// failover sends a request to the route's replicas in turn, starting with
// the next in rotation, and goes on to the next one when a replica cannot
// be reached; a request that may have reached a replica is sent again
// only when that is safe (GET, HEAD, OPTIONS without a body).
type failover struct {
	upstreams []*url.URL
	base      http.RoundTripper
	metrics   *routeMetrics
	next      atomic.Uint32
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	n := len(f.upstreams)
	start := int(f.next.Add(1)-1) % n
	body := req.Body
	if body != nil && n > 1 {
		// The transport closes a body it could not send; held open, it
		// can go to the next replica when the first was never reached.
		req.Body = held{body}
		defer body.Close()
	}
	reached := false
	var err error
	for i := range n {
		u := f.upstreams[(start+i)%n]
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = u.Scheme, u.Host
		out.Host = ""
		var resp *http.Response
		resp, err = f.base.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		if req.Context().Err() != nil {
			return nil, err // the client is gone, not the replica
		}
		last := i == n-1
		if dialFailed(err) {
			f.metrics.refused.Inc()
		} else {
			if errors.Is(err, context.DeadlineExceeded) {
				f.metrics.timedOut.Inc()
			} else {
				f.metrics.broken.Inc()
			}
			reached = true
			if !idempotent(req) {
				break
			}
		}
		if !last {
			f.metrics.failovers.Inc()
		}
	}
	if !reached {
		return nil, &allDown{last: err}
	}
	return nil, err
}

// held is a request body whose Close is left to the failover.
type held struct{ io.Reader }

func (held) Close() error { return nil }

// dialFailed tells an error of a connection never made: the request
// never left the gateway.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// idempotent tells a request that can be sent twice without harm.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	}
	return false
}

// Server is the HTTP server the gateway runs on: the services' bounds on
// reading a request, and none on writing the response, which would cut
// the officers' event streams (hours long) at the bound.
func Server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
}
