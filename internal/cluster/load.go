package cluster

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Restore rebuilds the engine's memory at start from what was persisted:
// every member received since cfg.RestoreFrom(latest), and the hotspots
// they belong to plus every hotspot not closed. Members of other districts
// are skipped; a malformed member is an error.
func (e *Engine) Restore(members []Member, hotspots []Hotspot) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range hotspots {
		if e.hotspots[r.ID] == nil {
			e.hotspots[r.ID] = newHotspot(r)
		}
	}
	for _, h := range e.hotspots {
		if h.rec.MergedInto != "" && h.into == nil {
			h.into = e.hotspots[h.rec.MergedInto]
		}
	}
	var fresh []*node
	for _, m := range members {
		if e.districts != nil && !e.districts[m.District] {
			continue
		}
		n, err := e.newNode(m.Point)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if e.nodes[n.id] != nil {
			continue
		}
		e.put(n)
		e.attach(n, m.HotspotID)
		fresh = append(fresh, n)
		if !e.seen || n.at > e.latest {
			e.latest, e.seen = n.at, true
		}
	}
	e.settle(fresh)
	e.sweep()
	return nil
}

// attach puts a persisted point back into its hotspot without counting it
// again. A hotspot the engine no longer knows is rebuilt as closed from the
// members it meets.
func (e *Engine) attach(n *node, id string) {
	if id == "" {
		return
	}
	h := e.hotspots[id]
	if h == nil {
		h = newHotspot(Hotspot{ID: id, Category: e.cats[n.cat].name, District: e.distNames[n.dist], Status: StatusClosed})
		e.hotspots[id] = h
	}
	h = h.resolve()
	n.hs = h
	if h.rec.Count < len(h.members)+1 {
		// A stub learns its members as they are loaded.
		h.join(n)
		return
	}
	h.attach(n)
}

// settle computes the neighbourhood size, core status and nearest core of
// points put into memory from persisted state. It is exact for points whose
// neighbours' neighbourhoods are in memory as well.
func (e *Engine) settle(ns []*node) {
	for _, n := range ns {
		n.count = 1
		e.ix.neighbours(n, func(m *node, _ float64) {
			if counts(n, m) {
				n.count++
			}
		})
		n.core = n.count >= n.params.min
	}
	for _, n := range ns {
		if n.core {
			continue
		}
		n.hasNear, n.nearID = false, ""
		e.ix.neighbours(n, func(c *node, d float64) {
			if c.core && closer(n, c, d) {
				n.hasNear, n.nearD, n.nearID = true, d, c.id
			}
		})
	}
}

// span is a box of the space-time already asked of the Store.
type span struct {
	minLon, minLat, maxLon, maxLat float64
	from, to                       int64
}

func (s span) covers(o span) bool {
	return s.minLon <= o.minLon && s.maxLon >= o.maxLon && s.minLat <= o.minLat && s.maxLat >= o.maxLat &&
		s.from <= o.from && s.to >= o.to
}

// boxAround is the box of the points within r metres of n.
func boxAround(n *node, r float64) span {
	dLat := r / metresPerDegree
	cosLat := math.Cos(math.Min(89, math.Abs(n.lat)+dLat) * math.Pi / 180)
	dLon := r / (metresPerDegree * cosLat) * 1.001
	return span{minLon: n.lon - dLon, maxLon: n.lon + dLon, minLat: n.lat - dLat, maxLat: n.lat + dLat}
}

