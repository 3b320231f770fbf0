package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/place"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// HandleComplaintClustered is HandleComplaintsClustered for one
// complaint.
func (s *Service) HandleComplaintClustered(ctx context.Context, tx pgx.Tx, ev event.ComplaintClustered, m natsx.Meta) error {
	return s.HandleComplaintsClustered(ctx, tx, []event.ComplaintClustered{ev}, []natsx.Meta{m})
}

// HandleComplaintsClustered puts the clustered complaints of a batch into
// cases: each joins the live case of its place for the team that would
// handle it, reopens the case of its place resolved within ReopenWithin,
// or opens a case and assigns it. A complaint no rule covers goes to
// triage as unrouted, with the reason. A complaint loaded as history (the
// event's mark, or the stored complaint's) is left as it is: it opens no
// case and joins none, so nothing is assigned, escalated or called back,
// and it goes on no triage list. A supervisor's correction of a
// complaint whose case no team holds (无法派单) takes it out of that
// case, to be routed as corrected (see corrected.go).
//
// The batch is worked as a set, in three round trips whatever its size
// (and a few more for its corrections, which are rare):
// one takes the place locks and finds every complaint's candidate cases,
// the decisions are taken in Go in the order of the events (so a
// complaint joins the case an earlier complaint of the batch opened at
// its place), and one sends the transitions of every case with one
// statement per table.
func (s *Service) HandleComplaintsClustered(ctx context.Context, tx pgx.Tx, evs []event.ComplaintClustered, _ []natsx.Meta) error {
	var placed []placement
	var unroutable []unroutableComplaint
	counts := map[string]int{}
	for _, ev := range evs {
		if ev.ComplaintID == "" || ev.Category == "" || ev.District == "" || ev.ReceivedAt.IsZero() {
			return fault.Errorf(fault.Invalid, "clustered complaint %q lacks its id, category, district or time", ev.ComplaintID)
		}
		if (ev.Lon == nil) != (ev.Lat == nil) {
			return fault.Errorf(fault.Invalid, "clustered complaint %s has half a point", ev.ComplaintID)
		}
		if ev.History {
			counts["history"]++
			continue
		}
		dec, err := s.route(routing.Request{
			Category:    ev.Category,
			Subcategory: ev.Subcategory,
			District:    ev.District,
			Lon:         ev.Lon,
			Lat:         ev.Lat,
			Place:       ev.Place,
			Detail:      ev.Detail,
			At:          ev.ReceivedAt,
			Priority:    ev.Priority,
			Urgent:      ev.Urgent,
		})
		var noRoute *routing.NoRouteError
		switch {
		case errors.As(err, &noRoute):
			unroutable = append(unroutable, unroutableComplaint{id: ev.ComplaintID, reason: noRoute.Error()})
			continue
		case errors.Is(err, routing.ErrInvalidRequest):
			return fault.Wrap(fault.Invalid, fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err))
		case err != nil:
			return fmt.Errorf("route complaint %s: %w", ev.ComplaintID, err)
		}
		placed = append(placed, s.placementOf(ev, dec))
	}

	if len(placed) == 0 && len(unroutable) == 0 {
		routed.WithLabelValues("history").Add(float64(counts["history"]))
		return nil // a batch of history
	}
	// The supervisors' corrections of the batch (see corrected.go).
	corrected := map[string]event.ComplaintClustered{}
	for _, ev := range evs {
		if !ev.History && correctionOf(ev) != "" {
			if c, ok := corrected[ev.ComplaintID]; !ok || correctionNumber(correctionOf(ev)) > correctionNumber(correctionOf(c)) {
				corrected[ev.ComplaintID] = ev
			}
		}
	}
	var heldKeys []string
	if len(corrected) > 0 {
		var err error
		if placed, unroutable, err = latestCorrectionOnly(ctx, tx, placed, unroutable, corrected, counts); err != nil {
			return err
		}
	}
	if len(corrected) > 0 {
		var err error
		if heldKeys, err = placeKeys(ctx, tx, slices.Collect(maps.Keys(corrected))); err != nil {
			return err
		}
		if err := dropForeignHotspots(ctx, tx, placed, corrected); err != nil {
			return err
		}
	}
	found, err := find(ctx, tx, placed, unroutable, heldKeys)
	if err != nil {
		return err
	}
	var held map[string]*heldCase
	if len(corrected) > 0 {
		if held, err = heldCases(ctx, tx, slices.Collect(maps.Keys(corrected))); err != nil {
			return err
		}
	}

	at := s.now()
	if err := moveCorrected(ctx, tx, found, placed, corrected, held, at); err != nil {
		return err
	}
	var w caseflow.Writes
	var parked []unroutableComplaint
	for _, p := range placed {
		m := found.complaints[p.ev.ComplaintID]
		if !m.stored {
			return fmt.Errorf("complaint %s is not stored", p.ev.ComplaintID)
		}
		if m.history {
			// Stored as history, announced without the mark (a
			// geocoder of the version before, in a rolling upgrade).
			counts["history"]++
			continue
		}
		if m.held {
			if h := held[p.ev.ComplaintID]; h != nil && sameCorrection(corrected, p.ev) {
				if !h.waiting {
					// A correction of a complaint whose case a team
					// holds (reassigned while the correction was on
					// its way): the case stays as the supervisor left it.
					counts["kept"]++
					continue
				}
				// Corrected to its waiting case's district and kind
				// (see moveCorrected): it waits there, on the triage
				// list again.
				counts["parked"]++
				delete(held, p.ev.ComplaintID) // a second copy in the batch is a copy
				parked = append(parked, unroutableComplaint{id: p.ev.ComplaintID,
					reason: "corrected to the district and kind of nuisance of case " + h.ID + ", which every team the rules name returned: reassign the case (改派)"})
				continue
			}
			counts["duplicate"]++
			continue // a replay, or a second copy in the batch: the complaint is in its case already
		}
		found.complaints[p.ev.ComplaintID] = complaintRow{stored: true, held: true, ticket: m.ticket}
		outcome, c, err := s.place(&w, found, p, m.ticket, at)
		if err != nil {
			return fmt.Errorf("route complaint %s: %w", p.ev.ComplaintID, err)
		}
		if outcome == "merged" && c.parked {
			// Its case waits for a supervisor: so does the complaint, on
			// the triage list beside the case's others.
			outcome = "parked"
			parked = append(parked, unroutableComplaint{id: p.ev.ComplaintID,
				reason: "joined case " + c.ID + ", which every team the rules name returned; waiting for a supervisor"})
		}
		counts[outcome]++
	}
	if err := w.Send(ctx, tx); err != nil {
		return fmt.Errorf("route %d complaints: %w", len(placed), err)
	}

	var ids, reasons []string
	for _, u := range unroutable {
		if found.complaints[u.id].history {
			counts["history"]++
			continue
		}
		if found.complaints[u.id].held {
			if h := held[u.id]; h != nil && h.waiting {
				// Corrected to what no rule covers: it waits in its
				// case, on the triage list again.
				ids, reasons = append(ids, u.id), append(reasons, u.reason+"; it stays in case "+h.ID+", which no team holds")
				continue
			}
			counts["duplicate"]++
			continue // a replay: the complaint is in its case already
		}
		ids, reasons = append(ids, u.id), append(reasons, u.reason)
	}
	for _, u := range parked {
		ids, reasons = append(ids, u.id), append(reasons, u.reason)
	}
	if len(ids) > 0 {
		if err := unrouted(ctx, tx, ids, reasons); err != nil {
			return err
		}
		counts["unrouted"] += len(ids) - len(parked)
	}
	for outcome, n := range counts {
		routed.WithLabelValues(outcome).Add(float64(n))
	}
	return nil
}

