package gateway

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The gateway's metrics name a route by its prefix as configured: never
// the request's path or query (an event stream's access token is in its
// query), never an upstream's address.
var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_gateway_requests_total",
		Help: "Requests proxied, by route prefix, method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or other) and status code sent to the client; 499: the client left before an answer.",
	}, []string{"route", "method", "code"})
	headerSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nuisance_gateway_response_header_seconds",
		Help: "Time from a request's arrival to its response's headers (the upstream's or the gateway's problem), by route prefix; an event stream's headers come at once, the hours it stays open are not counted.",
		// Up to the default header timeout (60 s) and past it, for the
		// routes given a longer one.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
	}, []string{"route"})
	streamsOpen = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_gateway_streams_open",
		Help: "Event streams (text/event-stream) being proxied, by route prefix.",
	}, []string{"route"})
	upstreamErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_gateway_upstream_errors_total",
		Help: "Attempts at a replica that brought no answer, by route prefix and kind: refused (no connection made), timeout (no response headers within the route's timeout), other (the connection failed after the request was sent).",
	}, []string{"route", "kind"})
	failovers = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_gateway_failovers_total",
		Help: "Requests sent on to the next replica of a route after one brought no answer, by route prefix.",
	}, []string{"route"})
)

// routeMetrics are one route's series.
type routeMetrics struct {
	requests                  *prometheus.CounterVec // method, code
	headerSeconds             prometheus.Observer
	streams                   prometheus.Gauge
	refused, timedOut, broken prometheus.Counter
	failovers                 prometheus.Counter
}

func newRouteMetrics(name string) *routeMetrics {
	return &routeMetrics{
		requests:      requests.MustCurryWith(prometheus.Labels{"route": name}),
		headerSeconds: headerSeconds.WithLabelValues(name),
		streams:       streamsOpen.WithLabelValues(name),
		refused:       upstreamErrors.WithLabelValues(name, "refused"),
		timedOut:      upstreamErrors.WithLabelValues(name, "timeout"),
		broken:        upstreamErrors.WithLabelValues(name, "other"),
		failovers:     failovers.WithLabelValues(name),
	}
}

// methodClass is a request's method as a label: the standard ones by
// name, anything else a client may send as "other".
func methodClass(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// serve proxies one request through h, counting it when its response's
// headers go out: an event stream is counted at its start, and open
// until it ends.
func (m *routeMetrics) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, m: m, method: methodClass(r.Method), start: time.Now()}
	defer func() {
		if !rec.done {
			// Nothing was sent: the client left before an answer (the
			// proxy writes none for a client gone), or the handler
			// wrote nothing, which net/http sends as a 200.
			code := http.StatusOK
			if r.Context().Err() != nil {
				code = 499
			}
			rec.record(code)
		}
		if rec.stream {
			m.streams.Dec()
		}
	}()
	h.ServeHTTP(rec, r)
}

// recorder is the client's ResponseWriter, noting the status and the
// time of the response's headers.
type recorder struct {
	http.ResponseWriter
	m      *routeMetrics
	method string
	start  time.Time
	done   bool // the headers went out and were counted
	stream bool // an event stream, counted open
}

func (rec *recorder) record(code int) {
	rec.done = true
	rec.m.headerSeconds.Observe(time.Since(rec.start).Seconds())
	rec.m.requests.WithLabelValues(rec.method, strconv.Itoa(code)).Inc()
}

func (rec *recorder) WriteHeader(code int) {
	// 1xx are informational (103 Early Hints): the final status follows.
	if !rec.done && code >= 200 {
		rec.record(code)
		if code < 300 && strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			rec.stream = true
			rec.m.streams.Inc()
		}
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.done {
		rec.WriteHeader(http.StatusOK)
	}
	return rec.ResponseWriter.Write(b)
}

// Hijack is the proxy's for a protocol upgrade, whose 101 it writes on
// the connection itself.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil && !rec.done {
		rec.record(http.StatusSwitchingProtocols)
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection's Flush.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
