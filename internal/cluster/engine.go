package cluster

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/place"
)

// sweepEvery is how far the newest complaint time advances between two
// evictions of points older than the horizon; bucketSpan is the time span
// of the buckets points are evicted by.
const (
	sweepEvery = time.Hour
	bucketSpan = time.Hour
)

// Engine clusters the complaints of its partition as they arrive. It is
// safe for concurrent use, though a partition's complaints are best fed by
// one consumer so that results are persisted in arrival order.
type Engine struct {
	mu        sync.Mutex
	cfg       Config
	store     Store
	cats      []*catState
	catIdx    map[string]uint8
	districts map[string]bool // nil: every district
	distIdx   map[string]uint16
	distNames []string // by interned index
	ix        *index
	nodes     map[string]*node
	hotspots  map[string]*hotspot
	latest    int64
	seen      bool
	lastSweep int64
	buckets   map[int64][]*node // points by hour received, for eviction
	minBucket int64
	late      int64
	horizonW  int64
	// now, when set, is the clock a complaint is old by (WithClock).
	now func() time.Time
	// tx and the scratch buffers are reused by every Add.
	tx      *txn
	scratch scratch
}

// edge is a neighbour and its distance, as cluster and promote collect
// them.
type edge struct {
	n *node
	d float64
}

// scratch holds the buffers of one clustering step.
type scratch struct {
	nb       []edge
	newCores []*node
	parent   []int
	nbs      [][]edge
	touches  [][]*hotspot
	hs       []*hotspot
	order    []int
}

// Option restricts or tunes an Engine.
type Option func(*Engine)

// WithDistricts restricts the engine to complaints of the given districts,
// so that the detector can run one engine per district subject. Hotspots
// never span districts, so any split of districts over engines gives the
// same hotspots.
func WithDistricts(slugs ...string) Option {
	return func(e *Engine) {
		e.districts = make(map[string]bool, len(slugs))
		for _, s := range slugs {
			e.districts[s] = true
		}
	}
}

// WithClock lets the engine tell a complaint long past by the clock as
// well as by the feed: one older than the cooling time is no news of its
// place, whatever came before it (a backfill of history into a system
// that has no live feed yet is in time order, and no complaint of it is
// late by the feed).
func WithClock(now func() time.Time) Option {
	return func(e *Engine) { e.now = now }
}

// NewEngine returns an engine for a validated config (see LoadConfig). The
// store may be nil when complaints never arrive later than cfg.LateSlack;
// late complaints are then clustered against what memory still holds.
func NewEngine(cfg Config, store Store, opts ...Option) *Engine {
	e := &Engine{
		cfg:      cfg,
		store:    store,
		catIdx:   make(map[string]uint8),
		nodes:    make(map[string]*node),
		hotspots: make(map[string]*hotspot),
		buckets:  make(map[int64][]*node),
		distIdx:  make(map[string]uint16),
		tx:       newTxn(),
		late:     int64(cfg.LateSlack),
		horizonW: int64(2*cfg.maxWindow() + cfg.LateSlack),
	}
	for i, name := range sortedKeys(cfg.Categories) {
		cc := cfg.Categories[name]
		cs := &catState{name: name, cfg: cc, def: toParam(cc.Params), subs: make(map[string]*param)}
		cs.maxR, cs.maxW = cs.def.r, cs.def.w
		for sub := range cc.Subcategories {
			p := toParam(cc.Sub(sub))
			cs.subs[sub] = &p
			cs.maxR, cs.maxW = math.Max(cs.maxR, p.r), max(cs.maxW, p.w)
		}
		cs.cellM = cs.maxR
		e.cats = append(e.cats, cs)
		e.catIdx[name] = uint8(i)
	}
	e.ix = newIndex(e.cats)
	for _, o := range opts {
		o(e)
	}
	return e
}

func toParam(p Params) param {
	return param{r: p.RadiusM, w: int64(p.Window), min: int32(p.MinCount)}
}

func (e *Engine) horizon() int64 { return e.latest - e.horizonW }

