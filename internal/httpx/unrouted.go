package httpx

import (
	"bytes"
	"fmt"
	"net/http"
)

// WithProblems serves mux, and answers a request no route of it takes as
// a problem (RFC 9457) instead of the mux's plain text: 404 for a path no
// route has, 405 with its Allow header for a method the path's routes do
// not take. Whatever else the mux answers by itself (the redirect to a
// path's canonical form) passes unchanged.
func WithProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		c := &captured{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(c, r)
		switch c.status {
		case http.StatusNotFound:
			WriteProblem(w, Problem{Type: "https://nuisance.xm.gov/problems/not_found", Status: c.status,
				Detail: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
		case http.StatusMethodNotAllowed:
			allow := c.header.Get("Allow")
			w.Header().Set("Allow", allow)
			WriteProblem(w, Problem{Type: "https://nuisance.xm.gov/problems/method_not_allowed", Status: c.status,
				Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)})
		default:
			for k, v := range c.header {
				w.Header()[k] = v
			}
			w.WriteHeader(c.status)
			_, _ = w.Write(c.body.Bytes())
		}
	})
}

// captured keeps what the mux answers by itself.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header         { return c.header }
func (c *captured) WriteHeader(status int)      { c.status = status }
func (c *captured) Write(b []byte) (int, error) { return c.body.Write(b) }