// place puts one complaint into the case of its place among the batch's
// candidates, reopening it if it was resolved, or opens a case for it,
// and reports which, with the case.
func (s *Service) place(w *caseflow.Writes, f *finding, p placement, ticket string, at time.Time) (string, *candidate, error) {
	c := f.best(p)
	if c == nil {
		id := p.caseID
		if id == "" {
			id = caseflow.IDFor(p.ev.ComplaintID)
		}
		n, err := w.OpenAssigned(actor, caseflow.NewCase{
			ID:          id,
			ComplaintID: p.ev.ComplaintID,
			Category:    p.ev.Category,
			Subcategory: p.ev.Subcategory,
			District:    p.ev.District,
			Subdistrict: p.ev.Subdistrict,
			HotspotID:   p.hotspot,
			Place:       p.ev.Place,
			PlaceKey:    p.ev.PlaceKey,
			Lon:         p.ev.Lon,
			Lat:         p.ev.Lat,
			OpenedAt:    p.ev.ReceivedAt,
		}, assignment(p.dec, "rule "+p.dec.Rule), []string{ticket}, at)
		if err != nil {
			return "", nil, err
		}
		opened := &candidate{Case: n, tickets: []string{ticket}, last: at}
		f.cases = append(f.cases, opened)
		return "opened", opened, nil
	}
	outcome := "merged"
	// A complaint made after the case was resolved is the nuisance back:
	// it reopens the case. One made before and arriving late (a backlog,
	// a replay) is about what was resolved: it joins the case as it is,
	// and its work order is answered with the resolution.
	if c.Status == caseflow.StatusResolved && c.ResolvedAt != nil && p.ev.ReceivedAt.After(*c.ResolvedAt) {
		n, err := w.Reopen(c.Case, actor, p.dec.SignDue, p.dec.ResolveDue, "complaint "+p.ev.ComplaintID+" at the same place", c.tickets, c.next(at))
		if err != nil {
			return "", nil, err
		}
		c.Case, outcome = n, "reopened"
	}
	// A resolve deadline a supervisor extended (延期) stands: a repeat
	// complaint about the nuisance being worked on does not take the
	// extension back (and escalate the team on the old timetable).
	resolveDue := p.dec.ResolveDue
	if c.extended {
		resolveDue = time.Time{}
	}
	n, err := w.Merge(c.Case, actor, p.ev.ComplaintID, p.hotspot, ticket, p.dec.Priority, p.dec.SignDue, resolveDue, c.next(at))
	if err != nil {
		return "", nil, err
	}
	c.Case = n
	if n.Status == caseflow.StatusResolved {
		// It joined the case as resolved: a reopening later in the
		// batch answers its work order too.
		c.tickets = append(c.tickets, ticket)
		slices.Sort(c.tickets)
	}
	return outcome, c, nil
}