func (e *Engine) newNode(p Point) (*node, error) {
	switch {
	case p.ID == "":
		return nil, fmt.Errorf("%w: empty id", ErrInvalidPoint)
	case p.At.IsZero():
		return nil, fmt.Errorf("point %s: %w: no time", p.ID, ErrInvalidPoint)
	case (p.Lon == nil) != (p.Lat == nil):
		return nil, fmt.Errorf("point %s: %w: lon and lat must come together", p.ID, ErrInvalidPoint)
	}
	ci, ok := e.catIdx[p.Category]
	if !ok {
		return nil, fmt.Errorf("point %s: %w: unknown category %q", p.ID, ErrInvalidPoint, p.Category)
	}
	if e.districts != nil && !e.districts[p.District] {
		return nil, fmt.Errorf("point %s in %q: %w", p.ID, p.District, ErrOtherDistrict)
	}
	n := &node{
		id: p.ID, sub: p.Subcategory, key: p.PlaceKey, vague: place.Vague(p.PlaceKey),
		lon: math.NaN(), lat: math.NaN(), at: p.At.UnixNano(), cat: ci,
	}
	if p.Lon != nil {
		lon, lat := *p.Lon, *p.Lat
		if math.IsNaN(lon) || math.IsNaN(lat) || math.Abs(lon) > 180 || math.Abs(lat) > 90 {
			return nil, fmt.Errorf("point %s: %w: coordinates out of range", p.ID, ErrInvalidPoint)
		}
		n.lon, n.lat = lon, lat
	}
	n.params = e.cats[ci].paramsOf(p.Subcategory)
	d, ok := e.distIdx[p.District]
	if !ok {
		if len(e.distIdx) > math.MaxUint16 {
			return nil, fmt.Errorf("point %s: %w: too many districts", p.ID, ErrInvalidPoint)
		}
		d = uint16(len(e.distIdx))
		e.distIdx[p.District] = d
		e.distNames = append(e.distNames, p.District)
	}
	n.dist = d
	return n, nil
}

func (e *Engine) point(n *node) Point {
	p := Point{
		ID: n.id, Category: e.cats[n.cat].name, Subcategory: n.sub, District: e.distNames[n.dist],
		PlaceKey: n.key, At: time.Unix(0, n.at).UTC(),
	}
	if n.located() {
		ll := &[2]float64{n.lon, n.lat} // one allocation for both
		p.Lon, p.Lat = &ll[0], &ll[1]
	}
	return p
}

func (e *Engine) put(n *node) {
	e.ix.insert(n)
	e.nodes[n.id] = n
	b := floorDiv(n.at, int64(bucketSpan))
	if len(e.buckets) == 0 || b < e.minBucket {
		e.minBucket = b
	}
	e.buckets[b] = append(e.buckets[b], n)
}

func (e *Engine) drop(n *node) {
	e.ix.remove(n)
	delete(e.nodes, n.id)
	if n.hs != nil {
		n.hs.detach(n)
	}
}

func hotspotID(n *node) string {
	if n == nil || n.hs == nil {
		return ""
	}
	return n.hs.rec.ID
}

// Add clusters one complaint. Adding a complaint already seen changes
// nothing and returns its current hotspot.
func (e *Engine) Add(ctx context.Context, p Point) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, err := e.newNode(p)
	if err != nil {
		return Result{}, err
	}
	if old := e.nodes[p.ID]; old != nil {
		return Result{HotspotID: hotspotID(old)}, nil
	}
	late := e.seen && n.at < e.latest-e.late
	var loaded []*node
	if late && e.store != nil {
		loaded, err = e.load(ctx, n)
		if err != nil {
			e.unload(loaded)
			return Result{}, fmt.Errorf("load history around %s: %w", p.ID, err)
		}
		if old := e.nodes[p.ID]; old != nil {
			res := Result{HotspotID: hotspotID(old)}
			e.unload(loaded)
			return res, nil
		}
	}
	e.put(n)
	tx := e.tx
	tx.reset()
	e.cluster(tx, n)
	res := e.result(tx, n)
	switch {
	case late:
		e.unload(loaded)
		if n.at < e.horizon() {
			e.drop(n)
		}
	case !e.seen || n.at > e.latest:
		e.latest, e.seen = n.at, true
		if e.latest-e.lastSweep >= int64(sweepEvery) {
			e.sweep()
		}
	}
	return res, nil
}

