package router

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// A supervisor's correction of a complaint on the triage list reaches the
// router as a complaint.clustered of its own, <id>.clustered.c<n> (the
// geocoder's <id>.located.c<n>, clustered again by the detector). A
// complaint no case holds is routed by it as any other. One that a case
// holds, a case every team the rules name returned and that waits for a
// supervisor (无法派单), leaves that case for the place and the kind of
// nuisance the supervisor named: the case's audit records who corrected
// it and to what, a case left with no complaint is closed, one with others
// waits for them, and the complaint is routed as any corrected complaint.
// A complaint whose case a team holds (a supervisor reassigned it, 改派,
// while the correction was on its way) stays in it.

var moved = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "nuisance_router_corrected_moves_total",
	Help: "Corrected complaints taken out of the case that waited for a supervisor, by what became of that case (closed: no complaint left; waiting: others wait in it).",
}, []string{"case"})

// correctionOf is the number of the supervisor's correction a clustered
// event answers (event id <id>.clustered.c<n>), or "" for none.
func correctionOf(ev event.ComplaintClustered) string {
	if _, n, ok := strings.Cut(ev.EventID, ".clustered.c"); ok {
		return n
	}
	return ""
}

// correctionNumber is n of a correction's number as correctionOf gives
// it, 0 for none or one that is no number.
func correctionNumber(n string) int {
	v, err := strconv.Atoi(n)
	if err != nil {
		return 0
	}
	return v
}

// latestCorrectionOnly keeps, of the complaints the batch corrects, only
// the placement of the batch's latest correction (corrected), and none
// when a later correction than it has been applied since (the supervisor
// corrected again while it was on its way: that one's event places the
// complaint). Another copy of such a complaint in the batch (an older
// correction, the event from before the corrections, a redelivery) would
// place it as it was, undoing the correction. The copies left out are
// counted as duplicates, the corrections behind a later one as
// superseded; corrected loses those.
func latestCorrectionOnly(ctx context.Context, tx pgx.Tx, placed []placement, unroutable []unroutableComplaint,
	corrected map[string]event.ComplaintClustered, counts map[string]int) ([]placement, []unroutableComplaint, error) {
	latest, err := lastCorrections(ctx, tx, slices.Collect(maps.Keys(corrected)))
	if err != nil {
		return nil, nil, err
	}
	stale := map[string]bool{}
	for id, ev := range corrected {
		if l, ok := latest[id]; ok && correctionNumber(l.n) > correctionNumber(correctionOf(ev)) {
			stale[id] = true
			delete(corrected, id)
		}
	}
	placed = slices.DeleteFunc(placed, func(p placement) bool {
		id := p.ev.ComplaintID
		if stale[id] {
			counts["superseded"]++
			return true
		}
		if c, ok := corrected[id]; ok && c.EventID != p.ev.EventID {
			counts["duplicate"]++
			return true
		}
		return false
	})
	unroutable = slices.DeleteFunc(unroutable, func(u unroutableComplaint) bool {
		if stale[u.id] {
			counts["superseded"]++
			return true
		}
		return false
	})
	return placed, unroutable, nil
}

// movedCaseID is the id of the case a corrected complaint opens when it
// left a case: the case opened for it first (caseflow.IDFor) may be the
// one it left, which keeps its id.
func movedCaseID(complaintID, correction string) string {
	return caseflow.IDFor(complaintID) + ".c" + correction
}

// heldCase is the case that holds a corrected complaint of a batch.
type heldCase struct {
	caseflow.Case
	// waiting: no team holds the case (returned, no active assignment):
	// it waits on the triage list for a supervisor.
	waiting bool
}