// unroutableComplaint is a complaint the routing rules refused, with
// their reason.
type unroutableComplaint struct{ id, reason string }

func assignment(dec routing.Decision, reason string) caseflow.Assignment {
	return caseflow.Assignment{
		Team:           dec.Team.ID,
		Mode:           dec.Mode,
		Priority:       dec.Priority,
		QuietCommunity: dec.QuietCommunity,
		PositiveList:   dec.PositiveList,
		SignDue:        dec.SignDue,
		ResolveDue:     dec.ResolveDue,
		Reason:         reason,
	}
}

// unrouted puts complaints on the triage list as unrouted, each with its
// reason; a supervisor's earlier correction of the same complaint is
// reopened rather than lost.
func unrouted(ctx context.Context, tx pgx.Tx, complaintIDs, reasons []string) error {
	_, err := tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind)
		SELECT complaint_id, reason, 'unrouted' FROM unnest($1::text[], $2::text[]) AS u(complaint_id, reason)
		ON CONFLICT (complaint_id) DO UPDATE SET reason = EXCLUDED.reason, kind = 'unrouted', created_at = now(), resolved_at = NULL, resolved_by = NULL`,
		complaintIDs, reasons)
	if err != nil {
		return fmt.Errorf("triage %d unrouted complaints: %w", len(complaintIDs), err)
	}
	return nil
}

// findStatuses are the statuses of a case a complaint may join: the live
// ones, and resolved (since a time) to reopen it.
var findStatuses = []string{caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted, caseflow.StatusReturned, caseflow.StatusResolved}

// placement is a routed complaint and what finds the case of its place.
type placement struct {
	ev         event.ComplaintClustered
	dec        routing.Decision
	hotspot    string
	radius     float64   // metres within which a point is the same place
	dLat, dLon float64   // the radius in degrees, for the bounding box
	since      time.Time // a resolved case reopens if resolved since
	vague      bool      // the place key names no one place (place.Vague)
	// caseID is the id of the case the complaint opens when it joins
	// none; "" is caseflow.IDFor's.
	caseID string
}

func (s *Service) placementOf(ev event.ComplaintClustered, dec routing.Decision) placement {
	p := placement{ev: ev, dec: dec, radius: s.radiusOf(ev.Category, ev.Subcategory), since: ev.ReceivedAt.Add(-s.cfg.ReopenWithin),
		vague: place.Vague(ev.PlaceKey)}
	if ev.HotspotID != nil {
		p.hotspot = *ev.HotspotID
	}
	if ev.Lat != nil {
		p.dLat = p.radius / 111_000
		p.dLon = p.radius / (111_000 * math.Max(0.1, math.Cos(*ev.Lat*math.Pi/180)))
	}
	return p
}

// lockKey is the advisory lock that serialises every decision about the
// cases of a district and category.
func (p placement) lockKey() string { return "case-place:" + p.ev.District + ":" + p.ev.Category }

// complaintRow is what the batch's lookup learnt of a complaint.
type complaintRow struct {
	stored  bool   // the complaint is in the complaints table
	held    bool   // a case holds it already
	history bool   // it was loaded as history: no case is its
	ticket  string // its hotline work order
}

// candidate is a case a complaint of the batch may join, in the state the
// batch's transitions so far left it.
type candidate struct {
	caseflow.Case
	tickets  []string // its work orders, sorted: read only of a resolved case, which a reopening answers in full (a merge leaves the case unresolved, so they are never read again)
	returned []string // the teams that returned it
	// mergedInto is the hotspot the detector merged the case's hotspot
	// into, if it did.
	mergedInto string
	// parked: every team the rules name returned the case, and its
	// complaints wait on the triage list for a supervisor.
	parked bool
	// extended: its resolve deadline is one a supervisor granted (延期).
	extended bool
	// last is the time of the case's latest transition in this batch.
	last time.Time
}

// next is the time of the case's next transition in a batch made at at:
// at, or just after the case's latest transition in the batch. The
// callbacks order a work order's callbacks by time (then by webhook-id, a
// hash): a work order that joined the resolved case (merged, "resolved")
// must hear the reopening that follows it in the batch after it.
func (c *candidate) next(at time.Time) time.Time {
	if !c.last.IsZero() && !at.After(c.last) {
		at = c.last.Add(time.Microsecond)
	}
	c.last = at
	return at
}

// of reports whether the case is one of hotspot h: opened for it, or for
// a hotspot merged into it.
func (c *candidate) of(h string) bool {
	return h != "" && (c.HotspotID == h || c.mergedInto == h)
}

// finding is what find learnt in its round trip, and then the cases the
// batch opened and changed.
type finding struct {
	complaints map[string]complaintRow
	cases      []*candidate
}

// best is the case complaint p belongs to, or nil: a live one (open,
// assigned, accepted, returned) before one resolved since p.since, of the
// same district and category, held by the complaint's team or returned by
// it (the complaint is about the same nuisance its case was re-routed
// for), and at the same place: the complaint's hotspot, or for a case
// without a hotspot the same place key or a point within the radius; a
// hotspot or a place key joins only within place.KeyReach when both have
// points, so a complaint of a hotspot far from each of its cases opens
// another case of the hotspot; a vague place key (place.Vague) joins only
// a complaint and a case that both have no point. A case of a hotspot the
// detector merged into the complaint's is judged as one without a
// hotspot: it is the case of its own place, which is now part of the
// complaint's hotspot, and a complaint there joins it instead of opening
// a second case at the same place or joining the hotspot's case far away.
// The hotspot's cases come first, then the nearest, then the oldest.
func (f *finding) best(p placement) *candidate {
	var best *candidate
	var bestDist float64
	for _, c := range f.cases {
		d, ok := p.matches(c)
		if !ok {
			continue
		}
		if best == nil || p.before(c, d, best, bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// matches reports whether complaint p may join case c and how far c is
// from it (+Inf without two points). The cheap checks come first: a
// batch's candidates are mostly other places, and the distance is only
// wanted of a case the complaint may join.
func (p placement) matches(c *candidate) (float64, bool) {
	if c.District != p.ev.District || c.Category != p.ev.Category {
		return 0, false
	}
	// A complaint a supervisor's correction took out of a case no team
	// holds (p.caseID, see moveCorrected) joins no such case again: it
	// would wait there once more, the correction undone (露天烧烤 read as
	// 餐饮油烟 at the place of the case its team returned).
	if p.caseID != "" && c.Status == caseflow.StatusReturned {
		return 0, false
	}
	switch c.Status {
	case caseflow.StatusOpen, caseflow.StatusAssigned, caseflow.StatusAccepted, caseflow.StatusReturned:
	case caseflow.StatusResolved:
		if c.ResolvedAt == nil || c.ResolvedAt.Before(p.since) {
			return 0, false
		}
	default:
		return 0, false
	}
	// A case the complaint's team returned is the same nuisance only if it
	// is of the complaint's subcategory: another kind of nuisance at the
	// place is the returning team's own work, not the case's new team's.
	team := p.dec.Team.ID
	if c.Team != team && c.Team != "" && (!slices.Contains(c.returned, team) || c.Subcategory != p.ev.Subcategory) {
		return 0, false
	}
	samePlace := p.hotspot != "" && c.HotspotID == p.hotspot
	if !samePlace && c.HotspotID != "" && p.hotspot != "" && c.mergedInto != p.hotspot {
		return 0, false // another hotspot is another place
	}
	// A vague key names no one place: it joins only what has no point.
	sameKey := p.ev.PlaceKey != "" && c.PlaceKey == p.ev.PlaceKey && (!p.vague || (p.ev.Lon == nil && c.Lon == nil))
	if !samePlace && !sameKey && (p.ev.Lon == nil || c.Lat == nil ||
		math.Abs(*c.Lat-*p.ev.Lat) > p.dLat || math.Abs(*c.Lon-*p.ev.Lon) > p.dLon) {
		return 0, false
	}
	dist := math.Inf(1)
	if p.ev.Lon != nil && c.Lon != nil && c.Lat != nil {
		dist = geo.DistanceMeters(*p.ev.Lon, *p.ev.Lat, *c.Lon, *c.Lat)
		if dist > place.KeyReach {
			// One name, or one hotspot, for places far apart: a chain
			// of complaints can grow a hotspot across a district, and
			// its case is the site an officer visits, not the chain.
			sameKey, samePlace = false, false
		}
	}
	return dist, samePlace || sameKey || dist <= p.radius
}

// before reports whether case a, at distance da, comes before case b, at
// db, for complaint p.
func (p placement) before(a *candidate, da float64, b *candidate, db float64) bool {
	ar, br := a.Status == caseflow.StatusResolved, b.Status == caseflow.StatusResolved
	if ar != br {
		return !ar
	}
	ah, bh := a.of(p.hotspot), b.of(p.hotspot)
	if ah != bh {
		return ah
	}
	if c := cmp.Compare(da, db); c != 0 {
		return c < 0
	}
	if !a.OpenedAt.Equal(b.OpenedAt) {
		return a.OpenedAt.Before(b.OpenedAt)
	}
	return a.ID < b.ID
}

// find takes the advisory lock of every district and category of the
// batch, and of those of heldKeys (the places of the cases its corrected
// complaints may leave), in one order for every router so that two
// batches never wait for each other in a circle; it serialises every
// decision about their cases until the transaction commits, so complaints about one place arriving at
// once, in one batch or in two, find each other's case (a lock per grid
// cell would let two complaints either side of a cell edge open two
// cases). Under the locks, in the same round trip, it learns of every
// complaint of the batch whether a case holds it already, whether it was
// loaded as history and its work order, and finds and locks (in the order
// of their ids) every case a complaint of the batch may join, with its
// work orders and the teams that returned it.
func find(ctx context.Context, tx pgx.Tx, placed []placement, unroutable []unroutableComplaint, heldKeys []string) (*finding, error) {
	f := &finding{complaints: make(map[string]complaintRow, len(placed)+len(unroutable))}
	ids := make([]string, 0, len(placed)+len(unroutable))
	var keys []string
	for _, p := range placed {
		ids = append(ids, p.ev.ComplaintID)
		keys = append(keys, p.lockKey())
	}
	for _, u := range unroutable {
		ids = append(ids, u.id)
	}
	keys = append(keys, heldKeys...)
	slices.Sort(keys)
	keys = slices.Compact(keys)

	var b pgx.Batch
	if len(keys) > 0 {
		b.Queue(lockSQL, keys)
	}
	// Scalar and lateral subqueries keep each look-up on its primary key,
	// whatever the planner thinks of the tables' sizes.
	b.Queue(`SELECT u.id, m.ticket_id, COALESCE(m.history, false),
			(SELECT cc.case_id FROM case_complaints cc WHERE cc.complaint_id = u.id) IS NOT NULL
		FROM unnest($1::text[]) AS u(id)
		LEFT JOIN LATERAL (SELECT m.ticket_id, m.history FROM complaints m WHERE m.id = u.id) m ON true`, ids)
	if len(placed) > 0 {
		n := len(placed)
		districts, categories, teams, hotspots, placeKeys := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		lons, lats, dLats, dLons := make([]*float64, n), make([]*float64, n), make([]float64, n), make([]float64, n)
		since := make([]time.Time, n)
		for i, p := range placed {
			districts[i], categories[i], teams[i], hotspots[i], placeKeys[i] = p.ev.District, p.ev.Category, p.dec.Team.ID, p.hotspot, p.ev.PlaceKey
			lons[i], lats[i], dLats[i], dLons[i], since[i] = p.ev.Lon, p.ev.Lat, p.dLat, p.dLon, p.since
		}
		b.Queue(candidatesSQL, districts, categories, teams, hotspots, placeKeys, lons, lats, dLats, dLons, since, findStatuses)
	}

	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	if len(keys) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("lock the places of %d complaints: %w", len(placed), err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("cases of %d complaints: %w", len(ids), err)
	}
	for rows.Next() {
		var id string
		var ticket *string
		var m complaintRow
		if err := rows.Scan(&id, &ticket, &m.history, &m.held); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cases of %d complaints: %w", len(ids), err)
		}
		if ticket != nil {
			m.stored, m.ticket = true, *ticket
		}
		f.complaints[id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases of %d complaints: %w", len(ids), err)
	}
	if len(placed) > 0 {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("find the cases of %d places: %w", len(placed), err)
		}
		for rows.Next() {
			c := &candidate{}
			if c.Case, err = caseflow.Scan(withLists{rows, &c.tickets, &c.returned, &c.mergedInto, &c.parked, &c.extended}); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find the cases of %d places: %w", len(placed), err)
			}
			slices.Sort(c.tickets)
			f.cases = append(f.cases, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find the cases of %d places: %w", len(placed), err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("find the cases of %d places: %w", len(placed), err)
	}
	return f, nil
}

// withLists scans a row of caseflow.Columns followed by a case's tickets,
// the teams that returned it and the hotspot its hotspot was merged into.
type withLists struct {
	rows              pgx.Rows
	tickets, returned *[]string
	mergedInto        *string
	parked, extended  *bool
}

func (w withLists) Scan(dest ...any) error {
	return w.rows.Scan(append(dest, w.tickets, w.returned, w.mergedInto, w.parked, w.extended)...)
}

// lockSQL takes the advisory locks of a batch's keys in the order of
// their hashes, which are the locks: the sorted subquery is evaluated
// before the locks are taken.
const lockSQL = `SELECT pg_advisory_xact_lock(h) FROM (
		SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS keys`

// candidatesSQL finds and locks every case a complaint of the batch may
// join, given as parallel arrays: district, category, team, hotspot,
// place key, point, the radius in degrees and the time since which a
// resolved case reopens. For each complaint, three index-friendly branches
// (the hotspot, the place key, the bounding box) gather the cases near it
// that it may join by district, category, status and team, so the cost
// does not grow with the number of open cases in the district. The exact
// place, the distance and the order among them are decided in Go,
// together with what earlier complaints of the batch changed.
const candidatesSQL = `WITH ev AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[],
			$8::float8[], $9::float8[], $10::timestamptz[])
			AS e(district, category, team, hotspot, place_key, lon, lat, dlat, dlon, since)),
	cand AS (
		SELECT DISTINCT x.id FROM ev
		CROSS JOIN LATERAL (
			SELECT k.id FROM cases k WHERE ev.hotspot <> '' AND k.hotspot_id = ev.hotspot AND ` + joinable + `
			UNION ALL
			SELECT k.id FROM cases k WHERE ev.place_key <> '' AND k.district = ev.district AND k.category = ev.category
			  AND k.place_key = ev.place_key AND ` + joinable + `
			UNION ALL
			SELECT k.id FROM cases k WHERE ev.lon IS NOT NULL AND k.district = ev.district AND k.category = ev.category
			  AND k.lat BETWEEN ev.lat - ev.dlat AND ev.lat + ev.dlat AND k.lon BETWEEN ev.lon - ev.dlon AND ev.lon + ev.dlon
			  AND ` + joinable + `) AS x)
	SELECT ` + caseflow.Columns + `,
		CASE WHEN c.status = 'resolved' THEN
			array(SELECT (SELECT m.ticket_id FROM complaints m WHERE m.id = cc.complaint_id) FROM case_complaints cc WHERE cc.case_id = c.id)
		END,
		array(SELECT DISTINCT a.team FROM assignments a WHERE a.case_id = c.id AND a.status = 'returned'),
		COALESCE((SELECT h.merged_into FROM hotspots h WHERE h.id = c.hotspot_id), ''),
		c.status = 'returned' AND EXISTS (SELECT 1 FROM case_complaints cc JOIN triage t ON t.complaint_id = cc.complaint_id
			WHERE cc.case_id = c.id AND t.kind = 'unrouted' AND t.resolved_at IS NULL),
		c.resolve_due IS NOT NULL AND EXISTS (SELECT 1 FROM case_audit a WHERE a.case_id = c.id AND a.action = 'extend' AND a.due_after = c.resolve_due)
	FROM cases c WHERE c.id IN (SELECT id FROM cand)
	ORDER BY c.id
	FOR UPDATE OF c`

// joinable is the condition under which the complaint ev may join case k
// wherever it is: the same district and category, a status it may join
// ($11), resolved since ev.since if resolved, and held by the complaint's
// team, by none, or returned by it. The returning teams are read through
// the case's index, never by a hashed scan of every assignment.
const joinable = `k.district = ev.district AND k.category = ev.category AND k.status = ANY($11)
	AND (k.status <> 'resolved' OR k.resolved_at >= ev.since)
	AND (k.team = ev.team OR k.team IS NULL
	     OR ev.team = ANY (array(SELECT a.team FROM assignments a WHERE a.case_id = k.id AND a.status = 'returned')))`