// txn collects what one Add changed.
type txn struct {
	before  map[*node]*hotspot // hotspot of each moved point before the Add
	order   []*node
	touched map[*hotspot]Hotspot // record before the Add
	opened  map[*hotspot]bool
	merged  map[*hotspot][]string
	changes []Change
}

func newTxn() *txn {
	return &txn{
		before:  make(map[*node]*hotspot),
		touched: make(map[*hotspot]Hotspot),
		opened:  make(map[*hotspot]bool),
		merged:  make(map[*hotspot][]string),
	}
}

// txnKeep is the most entries a txn's maps keep storage for between Adds.
const txnKeep = 64

func clearMap[K comparable, V any](m map[K]V) {
	if len(m) > 0 {
		clear(m)
	}
}

// reset empties a txn for the next Add, keeping its maps' and slices'
// storage: Add runs under the engine's lock, so one txn serves them all.
// Nothing a Result holds points into it.
func (tx *txn) reset() {
	if len(tx.order) > txnKeep || len(tx.touched) > txnKeep {
		// A large merge grew the maps: clearing them would cost their
		// whole capacity on every later Add.
		*tx = *newTxn()
		return
	}
	clearMap(tx.before)
	clearMap(tx.touched)
	clearMap(tx.opened)
	clearMap(tx.merged)
	clear(tx.order)
	tx.order = tx.order[:0]
	tx.changes = tx.changes[:0]
}

func (tx *txn) touch(h *hotspot) {
	if h == nil {
		return
	}
	if _, ok := tx.touched[h]; !ok {
		tx.touched[h] = h.rec
	}
}

func (tx *txn) moved(n *node, from *hotspot) {
	if _, ok := tx.before[n]; !ok {
		tx.before[n] = from
		tx.order = append(tx.order, n)
	}
}

func (e *Engine) setHotspot(tx *txn, n *node, h *hotspot) {
	if n.hs == h {
		return
	}
	tx.moved(n, n.hs)
	tx.touch(n.hs)
	tx.touch(h)
	if n.hs != nil {
		n.hs.leave(n)
	}
	n.hs = h
	h.join(n)
}

// cluster runs the incremental ST-DBSCAN step for a point just indexed.
// Core status only ever grows, so the step makes the new core points, joins
// their groups (merging hotspots they bridge), and lets non-core points
// near a new core move to it when it is their nearest.
func (e *Engine) cluster(tx *txn, p *node) {
	sc := &e.scratch
	nb := sc.nb[:0]
	newCores := sc.newCores[:0]
	p.count = 1
	e.ix.neighbours(p, func(q *node, d float64) {
		nb = append(nb, edge{q, d})
		if counts(p, q) {
			p.count++
		}
		if counts(q, p) {
			q.count++
			if !q.core && q.count >= q.params.min {
				q.core, q.hasNear, q.nearID = true, false, ""
				newCores = append(newCores, q)
			}
		}
	})
	if p.count >= p.params.min {
		p.core = true
		newCores = append(newCores, p)
	}
	if len(newCores) > 0 {
		e.promote(tx, newCores, p, nb)
	}
	if !p.core {
		p.hasNear, p.nearID = false, ""
		var best *node
		for _, ed := range nb {
			if ed.n.core && closer(p, ed.n, ed.d) {
				p.hasNear, p.nearD, p.nearID = true, ed.d, ed.n.id
				best = ed.n
			}
		}
		if best != nil && best.hs != nil {
			e.setHotspot(tx, p, best.hs)
		}
	}
	e.lifecycle(tx, p)
	clear(nb)
	clear(newCores)
	sc.nb, sc.newCores = nb[:0], newCores[:0]
}

