package cluster

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemStore is an in-memory Store that persists Results the way the
// hotspots service does in PostgreSQL, for tests, simulations and replays
// that run without a database.
type MemStore struct {
	mu       sync.Mutex
	members  map[string]Member
	hotspots map[string]Hotspot
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{members: make(map[string]Member), hotspots: make(map[string]Hotspot)}
}

// Hotspot implements Store.
func (s *MemStore) Hotspot(_ context.Context, id string) (Hotspot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hotspots[id]
	return h, ok, nil
}

// ApplyChanges persists the statuses of time-driven changes (Tick).
func (s *MemStore) ApplyChanges(cs []Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		if h, ok := s.hotspots[c.HotspotID]; ok {
			h.Status = c.Status
			s.hotspots[c.HotspotID] = h
		}
	}
}

// Apply persists a Result: its members and hotspots, and the relabelling
// of every stored member of a hotspot the Result reports as merged.
func (s *MemStore) Apply(r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range r.Members {
		s.members[m.ID] = m
	}
	relabel := make(map[string]string)
	for _, h := range r.Hotspots {
		s.hotspots[h.ID] = h
		if h.MergedInto != "" {
			relabel[h.ID] = h.MergedInto
		}
	}
	if len(relabel) == 0 {
		return
	}
	for id, m := range s.members {
		if to, ok := relabel[m.HotspotID]; ok {
			for relabel[to] != "" {
				to = relabel[to]
			}
			m.HotspotID = to
			s.members[id] = m
		}
	}
}

// Members returns every stored member, sorted by id.
func (s *MemStore) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PointsNear implements Store by scanning every stored member.
func (s *MemStore) PointsNear(_ context.Context, category string, minLon, minLat, maxLon, maxLat float64, from, to time.Time, placeKey string) ([]Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Member
	for _, m := range s.members {
		if m.Category != category || m.At.Before(from) || m.At.After(to) {
			continue
		}
		inBox := minLon <= maxLon && m.Lon != nil &&
			*m.Lon >= minLon && *m.Lon <= maxLon && *m.Lat >= minLat && *m.Lat <= maxLat
		if inBox || (placeKey != "" && m.PlaceKey == placeKey) {
			out = append(out, m)
		}
	}
	return out, nil
}
