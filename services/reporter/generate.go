package reporter

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/internal/place"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/hotspotstats"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// TrendDays is how many days the daily trend chart covers, the report
// week last.
const TrendDays = 28

// MaxOverdue caps the overdue cases a report lists; OverdueTotal still
// counts them all.
const MaxOverdue = 200

// Generate builds the report of an ISO week ("2024-W11") from the
// pipeline's tables in one consistent snapshot; now is its generation
// time. A malformed week is a fault.Invalid error. The command line
// (`nuisance report`) and the scheduler both call it. The priority
// districts are those of the built-in plans; GenerateWith adds an
// operator's.
func Generate(ctx context.Context, pool *pgxpool.Pool, week string, now time.Time) (*report.Report, error) {
	return GenerateWith(ctx, pool, week, now, "")
}

// GenerateWith is Generate with the priority plans of an operator's file
// (NUISANCE_PRIORITY) added to the built-in ones; "" adds none.
func GenerateWith(ctx context.Context, pool *pgxpool.Pool, week string, now time.Time, priorityFile string) (*report.Report, error) {
	var r *report.Report
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		r, err = generate(ctx, tx, week, now, priorityFile)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Render writes a report as html, csv, json or geojson; an unknown
// format is a fault.Invalid error.
func Render(r *report.Report, format string, w io.Writer) error {
	if !slices.Contains(report.Formats, format) {
		return fault.Errorf(fault.Invalid, "render %s: unknown format %q, want html, csv, json or geojson", r.Week, format)
	}
	return report.Render(r, format, w)
}

// generate runs the report's queries in tx.
func generate(ctx context.Context, tx pgx.Tx, week string, now time.Time, priorityFile string) (*report.Report, error) {
	ref, err := loadRef(priorityFile)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", week, err)
	}
	start, end, err := gistar.WeekBounds(week)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, fmt.Errorf("report: %w", err))
	}
	prevStart := start.AddDate(0, 0, -7)
	r := &report.Report{
		Week:         week,
		Start:        start,
		End:          end,
		PreviousWeek: gistar.WeekOf(prevStart),
		GeneratedAt:  now.In(start.Location()).Truncate(time.Second),
	}
	g := &gen{tx: tx, ref: ref, plan: ref.planOf(start), r: r, start: start, end: end, prevStart: prevStart}
	r.PriorityPlan = g.plan.plan
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"counts", g.counts},
		{"hotspots", g.hotspots},
		{"timeliness", g.timeliness},
		{"overdue", g.overdue},
		{"escalations", g.escalations},
		{"extensions", g.extensions},
		{"repeat", g.repeat},
		{"quiet", g.quiet},
		{"gistar", g.gistar},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("report %s: %s: %w", week, s.name, err)
		}
	}
	return r, nil
}

// gen holds one generation's state.
type gen struct {
	tx                    pgx.Tx
	ref                   *ref
	plan                  *weekPlan
	r                     *report.Report
	start, end, prevStart time.Time
}