// promote gives new core points their hotspot: each connected group of new
// cores joins the hotspots of the old cores it touches (merging them) or
// founds a new one; then their non-core neighbours re-attach to their
// nearest core. p is the point being added and pNb its neighbourhood,
// already collected, so that p's is not searched twice.
func (e *Engine) promote(tx *txn, cores []*node, p *node, pNb []edge) {
	sc := &e.scratch
	sort.Slice(cores, func(i, j int) bool { return before(cores[i], cores[j]) })
	// idx finds a new core's position; the group is small, usually one.
	idx := func(y *node) (int, bool) {
		for j, c := range cores {
			if c == y {
				return j, true
			}
		}
		return 0, false
	}
	parent := sc.parent[:0]
	for i := range cores {
		parent = append(parent, i)
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	nbs := grow(sc.nbs, len(cores))
	touches := grow(sc.touches, len(cores))
	for i, c := range cores {
		link := func(y *node) {
			if !y.core {
				return
			}
			if j, ok := idx(y); ok {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else if y.hs != nil {
				touches[i] = append(touches[i], y.hs)
			}
		}
		if c == p {
			nbs[i] = pNb
			for _, ed := range pNb {
				link(ed.n)
			}
			continue
		}
		e.ix.neighbours(c, func(y *node, d float64) {
			nbs[i] = append(nbs[i], edge{y, d})
			link(y)
		})
	}
	// Groups in the order of their earliest core: a root is the smallest
	// index of its group, and cores are sorted.
	order := sc.order[:0]
	for i := range cores {
		if find(i) == i {
			order = append(order, i)
		}
	}
	for _, r := range order {
		hs := sc.hs[:0]
		for i := range cores {
			if find(i) != r {
				continue
			}
			for _, h := range touches[i] {
				hs = append(hs, h.resolve())
			}
		}
		var target *hotspot
		if len(hs) == 0 {
			target = e.found(tx, cores[r]) // cores are sorted: the root is the earliest
		} else {
			target = e.merge(tx, hs)
		}
		for i := range cores {
			if find(i) == r {
				e.setHotspot(tx, cores[i], target)
			}
		}
		clear(hs)
		sc.hs = hs[:0]
	}
	for i, c := range cores {
		for _, ed := range nbs[i] {
			if y := ed.n; !y.core && closer(y, c, ed.d) {
				y.hasNear, y.nearD, y.nearID = true, ed.d, c.id
				e.setHotspot(tx, y, c.hs)
			}
		}
	}
	for i := range cores {
		if cores[i] != p {
			clear(nbs[i])
			nbs[i] = nbs[i][:0]
		} else {
			nbs[i] = nil // p's belongs to cluster's buffer
		}
		clear(touches[i])
		touches[i] = touches[i][:0]
	}
	sc.parent, sc.nbs, sc.touches, sc.order = parent[:0], nbs, touches, order[:0]
}

// grow returns s with at least n empty elements, keeping their storage.
func grow[T any](s [][]T, n int) [][]T {
	for len(s) < n {
		s = append(s, nil)
	}
	return s
}

// found opens a hotspot named after its founding core point. A founder was
// in no hotspot before, so the id is new.
func (e *Engine) found(tx *txn, founder *node) *hotspot {
	id := "hs_" + founder.id
	for i := 2; e.hotspots[id] != nil; i++ {
		id = fmt.Sprintf("hs_%s_%d", founder.id, i)
	}
	h := newHotspot(Hotspot{
		ID: id, Category: e.cats[founder.cat].name, District: e.distNames[founder.dist],
		Status: StatusEmerging, PlaceKey: founder.key,
	})
	e.hotspots[id] = h
	tx.opened[h] = true
	tx.touch(h)
	return h
}

// merge joins hotspots into the largest (see survives), so that only the
// smaller ones' members move.
func (e *Engine) merge(tx *txn, hs []*hotspot) *hotspot {
	sort.Slice(hs, func(i, j int) bool { return survives(hs[i], hs[j]) })
	s := hs[0]
	tx.touch(s)
	for _, o := range hs[1:] {
		if o == s || o.into != nil {
			continue
		}
		tx.touch(o)
		for n := range o.members {
			tx.moved(n, o)
		}
		s.absorb(o)
		tx.merged[s] = append(tx.merged[s], o.rec.ID)
		if tx.opened[o] {
			// Opened and absorbed in the same step: only the survivor is news.
			delete(tx.opened, o)
		}
	}
	return s
}

// lifecycle applies the arrival of p to its hotspot's status.
func (e *Engine) lifecycle(tx *txn, p *node) {
	h := p.hs
	if h == nil {
		return
	}
	cc := e.cats[p.cat].cfg
	at := time.Unix(0, p.at).UTC()
	prev := tx.touched[h]
	// A complaint the feed, or the clock, has gone on past for the
	// cooling time (one delivered weeks late, a backfill of history) is
	// no news of the place today: it wakes no quiet hotspot, which a tick
	// would quiet again at once, and escalates none, not even a hotspot
	// only such complaints make (a burst a year ago is no reason for 督办
	// now).
	stale := (e.seen && e.latest-p.at >= int64(cc.Cooling)) || (e.now != nil && e.now().UnixNano()-p.at >= int64(cc.Cooling))
	fresh := !at.Before(prev.LastAt) && !stale
	st := h.rec.Status
	switch {
	case tx.opened[h]:
	case st == StatusEmerging:
		st = StatusActive
	case fresh && (st == StatusCooling || st == StatusClosed):
		st = StatusActive
	}
	repeat := !h.rec.ResolvedAt.IsZero() && at.After(h.rec.ResolvedAt)
	burst := h.since(p.at-int64(cc.EscalateWithin), p.at) >= cc.EscalateCount
	// A late complaint older than the hotspot's last one leaves a cooling
	// or closed hotspot quiet: it is counted, but escalates nothing.
	quiet := st == StatusCooling || st == StatusClosed || stale
	if (repeat || burst) && st != StatusEscalated && !quiet {
		st = StatusEscalated
		h.rec.ResolvedAt = time.Time{}
		h.rec.Status = st
		tx.changes = append(tx.changes, Change{Kind: ChangeEscalated, HotspotID: h.rec.ID, Status: st, Count: h.rec.Count, At: at})
		return
	}
	if repeat {
		h.rec.ResolvedAt = time.Time{}
	}
	h.rec.Status = st
}

// result turns a finished step into the caller's Result.
func (e *Engine) result(tx *txn, p *node) Result {
	at := time.Unix(0, p.at).UTC()
	res := Result{HotspotID: hotspotID(p), Members: make([]Member, 0, 1+len(tx.order))}
	res.Members = append(res.Members, Member{Point: e.point(p), HotspotID: hotspotID(p)})
	for _, n := range tx.order {
		if n != p && tx.before[n] != n.hs {
			res.Members = append(res.Members, Member{Point: e.point(n), HotspotID: hotspotID(n)})
		}
	}
	hs := make([]*hotspot, 0, len(tx.touched))
	for h := range tx.touched {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].rec.ID < hs[j].rec.ID })
	res.Hotspots = make([]Hotspot, 0, len(hs))
	var changes []Change
	for _, h := range hs {
		res.Hotspots = append(res.Hotspots, h.snapshot())
		if h.into != nil {
			continue
		}
		if abs := tx.merged[h]; len(abs) > 0 {
			sort.Strings(abs)
			changes = append(changes, Change{Kind: ChangeMerged, HotspotID: h.rec.ID, Status: h.rec.Status, Count: h.rec.Count, Absorbed: abs, At: at})
		}
		if tx.opened[h] {
			changes = append(changes, Change{Kind: ChangeOpened, HotspotID: h.rec.ID, Status: h.rec.Status, Count: h.rec.Count, At: at})
		} else if h.rec != tx.touched[h] && !escalatedIn(tx.changes, h.rec.ID) {
			changes = append(changes, Change{Kind: ChangeUpdated, HotspotID: h.rec.ID, Status: h.rec.Status, Count: h.rec.Count, At: at})
		}
	}
	res.Changes = append(changes, tx.changes...)
	return res
}