// load brings back from the Store the history a late point p needs: the
// neighbourhoods of every point up to three neighbour hops from p, so that
// all state the clustering step reads (counts of the first hop, core status
// of the second, nearest cores of the second, which depend on the core
// status of the third) is exact. It returns the points it added to memory.
func (e *Engine) load(ctx context.Context, p *node) ([]*node, error) {
	cs := e.cats[p.cat]
	r, w := cs.maxR, cs.maxW
	h := e.horizon()
	var loaded []*node
	var boxes []span
	keys := make(map[string][]span)

	fetch := func(b span, key string, withBox bool) error {
		minLon, minLat, maxLon, maxLat := b.minLon, b.minLat, b.maxLon, b.maxLat
		if !withBox {
			minLon, minLat, maxLon, maxLat = 1, 0, -1, 0 // empty box: the key only
		}
		ms, err := e.store.PointsNear(ctx, cs.name, minLon, minLat, maxLon, maxLat,
			time.Unix(0, b.from).UTC(), time.Unix(0, b.to).UTC(), key)
		if err != nil {
			return err
		}
		if withBox {
			boxes = append(boxes, b)
		}
		if key != "" {
			keys[key] = append(keys[key], span{from: b.from, to: b.to})
		}
		for _, m := range ms {
			if m.Category != cs.name || m.District != e.distNames[p.dist] || e.nodes[m.ID] != nil {
				continue
			}
			n, err := e.newNode(m.Point)
			if err != nil {
				return fmt.Errorf("stored %w", err)
			}
			if err := e.recall(ctx, m.HotspotID); err != nil {
				return err
			}
			e.put(n)
			e.attach(n, m.HotspotID)
			loaded = append(loaded, n)
		}
		return nil
	}

	// The first query covers the common case, every hop nearby.
	first := span{minLon: 1, maxLon: -1, from: p.at - 4*w, to: p.at + 4*w}
	if p.located() {
		b := boxAround(p, 4*r)
		first.minLon, first.minLat, first.maxLon, first.maxLat = b.minLon, b.minLat, b.maxLon, b.maxLat
	}
	if err := fetch(first, p.key, p.located()); err != nil {
		return loaded, err
	}

	seen := map[*node]bool{p: true}
	level := []*node{p}
	for hop := 0; ; hop++ {
		// Make sure every point of this hop has its neighbourhood loaded.
		need := span{minLon: math.Inf(1), minLat: math.Inf(1), maxLon: math.Inf(-1), maxLat: math.Inf(-1), from: math.MaxInt64, to: math.MinInt64}
		needBox := false
		for _, n := range level {
			if n.at-w >= h {
				continue // memory holds its whole neighbourhood
			}
			if n.located() {
				b := boxAround(n, r)
				b.from, b.to = n.at-w, n.at+w
				if !coveredBy(boxes, b) {
					needBox = true
					need.minLon, need.minLat = math.Min(need.minLon, b.minLon), math.Min(need.minLat, b.minLat)
					need.maxLon, need.maxLat = math.Max(need.maxLon, b.maxLon), math.Max(need.maxLat, b.maxLat)
					need.from, need.to = min(need.from, b.from), max(need.to, b.to)
				}
			}
			if n.key != "" && !coveredBy(keys[n.key], span{from: n.at - w, to: n.at + w}) {
				if err := fetch(span{from: n.at - 4*w, to: n.at + 4*w}, n.key, false); err != nil {
					return loaded, err
				}
			}
		}
		if needBox {
			if err := fetch(need, "", true); err != nil {
				return loaded, err
			}
		}
		if hop == 3 {
			break
		}
		var next []*node
		for _, n := range level {
			e.ix.neighbours(n, func(m *node, _ float64) {
				if !seen[m] {
					seen[m] = true
					next = append(next, m)
				}
			})
		}
		if len(next) == 0 {
			break
		}
		level = next
	}
	e.settle(loaded)
	return loaded, nil
}

// recall brings back from the Store the record of a hotspot the engine
// has forgotten, so that the members a late complaint loads join a record
// that counts all of its members, not only those loaded.
func (e *Engine) recall(ctx context.Context, id string) error {
	if id == "" || e.hotspots[id] != nil {
		return nil
	}
	rec, ok, err := e.store.Hotspot(ctx, id)
	if err != nil {
		return fmt.Errorf("stored hotspot %s: %w", id, err)
	}
	if !ok {
		return nil // attach makes a closed record of the members it meets
	}
	h := newHotspot(rec)
	e.hotspots[id] = h
	if rec.MergedInto != "" {
		if err := e.recall(ctx, rec.MergedInto); err != nil {
			return err
		}
		h.into = e.hotspots[rec.MergedInto]
	}
	return nil
}

func coveredBy(spans []span, b span) bool {
	for _, s := range spans {
		if s.covers(b) {
			return true
		}
	}
	return false
}

// unload evicts the points a late complaint brought back, once handled.
func (e *Engine) unload(ns []*node) {
	h := e.horizon()
	for _, n := range ns {
		if n.at < h && e.nodes[n.id] == n {
			e.drop(n)
		}
	}
}