// placeKeys are the advisory locks (placement.lockKey) of the places of
// the cases that hold the batch's corrected complaints, read without a
// lock: find takes them with the batch's own, so that the router's
// decisions about those cases wait for the move.
func placeKeys(ctx context.Context, tx pgx.Tx, corrected []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT 'case-place:' || c.district || ':' || c.category
		FROM case_complaints cc JOIN cases c ON c.id = cc.case_id WHERE cc.complaint_id = ANY($1)`, corrected)
	if err != nil {
		return nil, fmt.Errorf("cases of %d corrected complaints: %w", len(corrected), err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("cases of %d corrected complaints: %w", len(corrected), err)
	}
	return keys, nil
}

// heldCases reads and locks, in the order of their ids, the cases that
// hold the corrected complaints, by complaint.
func heldCases(ctx context.Context, tx pgx.Tx, corrected []string) (map[string]*heldCase, error) {
	rows, err := tx.Query(ctx, `SELECT `+caseflow.Columns+`, cc.complaint_id,
			c.status = 'returned' AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.status = 'active')
		FROM case_complaints cc JOIN cases c ON c.id = cc.case_id
		WHERE cc.complaint_id = ANY($1)
		ORDER BY c.id
		FOR UPDATE OF c`, corrected)
	if err != nil {
		return nil, fmt.Errorf("lock the cases of %d corrected complaints: %w", len(corrected), err)
	}
	defer rows.Close()
	out := map[string]*heldCase{}
	for rows.Next() {
		h := &heldCase{}
		var complaintID string
		if h.Case, err = caseflow.Scan(withHeld{rows, &complaintID, &h.waiting}); err != nil {
			return nil, fmt.Errorf("lock the cases of %d corrected complaints: %w", len(corrected), err)
		}
		out[complaintID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock the cases of %d corrected complaints: %w", len(corrected), err)
	}
	return out, nil
}

// withHeld scans a row of caseflow.Columns followed by the complaint and
// whether the case waits for a supervisor.
type withHeld struct {
	rows        pgx.Rows
	complaintID *string
	waiting     *bool
}

func (w withHeld) Scan(dest ...any) error {
	return w.rows.Scan(append(dest, w.complaintID, w.waiting)...)
}

// correctionBy is the supervisor's correction of a complaint the
// geocoder applied last: who made it, its number and what it says.
type correctionBy struct {
	officer, n, district, category, subcategory string
}

func (c correctionBy) actor() string {
	if c.officer == "" {
		return actor.ID
	}
	return "officer:" + c.officer
}

// lastCorrections reads the latest applied correction of each complaint.
func lastCorrections(ctx context.Context, tx pgx.Tx, ids []string) (map[string]correctionBy, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (complaint_id) complaint_id, officer_id, n::text, district, category, subcategory
		FROM triage_corrections WHERE complaint_id = ANY($1) AND applied_at IS NOT NULL
		ORDER BY complaint_id, n DESC`, ids)
	if err != nil {
		return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
	}
	defer rows.Close()
	out := map[string]correctionBy{}
	for rows.Next() {
		var id string
		var c correctionBy
		if err := rows.Scan(&id, &c.officer, &c.n, &c.district, &c.category, &c.subcategory); err != nil {
			return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("corrections of %d complaints: %w", len(ids), err)
	}
	return out, nil
}