func escalatedIn(cs []Change, id string) bool {
	for _, c := range cs {
		if c.HotspotID == id {
			return true
		}
	}
	return false
}

// MarkResolved records that the team resolved a hotspot at the given time,
// so that a complaint received after it escalates the hotspot as a repeat.
func (e *Engine) MarkResolved(hotspotID string, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hotspots[hotspotID].resolve()
	if h == nil {
		return fmt.Errorf("mark %s resolved: %w", hotspotID, ErrUnknownHotspot)
	}
	h.rec.ResolvedAt = at.UTC()
	return nil
}

// Tick applies the time-driven transitions at now (Due, then Apply of
// each) and returns them.
func (e *Engine) Tick(now time.Time) []Change {
	var out []Change
	for _, d := range e.Due(now) {
		if e.Apply(d) {
			out = append(out, d.Change)
		}
	}
	return out
}

// Transition is a time-driven change of a hotspot's status, with the
// record it was decided on.
type Transition struct {
	Change
	// From is the hotspot's record when the transition was decided.
	From Hotspot
}

// Due returns the time-driven transitions at now, sorted by hotspot id,
// without applying them: hotspots without a complaint for the category's
// cooling time cool, and close after its close time. A caller that stores
// them applies those it stored (Apply).
func (e *Engine) Due(now time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Transition
	for _, h := range e.hotspots {
		st := h.rec.Status
		if st == StatusMerged || st == StatusClosed || h.rec.Count == 0 {
			continue
		}
		cc := e.cfg.Categories[h.rec.Category]
		idle := now.Sub(h.rec.LastAt)
		c := Change{HotspotID: h.rec.ID, Count: h.rec.Count, At: now}
		switch {
		case idle >= cc.Close:
			c.Kind, c.Status = ChangeClosed, StatusClosed
		case idle >= cc.Cooling && st != StatusCooling:
			c.Kind, c.Status = ChangeCooled, StatusCooling
		default:
			continue
		}
		out = append(out, Transition{Change: c, From: h.snapshot()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HotspotID < out[j].HotspotID })
	return out
}

// Apply sets the status a transition decided, unless the hotspot has
// changed since it was decided (a complaint came, or it merged): the
// hotspot is then as its last change left it. It reports whether it
// applied the transition.
func (e *Engine) Apply(t Transition) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hotspots[t.HotspotID]
	if h == nil || !h.rec.SameState(t.From) {
		return false
	}
	h.rec.Status = t.Status
	return true
}

