// Package httpx holds the HTTP pieces every process shares: RFC 9457
// problem responses, health and readiness, metrics, graceful serving, the
// client a request comes from behind trusted proxies.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors names each offending field (JSON pointer) and what is wrong.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one offending input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteError writes err as a problem whose status follows its fault kind.
// Internal errors are logged and shown without their detail.
func WriteError(w http.ResponseWriter, log *zap.Logger, err error) {
	k := fault.KindOf(err)
	st := fault.HTTPStatus(k)
	detail := err.Error()
	if st >= 500 {
		log.Error("request failed", logging.Error(err))
		if k == fault.Internal {
			detail = "internal error"
		}
	}
	WriteProblem(w, Problem{Type: "https://nuisance.xm.gov/problems/" + k.String(), Status: st, Detail: detail})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Check is a readiness probe of one dependency.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// ready is what the readiness checks last found, for Prometheus: a
// process whose database is gone answers /readyz 503 while its up stays
// 1, and on a quiet night no request fails to tell it.
var ready = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "nuisance_ready",
	Help: "Whether the process's dependency answered its readiness check (1) or not (0), by check (postgres, nats, jetstream): the checks of /readyz, run every 5 s.",
}, []string{"check"})

// CheckTimeout bounds each readiness check.
const CheckTimeout = 2 * time.Second

// RunChecks runs the checks side by side, each within CheckTimeout, sets
// nuisance_ready from their outcome and returns their errors in order
// (nil for a check that passed). Once ctx has ended (a client gone, a
// shutdown) the outcome says nothing of the dependencies and is not
// recorded.
func RunChecks(ctx context.Context, checks []Check) []error {
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			errs[i] = c.Fn(cctx)
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		for i, c := range checks {
			v := 1.0
			if errs[i] != nil {
				v = 0
			}
			ready.WithLabelValues(c.Name).Set(v)
		}
	}
	return errs
}

// Ops mounts /healthz, /readyz and /metrics on mux.
func Ops(mux Mux, checks ...Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, 200, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		res := map[string]string{}
		st := 200
		// The why of a failed check (a driver's error names the database's
		// user, name, host and port) is told on the host only: a port
		// published to the hotline or a proxy's clients says which check
		// failed, and the process's log says why.
		// A request a proxy on the host forwarded (nginx to 127.0.0.1,
		// not among the trusted proxies) is not the host's own.
		local := r.RemoteAddr != "" && ClientAddr(r).IsLoopback() &&
			r.Header.Get("X-Forwarded-For") == "" && r.Header.Get("Forwarded") == "" && r.Header.Get("X-Real-Ip") == ""
		for i, err := range RunChecks(r.Context(), checks) {
			if err != nil {
				res[checks[i].Name] = "failed: see the process's log, or /readyz from its host"
				if local {
					res[checks[i].Name] = err.Error()
				}
				st = 503
			} else {
				res[checks[i].Name] = "ok"
			}
		}
		WriteJSON(w, st, res)
	})
	mux.Handle("GET /metrics", promhttp.Handler())
}

// Serve runs srv on ln until ctx is cancelled, then stops accepting and
// waits up to grace for in-flight requests. The TCP connections it
// accepts notice a dead peer by DefaultLiveness, or the Liveness of
// WithLiveness.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, opts ...ServeOption) error {
	o := serveOptions{liveness: DefaultLiveness()}
	for _, opt := range opts {
		opt(&o)
	}
	ln = liveListener{Listener: ln, l: o.liveness}
	closing := make(chan struct{})
	srv.BaseContext = func(net.Listener) context.Context {
		return context.WithValue(context.Background(), closingKey{}, (<-chan struct{})(closing))
	}
	srv.RegisterOnShutdown(func() { close(closing) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}

type closingKey struct{}

// Closing is closed when the server begins shutting down: long-lived
// responses (event streams) end on it so the shutdown does not wait for
// them, while ordinary requests in flight finish.
func Closing(ctx context.Context) <-chan struct{} {
	if c, ok := ctx.Value(closingKey{}).(<-chan struct{}); ok {
		return c
	}
	return nil
}