// moveOut takes the corrected complaints out of the waiting cases that
// hold them (by complaint), each case's in one go: the audit records
// each complaint's leaving with the supervisor and the correction, and a
// case left with no complaint is closed (case.closed, concerning no work
// order: the hotline hears of each one's new case). It returns the cases
// as they are left.
func moveOut(ctx context.Context, tx pgx.Tx, leaving map[string]*heldCase, evs map[string]event.ComplaintClustered, at time.Time) (map[string]caseflow.Case, error) {
	ids := make([]string, 0, len(leaving))
	byCase := map[string][]string{}
	cases := map[string]caseflow.Case{}
	for id, h := range leaving {
		ids = append(ids, id)
		byCase[h.ID] = append(byCase[h.ID], id)
		cases[h.ID] = h.Case
	}
	corrections, err := lastCorrections(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	caseIDs := make([]string, 0, len(byCase))
	for id := range byCase {
		caseIDs = append(caseIDs, id)
	}
	slices.Sort(caseIDs)
	for _, caseID := range caseIDs {
		c := cases[caseID]
		complaints := byCase[caseID]
		slices.Sort(complaints)
		actors, reasons := make([]string, len(complaints)), make([]string, len(complaints))
		for i, id := range complaints {
			ev := evs[id]
			corr := corrections[id]
			kind := ev.Category
			if ev.Subcategory != "" {
				kind += "/" + ev.Subcategory
			}
			by := "a supervisor's correction"
			if corr.officer != "" {
				by = "correction " + corr.n + " by " + corr.actor()
			}
			actors[i] = corr.actor()
			reasons[i] = caseflow.RemoveReason(id, fmt.Sprintf("%s, %s (%s): it leaves the case, which no team holds, to be routed there",
				ev.District, kind, by))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM case_complaints WHERE case_id = $1 AND complaint_id = ANY($2)`, caseID, complaints); err != nil {
			return nil, fmt.Errorf("move corrected complaints out of case %s: %w", caseID, err)
		}
		var left int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM case_complaints WHERE case_id = $1`, caseID).Scan(&left); err != nil {
			return nil, fmt.Errorf("move corrected complaints out of case %s: %w", caseID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason)
			SELECT $1, u.actor, $2, $3, $3, 'remove', u.reason FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS u(actor, reason, i)
			ORDER BY u.i`, caseID, at, c.Status, actors, reasons); err != nil {
			return nil, fmt.Errorf("audit case %s: %w", caseID, err)
		}
		if left > 0 {
			moved.WithLabelValues("waiting").Add(float64(len(complaints)))
			continue
		}
		closed, err := closeEmpty(ctx, tx, c, complaints, at)
		if err != nil {
			return nil, err
		}
		cases[caseID] = closed
		moved.WithLabelValues("closed").Add(float64(len(complaints)))
	}
	return cases, nil
}

// closeEmpty closes case c, which its last complaints (gone) left for
// the places a supervisor's corrections named: nothing is left to do in
// it, and the officers' lists and the reports no longer count it waiting.
func closeEmpty(ctx context.Context, tx pgx.Tx, c caseflow.Case, gone []string, at time.Time) (caseflow.Case, error) {
	n, err := caseflow.Scan(tx.QueryRow(ctx, `UPDATE cases AS c SET status = 'closed', closed_at = $2, updated_at = $2, version = c.version + 1
		WHERE c.id = $1 RETURNING `+caseflow.Columns, c.ID, at))
	if err != nil {
		return caseflow.Case{}, fmt.Errorf("close case %s: %w", c.ID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM case_timers WHERE case_id = $1 AND fired_at IS NULL`, c.ID); err != nil {
		return caseflow.Case{}, fmt.Errorf("close case %s: %w", c.ID, err)
	}
	reason := "no complaint left: " + strings.Join(gone, ", ") + " moved out by a supervisor's correction to another district or kind of nuisance"
	if _, err := tx.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason)
		VALUES ($1, $2, $3, $4, $5, 'close', $6)`, c.ID, actor.ID, at, c.Status, n.Status, reason); err != nil {
		return caseflow.Case{}, fmt.Errorf("audit case %s: %w", c.ID, err)
	}
	eventID := n.ID + "." + caseflow.KindClosed + "." + fmt.Sprint(n.Version)
	if err := outbox.Add(ctx, tx, caseflow.Subject(caseflow.KindClosed, n.Team), eventID, event.CaseChanged{
		EventID:  eventID,
		CaseID:   n.ID,
		Kind:     caseflow.KindClosed,
		Status:   n.Status,
		Team:     n.Team,
		Category: n.Category,
		District: n.District,
		Note:     reason,
		Actor:    actor.ID,
		At:       at.UTC(),
	}); err != nil {
		return caseflow.Case{}, err
	}
	return n, nil
}

// moveCorrected takes each corrected complaint of the batch that the
// rules route, and that a waiting case of another district or kind of
// nuisance holds, out of that case (moveOut). The batch then places it
// as a complaint no case holds, in a case of an id of its own should it
// open one (movedCaseID), and its former case is, among the batch's
// candidates, as the move left it. A complaint corrected to the district
// and kind of its case stays in it: the rules would route it to the teams
// that returned the case, and the case is the supervisor's to reassign.
func moveCorrected(ctx context.Context, tx pgx.Tx, f *finding, placed []placement, corrected map[string]event.ComplaintClustered,
	held map[string]*heldCase, at time.Time) error {
	leaving := map[string]*heldCase{}
	for i := range placed {
		ev := placed[i].ev
		h := held[ev.ComplaintID]
		if h == nil || !h.waiting || f.complaints[ev.ComplaintID].history || !sameCorrection(corrected, ev) || h.sameKind(ev) {
			continue
		}
		leaving[ev.ComplaintID] = h
		placed[i].caseID = movedCaseID(ev.ComplaintID, correctionOf(ev))
	}
	if len(leaving) == 0 {
		return nil
	}
	left, err := moveOut(ctx, tx, leaving, corrected, at)
	if err != nil {
		return err
	}
	for id := range leaving {
		m := f.complaints[id]
		m.held = false
		f.complaints[id] = m
		delete(held, id) // a second copy in the batch finds it in its new case
	}
	for _, c := range f.cases {
		if n, ok := left[c.ID]; ok {
			c.Case = n
		}
	}
	return nil
}

// sameCorrection reports whether ev is the batch's correction of its
// complaint (the last, when a batch holds two).
func sameCorrection(corrected map[string]event.ComplaintClustered, ev event.ComplaintClustered) bool {
	c, ok := corrected[ev.ComplaintID]
	return ok && c.EventID == ev.EventID
}

// sameKind reports whether the corrected complaint ev is of the case's
// district and kind of nuisance.
func (h *heldCase) sameKind(ev event.ComplaintClustered) bool {
	return h.District == ev.District && h.Category == ev.Category && h.Subcategory == ev.Subcategory
}

// dropForeignHotspots leaves out the hotspot of each corrected complaint
// of placed whose hotspot is of another district or category than the
// correction's: the detector keeps a complaint it holds in the hotspot it
// clustered it in before the correction, which is not the place of the
// corrected complaint, and a case of the corrected district must not be
// one of that hotspot's.
func dropForeignHotspots(ctx context.Context, tx pgx.Tx, placed []placement, corrected map[string]event.ComplaintClustered) error {
	var idx []int
	var hotspots, districts, categories []string
	for i, p := range placed {
		if p.hotspot == "" || !sameCorrection(corrected, p.ev) {
			continue
		}
		idx = append(idx, i)
		hotspots, districts, categories = append(hotspots, p.hotspot), append(districts, p.ev.District), append(categories, p.ev.Category)
	}
	if len(idx) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT u.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(hotspot, district, category, i)
		WHERE NOT EXISTS (SELECT 1 FROM hotspots h WHERE h.id = u.hotspot AND h.district = u.district AND h.category = u.category)`,
		hotspots, districts, categories)
	if err != nil {
		return fmt.Errorf("hotspots of %d corrected complaints: %w", len(idx), err)
	}
	foreign, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("hotspots of %d corrected complaints: %w", len(idx), err)
	}
	for _, i := range foreign {
		placed[idx[i-1]].hotspot = ""
	}
	return nil
}