// Hotspot returns a hotspot's current record as the engine holds it, for
// status pages and tests; a merged record names its survivor.
func (e *Engine) Hotspot(id string) (Hotspot, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hotspots[id]
	if h == nil {
		return Hotspot{}, false
	}
	return h.snapshot(), true
}

// Len is the number of complaints held in memory, for metrics.
func (e *Engine) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.nodes)
}

// sweep evicts points older than the horizon, bucket by bucket of arrival
// hour, and forgets closed or merged hotspots no late complaint can reach.
func (e *Engine) sweep() {
	e.lastSweep = e.latest
	h := e.horizon()
	last := floorDiv(h, int64(bucketSpan)) - 1
	for b := e.minBucket; b <= last && len(e.buckets) > 0; b++ {
		for _, n := range e.buckets[b] {
			if e.nodes[n.id] == n {
				e.drop(n)
			}
		}
		delete(e.buckets, b)
		e.minBucket = b + 1
	}
	forgetBefore := time.Unix(0, h-e.horizonW).UTC()
	for id, hs := range e.hotspots {
		if (hs.rec.Status == StatusClosed || hs.rec.Status == StatusMerged) && len(hs.members) == 0 && hs.rec.LastAt.Before(forgetBefore) {
			delete(e.hotspots, id)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
