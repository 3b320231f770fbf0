package httpx

import (
	"net/http"
	"sort"
	"sync"
)

// Mux is what a service needs to mount its routes; *http.ServeMux is one.
// Services take a Mux so the OpenAPI test can record every route.
type Mux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// RecordingMux is a ServeMux that remembers the patterns mounted on it.
type RecordingMux struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

// NewRecordingMux returns an empty RecordingMux.
func NewRecordingMux() *RecordingMux { return &RecordingMux{ServeMux: http.NewServeMux()} }

// Handle mounts handler and records pattern.
func (m *RecordingMux) Handle(pattern string, handler http.Handler) {
	m.record(pattern)
	m.ServeMux.Handle(pattern, handler)
}

// HandleFunc mounts handler and records pattern.
func (m *RecordingMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.record(pattern)
	m.ServeMux.HandleFunc(pattern, handler)
}

func (m *RecordingMux) record(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.patterns = append(m.patterns, p)
}

// Patterns returns the recorded patterns ("GET /path/{id}"), sorted.
func (m *RecordingMux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]string(nil), m.patterns...)
	sort.Strings(out)
	return out
}
