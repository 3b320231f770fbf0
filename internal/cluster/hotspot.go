package cluster

import (
	"sort"
	"time"
)

// hotspot is a hotspot's record plus the members the engine holds in
// memory; members outside memory are only counted in the record.
type hotspot struct {
	rec     Hotspot
	into    *hotspot // survivor when merged
	members map[*node]struct{}
	times   []int64 // in-memory members' times, sorted
	sumLon  float64
	sumLat  float64
}

// newHotspot keeps a record's centroid as sums over its located members;
// the record's Lon and Lat stay nil inside the engine and snapshot fills
// them, so that a join allocates nothing for them.
func newHotspot(rec Hotspot) *hotspot {
	h := &hotspot{rec: rec, members: make(map[*node]struct{})}
	if rec.Lon != nil && rec.Lat != nil {
		h.sumLon = *rec.Lon * float64(rec.Located)
		h.sumLat = *rec.Lat * float64(rec.Located)
	}
	h.rec.Lon, h.rec.Lat = nil, nil
	return h
}

// resolve follows merges to the surviving hotspot.
func (h *hotspot) resolve() *hotspot {
	for h != nil && h.into != nil {
		h = h.into
	}
	return h
}

// attach adds an in-memory member already counted in the record.
func (h *hotspot) attach(n *node) {
	h.members[n] = struct{}{}
	i := sort.Search(len(h.times), func(j int) bool { return h.times[j] >= n.at })
	h.times = append(h.times, 0)
	copy(h.times[i+1:], h.times[i:])
	h.times[i] = n.at
}

// detach drops an in-memory member, leaving the record as it is.
func (h *hotspot) detach(n *node) {
	delete(h.members, n)
	i := sort.Search(len(h.times), func(j int) bool { return h.times[j] >= n.at })
	if i < len(h.times) && h.times[i] == n.at {
		h.times = append(h.times[:i], h.times[i+1:]...)
	}
}

// join adds a new member to the record and to memory.
func (h *hotspot) join(n *node) {
	h.attach(n)
	at := time.Unix(0, n.at).UTC()
	if h.rec.Count == 0 || at.Before(h.rec.FirstAt) {
		h.rec.FirstAt = at
	}
	if h.rec.Count == 0 || at.After(h.rec.LastAt) {
		h.rec.LastAt = at
	}
	h.rec.Count++
	if n.located() {
		h.rec.Located++
		h.sumLon += n.lon
		h.sumLat += n.lat
	}
	if h.rec.PlaceKey == "" {
		h.rec.PlaceKey = n.key
	}
}

// leave removes a member that moved to another hotspot.
func (h *hotspot) leave(n *node) {
	h.detach(n)
	h.rec.Count--
	if n.located() {
		h.rec.Located--
		h.sumLon -= n.lon
		h.sumLat -= n.lat
	}
	// The first and last times are exact again when every member is in
	// memory; otherwise they keep the wider span.
	if len(h.times) > 0 && len(h.times) == h.rec.Count {
		h.rec.FirstAt = time.Unix(0, h.times[0]).UTC()
		h.rec.LastAt = time.Unix(0, h.times[len(h.times)-1]).UTC()
	}
}

// absorb moves every member of o into h.
func (h *hotspot) absorb(o *hotspot) {
	if o.rec.Count > 0 {
		if h.rec.Count == 0 || o.rec.FirstAt.Before(h.rec.FirstAt) {
			h.rec.FirstAt = o.rec.FirstAt
		}
		if h.rec.Count == 0 || o.rec.LastAt.After(h.rec.LastAt) {
			h.rec.LastAt = o.rec.LastAt
		}
	}
	h.rec.Count += o.rec.Count
	h.rec.Located += o.rec.Located
	h.sumLon += o.sumLon
	h.sumLat += o.sumLat
	if h.rec.PlaceKey == "" {
		h.rec.PlaceKey = o.rec.PlaceKey
	}
	if o.rec.ResolvedAt.After(h.rec.ResolvedAt) {
		h.rec.ResolvedAt = o.rec.ResolvedAt
	}
	for n := range o.members {
		n.hs = h
		h.members[n] = struct{}{}
	}
	h.times = mergeSorted(h.times, o.times)
	o.members, o.times = nil, nil
	o.into = h
	o.rec.Status = StatusMerged
	o.rec.MergedInto = h.rec.ID
}

// since counts in-memory members received in [from, to].
func (h *hotspot) since(from, to int64) int {
	lo := sort.Search(len(h.times), func(j int) bool { return h.times[j] >= from })
	hi := sort.Search(len(h.times), func(j int) bool { return h.times[j] > to })
	return hi - lo
}

// snapshot copies the record with its centroid, the mean of its located
// members, so callers cannot alias engine state.
func (h *hotspot) snapshot() Hotspot {
	r := h.rec
	if r.Located > 0 {
		ll := &[2]float64{h.sumLon / float64(r.Located), h.sumLat / float64(r.Located)}
		r.Lon, r.Lat = &ll[0], &ll[1]
	}
	return r
}

// survives orders hotspots for the choice of a merge's survivor: the one
// with the most complaints, so that a merge relabels only the smaller
// hotspots' members, in memory and in the Store; then the one whose
// earliest member is earliest; ties by id.
func survives(a, b *hotspot) bool {
	if a.rec.Count != b.rec.Count {
		return a.rec.Count > b.rec.Count
	}
	if !a.rec.FirstAt.Equal(b.rec.FirstAt) {
		return a.rec.FirstAt.Before(b.rec.FirstAt)
	}
	return a.rec.ID < b.rec.ID
}

func mergeSorted(a, b []int64) []int64 {
	out := make([]int64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