// counts fills the totals, the category × district tables with their
// change, and the daily trend. A complaint's category and district are
// the geocoder's.
func (g *gen) counts(ctx context.Context) error {
	from := g.end.AddDate(0, 0, -TrendDays)
	// Days are counted from a Shanghai midnight: China keeps UTC+8 all
	// year, so a day is always 86,400 seconds. The total comes from the
	// complaints, the category and district from the geocoder's rows,
	// each read from an index alone; a complaint the geocoder has not
	// seen yet counts as unclassified and unlocated.
	const day = `floor(extract(epoch FROM received_at - $1::timestamptz) / 86400)::int`
	type key struct{ cat, district string }
	this, prev := map[key]int{}, map[key]int{}
	r := g.r
	r.Daily = make([]report.Day, TrendDays)
	weekFirst := g.start.Format("2006-01-02")
	prevFirst := g.prevStart.Format("2006-01-02")
	for i := range TrendDays {
		d := from.AddDate(0, 0, i).Format("2006-01-02")
		r.Daily[i] = report.Day{Date: d, ByCategory: map[string]int{}, InWeek: d >= weekFirst}
		for _, c := range report.Categories {
			r.Daily[i].ByCategory[c] = 0
		}
	}
	// tally moves n complaints of a day from unclassified and unlocated
	// (the empty key) to their category and district.
	tally := func(dayIndex int, cat, district string, n int) {
		if dayIndex < 0 || dayIndex >= TrendDays {
			return
		}
		d := &r.Daily[dayIndex]
		if cat == "" && district == "" {
			d.Total += n
		} else if cat != "" {
			d.ByCategory[cat] += n
		}
		var m map[key]int
		switch {
		case d.Date >= weekFirst:
			m = this
		case d.Date >= prevFirst:
			m = prev
		default:
			return
		}
		if cat != "" || district != "" {
			m[key{}] -= n
		}
		m[key{cat, district}] += n
	}
	rows, err := g.tx.Query(ctx, `SELECT `+day+`, count(*) FROM complaints
		WHERE received_at >= $1 AND received_at < $2 GROUP BY 1`, from, g.end)
	if err != nil {
		return err
	}
	for rows.Next() {
		var dayIndex, n int
		if err := rows.Scan(&dayIndex, &n); err != nil {
			rows.Close()
			return err
		}
		tally(dayIndex, "", "", n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = g.tx.Query(ctx, `
		SELECT `+day+`, COALESCE(category, ''), CASE WHEN located THEN COALESCE(district, '') ELSE '' END, count(*)
		FROM locations
		WHERE received_at >= $1 AND received_at < $2 AND (category IS NOT NULL OR located)
		GROUP BY 1, 2, 3`, from, g.end)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var dayIndex, n int
		var cat, district string
		if err := rows.Scan(&dayIndex, &cat, &district, &n); err != nil {
			return err
		}
		if !slices.Contains(report.Categories, cat) {
			cat = ""
		}
		if _, ok := g.ref.names[district]; !ok {
			district = ""
		}
		if cat != "" || district != "" {
			tally(dayIndex, cat, district, n)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.ByCategory = map[string]int{}
	r.ByDistrict = map[string]int{}
	for _, c := range report.Categories {
		r.ByCategory[c] = 0
	}
	for _, d := range g.ref.districts {
		r.ByDistrict[d] = 0
	}
	for k, n := range this {
		r.Total += n
		if k.cat == "" {
			r.Unclassified += n
		} else {
			r.ByCategory[k.cat] += n
		}
		if k.district == "" {
			r.Unlocated += n
		} else {
			r.ByDistrict[k.district] += n
		}
	}
	for _, n := range prev {
		r.PreviousTotal += n
	}
	// The complaints of the plan's priority kinds in each category and
	// district: a priority district's row says how many of its complaints
	// the plan names.
	type sub struct{ this, prev int }
	subs := map[key]*sub{}
	srows, err := g.tx.Query(ctx, `
		SELECT category, district, subcategory,
		       count(*) FILTER (WHERE received_at >= $2), count(*) FILTER (WHERE received_at < $2)
		FROM locations
		WHERE received_at >= $1 AND received_at < $3 AND located AND category IS NOT NULL AND subcategory IS NOT NULL
		GROUP BY 1, 2, 3`, g.prevStart, g.start, g.end)
	if err != nil {
		return err
	}
	for srows.Next() {
		var cat, district, subcat string
		var n, p int
		if err := srows.Scan(&cat, &district, &subcat, &n, &p); err != nil {
			srows.Close()
			return err
		}
		if !g.plan.priorityKind(cat, subcat, district) {
			continue
		}
		k := key{cat, district}
		if subs[k] == nil {
			subs[k] = &sub{}
		}
		subs[k].this += n
		subs[k].prev += p
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return err
	}
	for _, c := range report.Categories {
		cs := report.CategorySummary{Category: c, Name: report.CategoryName(c)}
		catPrev := 0
		for k, n := range prev {
			if k.cat == c {
				catPrev += n
			}
		}
		cs.Count = report.NewCount(r.ByCategory[c], catPrev)
		for _, d := range g.ref.orderedDistricts(g.plan, c) {
			dc := report.DistrictCount{
				District: d,
				Name:     g.ref.districtName(d),
				Priority: slices.Contains(g.plan.districts[c], d),
				Count:    report.NewCount(this[key{c, d}], prev[key{c, d}]),
			}
			if dc.Priority {
				var n, p int
				if s := subs[key{c, d}]; s != nil {
					n, p = s.this, s.prev
				}
				pc := report.NewCount(n, p)
				dc.PriorityCount = &pc
			}
			cs.Districts = append(cs.Districts, dc)
		}
		// Classified but in no district (the geocoder could not place
		// them, triage has not yet): a row of their own, or the
		// districts would not add up to the category's total.
		cs.Unlocated = report.NewCount(this[key{c, ""}], prev[key{c, ""}])
		r.Categories = append(r.Categories, cs)
	}
	return nil
}

// hotspots lists the hotspots that drew complaints in the week or the
// week before, or were resolved in the week, with their counts, trend
// and case: the one holding most of its complaints of the week (on a tie,
// one of its own category, then the latest), whose team is the one
// responsible for it, not that of a stray complaint's latest case.
// Merged hotspots live on in the one they merged into. Those of a kind
// the week's plan makes a priority in their district come first.
// A hotspot's status, and its case's status and team, are those
// of the week's end (hotspotStatusAt, caseStatusAt, caseTeamAt): a week
// generated again months later shows neither what has been escalated or
// closed since nor what has been resolved since, beside counts and an
// overdue list that are the week's.
func (g *gen) hotspots(ctx context.Context) error {
	// Counts in the two weeks come from the members of those weeks; the
	// total at the week's end is the hotspot's count less the complaints
	// that joined it later, so no hotspot's whole history is read. A
	// hotspot was resolved in the week when the team resolved one of its
	// cases in it, as the case audit log records: hotspots.resolved_at
	// holds only the latest resolution, which a later one overwrites.
	// Its last complaint is the last before the week's end.
	rows, err := g.tx.Query(ctx, `
		WITH w AS (
			SELECT hotspot_id AS id,
			       count(*) FILTER (WHERE at >= $2) AS week,
			       count(*) FILTER (WHERE at < $2) AS prev,
			       max(at) AS last_at
			FROM hotspot_members
			WHERE at >= $1 AND at < $3 AND hotspot_id IS NOT NULL
			GROUP BY hotspot_id
		), res AS (
			SELECT DISTINCT COALESCE(h.merged_into, h.id) AS id
			FROM case_audit a JOIN cases c ON c.id = a.case_id JOIN hotspots h ON h.id = c.hotspot_id
			WHERE a.action = 'resolve' AND a.at >= $2 AND a.at < $3
		), ids AS (
			SELECT id FROM w
			UNION
			SELECT id FROM res
		), later AS (
			SELECT hotspot_id AS id, count(*) AS n FROM hotspot_members
			WHERE at >= $3 AND hotspot_id IN (SELECT id FROM ids)
			GROUP BY hotspot_id
		)
		SELECT h.id, h.category, COALESCE(h.subcategory, ''), h.district, COALESCE(h.subdistrict, ''),
		       `+place.ShownSQL("h.place", "h.place_key")+`, h.lon, h.lat, `+hotspotStatusAt("h", "$3")+`, res.id IS NOT NULL,
		       COALESCE(w.week, 0), COALESCE(w.prev, 0),
		       GREATEST(h.complaint_count - COALESCE(later.n, 0), COALESCE(w.week, 0) + COALESCE(w.prev, 0)),
		       h.first_at,
		       COALESCE(w.last_at, (SELECT max(m.at) FROM hotspot_members m WHERE m.hotspot_id = h.id AND m.at < $3), h.last_at),
		       COALESCE(k.id, ''), COALESCE(k.team, ''), COALESCE(k.status, '')
		FROM ids JOIN hotspots h ON h.id = ids.id
		LEFT JOIN w ON w.id = h.id
		LEFT JOIN later ON later.id = h.id
		LEFT JOIN res ON res.id = h.id
		LEFT JOIN LATERAL (
			SELECT c.id, `+caseTeamAt("c", "$3")+` AS team, `+caseStatusAt("c", "$3")+` AS status
			FROM (SELECT h.id UNION ALL SELECT m.id FROM hotspots m WHERE m.merged_into = h.id) s(id)
			JOIN cases c ON c.hotspot_id = s.id AND c.opened_at < $3
			ORDER BY (SELECT count(*) FROM case_complaints cc JOIN hotspot_members hm ON hm.complaint_id = cc.complaint_id
			          WHERE cc.case_id = c.id AND hm.at >= $2 AND hm.at < $3) DESC,
			         c.category = h.category DESC, c.opened_at DESC, c.id DESC
			LIMIT 1
		) k ON true
		WHERE h.status <> 'merged'`, g.prevStart, g.start, g.end)
	if err != nil {
		return err
	}
	defer rows.Close()
	r := g.r
	r.Hotspots = []report.Hotspot{}
	r.HotspotTrends = map[string]int{}
	for _, t := range report.Trends {
		r.HotspotTrends[t] = 0
	}
	for rows.Next() {
		var h report.Hotspot
		var resolvedInWeek bool
		if err := rows.Scan(&h.ID, &h.Category, &h.Subcategory, &h.District, &h.Subdistrict, &h.Place, &h.Lon, &h.Lat,
			&h.Status, &resolvedInWeek, &h.WeekCount, &h.PreviousCount, &h.TotalCount, &h.FirstAt, &h.LastAt,
			&h.CaseID, &h.Team, &h.CaseStatus); err != nil {
			return err
		}
		// A hotspot without a named place is shown by its key, which is
		// made of a citizen's address: a phone number or a caller's name
		// with a title in a key stored before addresses lost them is
		// masked.
		h.Place = pii.MaskPlace(h.Place)
		h.Trend = g.trend(h, resolvedInWeek)
		if h.Trend == "" {
			continue
		}
		h.DistrictName = g.ref.districtName(h.District)
		if h.Subcategory != "" {
			h.SubcategoryName = g.ref.kindName(h.Category, h.Subcategory)
		}
		h.Priority = g.plan.priorityKind(h.Category, h.Subcategory, h.District)
		if h.Team != "" {
			h.TeamName = g.ref.teamName(h.Team)
		}
		h.FirstAt, h.LastAt = h.FirstAt.In(g.start.Location()), h.LastAt.In(g.start.Location())
		r.Hotspots = append(r.Hotspots, h)
		r.HotspotTrends[h.Trend]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortFunc(r.Hotspots, func(a, b report.Hotspot) int {
		return cmp.Or(-cmpBool(a.Priority, b.Priority), cmp.Compare(b.WeekCount, a.WeekCount), cmp.Compare(b.TotalCount, a.TotalCount), cmp.Compare(a.ID, b.ID))
	})
	return g.hotspotCases(ctx)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// hotspotCases lists each reported hotspot's cases that were open during
// the week, with their status and team at its end: opened before its end,
// and neither resolved nor closed at its start or reopened during it (a
// case reopened after the week was resolved in it, however its row reads
// now). A hotspot spread over several sites has a case at each, and the
// cases of the hotspots merged into it are its own.
func (g *gen) hotspotCases(ctx context.Context) error {
	r := g.r
	ids := make([]string, len(r.Hotspots))
	at := make(map[string]int, len(r.Hotspots))
	for i := range r.Hotspots {
		ids[i] = r.Hotspots[i].ID
		at[ids[i]] = i
		r.Hotspots[i].Cases = []report.HotspotCase{}
	}
	rows, err := g.tx.Query(ctx, `
		WITH hs AS (SELECT unnest($1::text[]) AS id),
		src AS (
			SELECT hs.id AS hid, hs.id AS src FROM hs
			UNION ALL
			SELECT hs.id, m.id FROM hs JOIN hotspots m ON m.merged_into = hs.id
		), maybe AS (
			SELECT src.hid, c.* FROM src JOIN cases c ON c.hotspot_id = src.src
			WHERE COALESCE(c.resolved_at, c.closed_at) IS NULL AND c.opened_at < $3
			UNION ALL
			SELECT src.hid, c.* FROM src JOIN cases c ON c.hotspot_id = src.src
			WHERE COALESCE(c.resolved_at, c.closed_at) >= $2 AND c.opened_at < $3
		), c AS (
			SELECT hid, id, `+caseTeamAt("c", "$3")+` AS team, `+caseStatusAt("c", "$3")+` AS status, place, opened_at
			FROM maybe c
			WHERE `+caseStatusAt("c", "$2")+` NOT IN ('resolved', 'closed')
			   OR EXISTS (SELECT 1 FROM case_audit a WHERE a.case_id = c.id AND a.at >= $2 AND a.at < $3
			              AND a.to_status NOT IN ('resolved', 'closed'))
		), k AS (
			SELECT hid, id, COALESCE(team, '') AS team, status, COALESCE(place, '') AS place, opened_at,
			       row_number() OVER (PARTITION BY hid ORDER BY opened_at DESC, id DESC) AS nth,
			       count(*) OVER (PARTITION BY hid) AS n
			FROM c
		)
		SELECT hid, id, team, status, place, opened_at, n FROM k WHERE nth <= $4 ORDER BY hid, nth`,
		ids, g.start, g.end, report.MaxHotspotCases)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hid string
		var c report.HotspotCase
		var n int
		if err := rows.Scan(&hid, &c.CaseID, &c.Team, &c.Status, &c.Place, &c.OpenedAt, &n); err != nil {
			return err
		}
		if c.Team != "" {
			c.TeamName = g.ref.teamName(c.Team)
		}
		c.OpenedAt = c.OpenedAt.In(g.start.Location())
		h := &r.Hotspots[at[hid]]
		h.Cases = append(h.Cases, c)
		h.CaseCount = n
	}
	return rows.Err()
}

// hotspotStatusAt is the SQL of the status the hotspot h (an alias of
// hotspots) had at t, as hotspot_statuses recorded it when it was taken;
// empty when none was on record by then: a hotspot found after t (made of
// complaints delivered late or backfilled), or one that has not changed
// since before statuses were recorded (migration 00095) and was last
// written after t.
func hotspotStatusAt(h, t string) string {
	return `COALESCE((SELECT s.status FROM hotspot_statuses s WHERE s.hotspot_id = ` + h + `.id AND s.at < ` + t + `
		ORDER BY s.at DESC, s.id DESC LIMIT 1), '')`
}

// caseStatusAt is the SQL of the status the case c (an alias of cases, or
// of rows with its id and status) had at t, from its audit: the status
// its last transition before t left, or, when it had none by then, the
// one its first transition after found. A case whose record begins after
// t, with its opening (a case opened from a backlog, whose complaint of
// before t was delivered after it, and mostly assigned at once), had no
// status at t: it has its status now, as the generation finds it, not
// the opening's own (open, 待派单, for a case a team holds). So has a
// case whose audit holds nothing.
func caseStatusAt(c, t string) string {
	return `COALESCE(
		(SELECT a.to_status FROM case_audit a WHERE a.case_id = ` + c + `.id AND a.at < ` + t + ` ORDER BY a.at DESC, a.id DESC LIMIT 1),
		(SELECT a.from_status FROM case_audit a WHERE a.case_id = ` + c + `.id AND a.at >= ` + t + `
		 ORDER BY a.at, a.id LIMIT 1),
		` + c + `.status)`
}

// caseTeamAt is the SQL of the team that held the case c (an alias of
// cases, or of rows with its id and team) at t: that of its last
// assignment before t, or its team now when it had none by then.
func caseTeamAt(c, t string) string {
	return `COALESCE((SELECT a.team FROM assignments a WHERE a.case_id = ` + c + `.id AND a.assigned_at < ` + t + `
		ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1), ` + c + `.team)`
}

// trend decides a hotspot's trend in the week, "" when the report leaves
// it out (quiet this week and neither resolved nor cooling). A hotspot is
// new when it had fewer complaints than its category's minimum before the
// week: it became a hotspot this week.
func (g *gen) trend(h report.Hotspot, resolvedInWeek bool) string {
	switch {
	case h.WeekCount > 0 && h.TotalCount-h.WeekCount < g.ref.minCount[h.Category]:
		return report.TrendNew
	case h.WeekCount > h.PreviousCount:
		return report.TrendGrowing
	case h.WeekCount > 0:
		return report.TrendPersistent
	case resolvedInWeek, h.PreviousCount > 0 && !h.LastAt.Add(g.ref.cooling[h.Category]).After(g.end):
		// Cooled by the week's end: quiet for the cooling time since
		// its last complaint before the end (LastAt, the week before's
		// here), whatever its status now that the week is over: it may
		// have come back since.
		return report.TrendResolved
	}
	return ""
}

// timeliness measures, by team and district, the cases whose sign-for or
// resolve deadline fell in the week.
func (g *gen) timeliness(ctx context.Context) error {
	rows, err := g.tx.Query(ctx, `
		WITH `+reopenedAfter+`,
		k AS (
			SELECT team, district, sign_due, accepted_at, resolve_due, resolved_at, closed_at FROM cases
			WHERE ((sign_due >= $1 AND sign_due < $2) OR (resolve_due >= $1 AND resolve_due < $2))
			  AND id NOT IN (SELECT case_id FROM r) AND id NOT IN (SELECT id FROM moved)
			UNION ALL
			SELECT team, district, sign_due, accepted_at, resolve_due, resolved_at, closed_at FROM ended
			WHERE (sign_due >= $1 AND sign_due < $2) OR (resolve_due >= $1 AND resolve_due < $2)
			UNION ALL
			SELECT team, district, sign_due, accepted_at, resolve_due, resolved_at, closed_at FROM moved
			WHERE (sign_due >= $1 AND sign_due < $2) OR (resolve_due >= $1 AND resolve_due < $2)
		)
		SELECT COALESCE(team, ''), district,
		       count(*) FILTER (WHERE sign_due >= $1 AND sign_due < $2),
		       count(*) FILTER (WHERE sign_due >= $1 AND sign_due < $2 AND accepted_at <= sign_due),
		       count(*) FILTER (WHERE resolve_due >= $1 AND resolve_due < $2),
		       count(*) FILTER (WHERE resolve_due >= $1 AND resolve_due < $2 AND COALESCE(resolved_at, closed_at) <= resolve_due)
		FROM k
		GROUP BY 1, 2`, g.start, g.end)
	if err != nil {
		return err
	}
	defer rows.Close()
	type tally struct{ signDue, signOK, resDue, resOK int }
	byTeam, byDistrict := map[string]*tally{}, map[string]*tally{}
	teamDistrict := map[string]string{}
	var all tally
	add := func(m map[string]*tally, k string, t tally) {
		x := m[k]
		if x == nil {
			x = &tally{}
			m[k] = x
		}
		x.signDue, x.signOK, x.resDue, x.resOK = x.signDue+t.signDue, x.signOK+t.signOK, x.resDue+t.resDue, x.resOK+t.resOK
	}
	for rows.Next() {
		var team, district string
		var t tally
		if err := rows.Scan(&team, &district, &t.signDue, &t.signOK, &t.resDue, &t.resOK); err != nil {
			return err
		}
		add(byDistrict, district, t)
		if team != "" {
			add(byTeam, team, t)
			if _, ok := teamDistrict[team]; !ok {
				teamDistrict[team] = district
			}
		}
		all.signDue, all.signOK, all.resDue, all.resOK = all.signDue+t.signDue, all.signOK+t.signOK, all.resDue+t.resDue, all.resOK+t.resOK
	}
	if err := rows.Err(); err != nil {
		return err
	}
	tl := &g.r.Timeliness
	tl.Sign, tl.Resolve = report.NewRate(all.signDue, all.signOK), report.NewRate(all.resDue, all.resOK)
	tl.ByDistrict = []report.DistrictRate{}
	for _, d := range g.ref.districts {
		t := byDistrict[d]
		if t == nil {
			t = &tally{}
		}
		tl.ByDistrict = append(tl.ByDistrict, report.DistrictRate{District: d, Name: g.ref.districtName(d),
			Sign: report.NewRate(t.signDue, t.signOK), Resolve: report.NewRate(t.resDue, t.resOK)})
	}
	tl.ByTeam = []report.TeamRate{}
	for team, t := range byTeam {
		d := teamDistrict[team]
		if known, ok := g.ref.teams[team]; ok {
			d = known.District
		}
		tl.ByTeam = append(tl.ByTeam, report.TeamRate{Team: team, Name: g.ref.teamName(team), District: d,
			Sign: report.NewRate(t.signDue, t.signOK), Resolve: report.NewRate(t.resDue, t.resOK)})
	}
	order := func(d string) int {
		if i := slices.Index(g.ref.districts, d); i >= 0 {
			return i
		}
		return len(g.ref.districts)
	}
	slices.SortFunc(tl.ByTeam, func(a, b report.TeamRate) int {
		return cmp.Or(cmp.Compare(order(a.District), order(b.District)), cmp.Compare(a.Team, b.Team))
	})
	return nil
}

// reopenedAfter (with the week's end in $2) and reopenedAfterEnd (in $1)
// are the SQL of the cases reopened (重新交办) after the week: r, the
// first such reopen of each, and ended, those cases as they stood when
// it came, with the resolve and sign deadlines it replaced (recorded as
// its due_before and sign_due_before) and the resolution and signing for
// it undid. A reopen
// clears both and sets new deadlines, so without them a week's report
// generated again later would lose a case the week saw overdue or late.
// moved are the cases returned (退单) or reassigned (改派) after the week
// and not reopened after it, as their assignment of the week's end left
// them: a return clears the case's signing, a reassignment moves its team
// and a passed sign deadline, and the assignment keeps what they replaced.
var (
	reopenedAfter    = strings.ReplaceAll(reopenedAfterSQL, "$END", "$2")
	reopenedAfterEnd = strings.ReplaceAll(reopenedAfterSQL, "$END", "$1")
)

const reopenedAfterSQL = `r AS (
		SELECT DISTINCT ON (case_id) case_id, at, due_before, sign_due_before FROM case_audit
		WHERE action = 'reopen' AND at >= $END ORDER BY case_id, at, id
	), ended AS (
		SELECT c.id, c.category, c.district, c.team, c.place, c.status, c.escalated, c.opened_at, c.closed_at,
		       COALESCE(r.sign_due_before, c.sign_due) AS sign_due,
		       (SELECT max(a.at) FROM case_audit a WHERE a.case_id = c.id AND a.action = 'accept' AND a.at <= r.at) AS accepted_at,
		       COALESCE(r.due_before, c.resolve_due) AS resolve_due,
		       (SELECT max(a.at) FROM case_audit a WHERE a.case_id = c.id AND a.action = 'resolve' AND a.at <= r.at) AS resolved_at
		FROM r JOIN cases c ON c.id = r.case_id
	), moved AS (
		SELECT c.id, c.category, c.district, a.team, c.place,
		       CASE WHEN a.ended_at < $END THEN 'returned' ELSE 'assigned' END AS status,
		       c.escalated, c.opened_at, c.closed_at, a.sign_due,
		       CASE WHEN a.ended_at IS NULL OR a.ended_at >= $END THEN a.accepted_at END AS accepted_at,
		       a.resolve_due, c.resolved_at
		FROM cases c
		CROSS JOIN LATERAL (
			SELECT team, sign_due, accepted_at, resolve_due, ended_at FROM assignments
			WHERE case_id = c.id AND assigned_at < $END ORDER BY assigned_at DESC, id DESC LIMIT 1
		) a
		WHERE c.id IN (SELECT case_id FROM case_audit WHERE action IN ('return', 'reassign') AND at >= $END)
		  AND c.id NOT IN (SELECT case_id FROM r)
	)`

// overdue lists the cases past their resolve deadline and unresolved at
// the end of the week, each at its place or, when the case has none, at
// its first complaint's sub-district and place, with the status they had then (signed for or not,
// by when they were) and whether they had been escalated by then: a
// report generated again later shows the week as it ended.
func (g *gen) overdue(ctx context.Context) error {
	rows, err := g.tx.Query(ctx, `
		WITH `+reopenedAfterEnd+`,
		o AS (
			SELECT id, category, district, team, place, status, accepted_at, resolve_due, escalated
			FROM cases
			WHERE resolved_at IS NULL AND closed_at IS NULL AND resolve_due < $1 AND opened_at < $1
			  AND id NOT IN (SELECT case_id FROM r) AND id NOT IN (SELECT id FROM moved)
			UNION ALL
			SELECT id, category, district, team, place, status, accepted_at, resolve_due, escalated
			FROM cases
			WHERE COALESCE(resolved_at, closed_at) > $1 AND resolve_due < $1 AND opened_at < $1
			  AND id NOT IN (SELECT case_id FROM r) AND id NOT IN (SELECT id FROM moved)
			UNION ALL
			SELECT id, category, district, team, place, status, accepted_at, resolve_due, escalated
			FROM moved
			WHERE (COALESCE(resolved_at, closed_at) IS NULL OR COALESCE(resolved_at, closed_at) > $1) AND resolve_due < $1 AND opened_at < $1
			UNION ALL
			SELECT id, category, district, team, place, status, accepted_at, resolve_due, escalated
			FROM ended
			WHERE (resolved_at IS NULL OR resolved_at > $1) AND resolve_due < $1 AND opened_at < $1
		)
		SELECT id, category, district, COALESCE(team, ''),
		       COALESCE(NULLIF(place, ''), (
		           SELECT concat_ws(' ', NULLIF(l.subdistrict, ''), NULLIF(`+place.ShownSQL("l.place", "l.place_key")+`, ''))
		           FROM case_complaints cc JOIN locations l ON l.complaint_id = cc.complaint_id
		           WHERE cc.case_id = o.id AND COALESCE(NULLIF(l.subdistrict, ''), NULLIF(l.place, ''), NULLIF(l.place_key, '')) IS NOT NULL
		           ORDER BY l.received_at, l.complaint_id LIMIT 1), ''),
		       CASE WHEN status IN ('assigned', 'accepted', 'resolved', 'closed') THEN
		                CASE WHEN accepted_at <= $1 THEN 'accepted' ELSE 'assigned' END
		            ELSE status END,
		       resolve_due,
		       escalated AND COALESCE((SELECT min(a.at) FROM case_audit a WHERE a.case_id = o.id AND a.action = 'escalate') < $1, true),
		       count(*) OVER ()
		FROM o ORDER BY resolve_due, id LIMIT $2`, g.end, MaxOverdue)
	if err != nil {
		return err
	}
	defer rows.Close()
	tl := &g.r.Timeliness
	tl.Overdue = []report.OverdueCase{}
	for rows.Next() {
		var c report.OverdueCase
		if err := rows.Scan(&c.CaseID, &c.Category, &c.District, &c.Team, &c.Place, &c.Status, &c.ResolveDue, &c.Escalated, &tl.OverdueTotal); err != nil {
			return err
		}
		// A case without a place of its own is shown where its first
		// complaint was located (街道 and place), which is made of a
		// citizen's address: a phone number or a caller's name in it is
		// masked.
		c.Place = pii.MaskPlace(c.Place)
		c.DistrictName = g.ref.districtName(c.District)
		if c.Team != "" {
			c.TeamName = g.ref.teamName(c.Team)
		}
		c.ResolveDue = c.ResolveDue.In(g.start.Location())
		c.DaysOverdue = math.Round(g.end.Sub(c.ResolveDue).Hours()/24*10) / 10
		tl.Overdue = append(tl.Overdue, c)
	}
	return rows.Err()
}

// escalations lists the escalations (督办) of cases during the week from
// the case audit log.
func (g *gen) escalations(ctx context.Context) error {
	var err error
	g.r.Timeliness.Escalations, err = g.audited(ctx, "escalat%")
	return err
}

// extensions lists the extensions (延期) of cases' deadlines during the
// week from the case audit log.
func (g *gen) extensions(ctx context.Context) error {
	var err error
	g.r.Timeliness.Extensions, err = g.audited(ctx, "extend")
	return err
}

// audited lists the audit entries of the week whose action is like
// action, with their cases, in the order they were made.
func (g *gen) audited(ctx context.Context, action string) ([]report.Escalation, error) {
	rows, err := g.tx.Query(ctx, `
		SELECT a.case_id, a.at, k.category, k.district, COALESCE(k.team, ''), COALESCE(a.deadline, ''), a.due_before, a.due_after
		FROM case_audit a JOIN cases k ON k.id = a.case_id
		WHERE a.at >= $1 AND a.at < $2 AND a.action LIKE $3
		ORDER BY a.at, a.id`, g.start, g.end, action)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []report.Escalation{}
	for rows.Next() {
		var e report.Escalation
		if err := rows.Scan(&e.CaseID, &e.At, &e.Category, &e.District, &e.Team, &e.Deadline, &e.DueBefore, &e.DueAfter); err != nil {
			return nil, err
		}
		e.At = e.At.In(g.start.Location())
		for _, d := range []*time.Time{e.DueBefore, e.DueAfter} {
			if d != nil {
				*d = d.In(g.start.Location())
			}
		}
		e.DistrictName = g.ref.districtName(e.District)
		if e.Team != "" {
			e.TeamName = g.ref.teamName(e.Team)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// repeat counts the week's complaints that joined a hotspot which already
// had an earlier complaint.
func (g *gen) repeat(ctx context.Context) error {
	rp := &g.r.Repeat
	err := g.tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE m.hotspot_id IS NOT NULL),
		       count(*) FILTER (WHERE h.first_at < m.at)
		FROM hotspot_members m LEFT JOIN hotspots h ON h.id = m.hotspot_id
		WHERE m.at >= $1 AND m.at < $2`, g.start, g.end).Scan(&rp.InHotspots, &rp.Repeats)
	if err != nil {
		return err
	}
	rp.Complaints = g.r.Total
	rp.Rate = report.Ratio(float64(rp.Repeats), float64(rp.Complaints))
	return nil
}

// quiet counts the week's complaints in each quiet residential community
// (宁静小区): those in a case in the community the router marked on it,
// and the work orders loaded as history, which never join a case, in
// the one it would have marked (historyQuiet). A case reopened after the
// week is open or not as it stood when the week ended (ended), not as the
// reopen left it.
func (g *gen) quiet(ctx context.Context) error {
	type key struct{ name, district string }
	type tally struct{ complaints, cases, open int }
	seen := map[key]*tally{}
	at := func(k key) *tally {
		if seen[k] == nil {
			seen[k] = &tally{}
		}
		return seen[k]
	}
	rows, err := g.tx.Query(ctx, `
		WITH `+reopenedAfter+`
		SELECT c.quiet_community, c.district, count(*), count(DISTINCT c.id),
		       count(DISTINCT c.id) FILTER (WHERE CASE WHEN e.id IS NOT NULL THEN e.resolved_at IS NULL OR e.resolved_at >= $2
		           ELSE COALESCE(c.resolved_at, c.closed_at) IS NULL OR COALESCE(c.resolved_at, c.closed_at) >= $2 END)
		FROM complaints m
		JOIN case_complaints cc ON cc.complaint_id = m.id
		JOIN cases c ON c.id = cc.case_id
		LEFT JOIN ended e ON e.id = c.id
		WHERE m.received_at >= $1 AND m.received_at < $2 AND c.quiet_community IS NOT NULL
		GROUP BY 1, 2`, g.start, g.end)
	if err != nil {
		return err
	}
	var k key
	var n tally
	if _, err := pgx.ForEachRow(rows, []any{&k.name, &k.district, &n.complaints, &n.cases, &n.open}, func() error {
		*at(k) = n
		return nil
	}); err != nil {
		return err
	}
	history, err := g.historyQuiet(ctx)
	if err != nil {
		return err
	}
	for _, k := range history {
		at(k).complaints++
	}
	g.r.QuietCommunities = []report.QuietCommunity{}
	for k, n := range seen {
		g.r.QuietCommunities = append(g.r.QuietCommunities, report.QuietCommunity{Name: k.name, District: k.district,
			DistrictName: g.ref.districtName(k.district), Complaints: n.complaints, Cases: n.cases, Open: n.open})
	}
	slices.SortFunc(g.r.QuietCommunities, func(a, b report.QuietCommunity) int {
		return cmp.Or(cmp.Compare(b.Complaints, a.Complaints), cmp.Compare(a.Name, b.Name), cmp.Compare(a.District, b.District))
	})
	return nil
}

// historyQuiet returns, for each located work order of the week loaded
// as history in a quiet community, the community and its district. No
// case holds such a work order, so its community is the one the router
// would have marked on its case (routing.Decision.QuietCommunity), from
// where the geocoder or a correction placed it.
func (g *gen) historyQuiet(ctx context.Context) ([]struct{ name, district string }, error) {
	rows, err := g.tx.Query(ctx, `
		SELECT l.category, COALESCE(l.subcategory, ''), l.district, l.lon, l.lat, COALESCE(l.place, ''), m.received_at
		FROM complaints m JOIN locations l ON l.complaint_id = m.id
		WHERE m.received_at >= $1 AND m.received_at < $2 AND m.history AND l.located
		  AND l.category IS NOT NULL AND l.district IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.complaint_id = m.id)`, g.start, g.end)
	if err != nil {
		return nil, err
	}
	var out []struct{ name, district string }
	var req routing.Request
	if _, err := pgx.ForEachRow(rows, []any{&req.Category, &req.Subcategory, &req.District, &req.Lon, &req.Lat, &req.Place, &req.At}, func() error {
		// A work order no rule routes would open no case either: it is in
		// no community the router marks.
		if d, err := g.ref.router.Route(req); err == nil && d.QuietCommunity != "" {
			out = append(out, struct{ name, district string }{d.QuietCommunity, req.District})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// gistar runs the Gi* analysis of each category over the week and the
// trailing weeks as the hotspots API's weekly hot spots do
// (hotspotstats), on the same complaints: leadership and supervisors see
// the same hot spots for a week.
func (g *gen) gistar(ctx context.Context) error {
	res, err := hotspotstats.WeeklyAll(ctx, g.tx, g.r.Week)
	if err != nil {
		return err
	}
	out := make([]report.GistarCategory, 0, len(report.Categories))
	for _, c := range report.Categories {
		i := slices.Index(hotspotstats.Categories, c)
		if i < 0 {
			return fmt.Errorf("%s: no Gi* analysis of the category", c)
		}
		r := res[i]
		out = append(out, report.GistarCategory{Category: c, CellMeters: r.CellMeters, Points: r.Points,
			Cells: cells(r.Cells), Cooled: cells(r.Cooled), Omitted: r.Omitted, MinCount: r.MinCount})
	}
	g.r.Gistar = out
	return nil
}

// cells copies Gi* cells into the report, rounded so that renderings
// compare equal across runs.
func cells(in []gistar.Cell) []report.Cell {
	out := make([]report.Cell, 0, len(in))
	for _, c := range in {
		poly := make([][2]float64, len(c.Polygon))
		for i, p := range c.Polygon {
			poly[i] = [2]float64{round(p[0], 6), round(p[1], 6)}
		}
		out = append(out, report.Cell{ID: c.ID, Lon: round(c.Lon, 6), Lat: round(c.Lat, 6), Polygon: poly,
			Count: c.Count, Z: round(c.Z, 4), Q: round(c.Q, 4), Class: string(c.Class), HotWeeks: c.HotWeeks})
	}
	return out
}

func round(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}
