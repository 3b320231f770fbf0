package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/report"
)

// SubjGenerated announces a stored weekly report.
const SubjGenerated = event.SubjReport + ".weekly.generated"

// EventID is the id of a week's report.weekly.generated event, the same
// on every replay.
func EventID(week string) string { return "report.weekly." + week + ".generated" }

// CatchUp stores the report of every finished week that has none, or
// whose stored report is stale (the week has complaints it did not count,
// or fewer of them on their way through the pipeline, or the week before
// changed since: previousChanged): the last
// Config.Backfill weeks, none before the earliest complaint's week,
// oldest first; and before them, the stale reports of earlier weeks that
// complaints stored since have changed (staleBefore). A stored week of
// any age whose complaints a supervisor corrected from triage since it
// was stored is generated again too: its served report would be wrong
// without a word, and the revised report says what changed. It returns
// the weeks it stored. A week another instance is generating at the
// same moment is left to it.
func (s *Service) CatchUp(ctx context.Context) ([]string, error) {
	now := s.cfg.Now()
	last := LastDue(now, s.cfg.After)
	var earliest *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(received_at) FROM complaints`).Scan(&earliest); err != nil {
		return nil, fmt.Errorf("catch up: earliest complaint: %w", err)
	}
	if earliest == nil {
		return nil, nil
	}
	first := gistar.WeekOf(*earliest)
	var weeks []string
	start, _, err := gistar.WeekBounds(last)
	if err != nil {
		return nil, fmt.Errorf("catch up: %w", err)
	}
	for i := 0; i < s.cfg.Backfill; i++ {
		w := gistar.WeekOf(start.AddDate(0, 0, -7*i))
		if w < first {
			break
		}
		weeks = append([]string{w}, weeks...)
	}
	older, err := s.staleBefore(ctx, gistar.WeekOf(start.AddDate(0, 0, -7*(s.cfg.Backfill-1))))
	if err != nil {
		return nil, fmt.Errorf("catch up: %w", err)
	}
	var done []string
	store := func(w string) error {
		ok, err := s.Store(ctx, w)
		if err != nil {
			return err // counted failed by Run, as every catch-up that fails
		}
		if ok {
			generated.WithLabelValues("stored").Inc()
			done = append(done, w)
		}
		return nil
	}
	for _, w := range older {
		if err := store(w); err != nil {
			return done, err
		}
	}
	corrected, err := s.corrected(ctx)
	if err != nil {
		return done, err
	}
	for w := range corrected {
		if !slices.Contains(weeks, w) && !slices.Contains(done, w) {
			weeks = append(weeks, w)
		}
	}
	slices.Sort(weeks)
	if len(weeks) == 0 {
		return done, nil
	}
	type storedWeek struct{ complaints, unsettled int }
	stored := map[string]storedWeek{}
	rows, err := s.pool.Query(ctx, `SELECT week, complaints, unsettled FROM weekly_reports WHERE week = ANY($1)`, weeks)
	if err != nil {
		return nil, fmt.Errorf("catch up: stored weeks: %w", err)
	}
	for rows.Next() {
		var w string
		var st storedWeek
		if err := rows.Scan(&w, &st.complaints, &st.unsettled); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catch up: stored weeks: %w", err)
		}
		stored[w] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catch up: stored weeks: %w", err)
	}
	for _, w := range weeks {
		st, ok := stored[w]
		if ok && !corrected[w] {
			stale, err := s.stale(ctx, w, st.complaints, st.unsettled)
			if err != nil {
				return done, err
			}
			if !stale {
				if stale, err = s.previousChanged(ctx, s.pool, w); err != nil {
					return done, err
				}
			}
			if !stale {
				continue
			}
		}
		if err := store(w); err != nil {
			return done, err
		}
	}
	return done, nil
}

// correctedSQL names the stored weeks whose complaints were corrected
// from triage more often than their report counted (corrections): read
// from the corrected complaints alone (index locations_corrected).
const correctedSQL = `SELECT r.week FROM (
		SELECT to_char(received_at AT TIME ZONE 'Asia/Shanghai', 'IYYY-"W"IW') AS week, sum(corrections) AS n
		FROM locations WHERE corrections > 0 GROUP BY 1
	) l JOIN weekly_reports r ON r.week = l.week
	WHERE l.n > r.corrections`

// corrected returns the stored weeks a triage correction touched since
// their report was stored.
func (s *Service) corrected(ctx context.Context) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, correctedSQL)
	if err != nil {
		return nil, fmt.Errorf("catch up: corrected weeks: %w", err)
	}
	weeks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("catch up: corrected weeks: %w", err)
	}
	out := make(map[string]bool, len(weeks))
	for _, w := range weeks {
		out[w] = true
	}
	return out, nil
}

// countsSQL counts the complaints of a week ($1 to $2), and those of them
// still on their way through the pipeline: not yet located, or located
// and classified but neither in a case nor waiting on the triage list,
// nor, for a work order loaded as history (which no case ever holds),
// clustered (one a supervisor corrected is on its way again until it is
// in a case, so the report is generated again once it is); and the
// corrections applied to them.
const countsSQL = `SELECT count(*), count(*) FILTER (WHERE l.complaint_id IS NULL OR (l.located AND l.category IS NOT NULL
	      AND NOT EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.complaint_id = c.id)
	      AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.complaint_id = c.id AND t.resolved_at IS NULL)
	      AND NOT (c.history AND EXISTS (SELECT 1 FROM hotspot_members m WHERE m.complaint_id = c.id)))),
	  COALESCE(sum(l.corrections), 0)
	FROM complaints c LEFT JOIN locations l ON l.complaint_id = c.id
	WHERE c.received_at >= $1 AND c.received_at < $2`

// weekCounts is what countsSQL reads of a week.
type weekCounts struct{ complaints, unsettled, corrections int }

// counts reads countsSQL for a week.
func counts(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, week string) (weekCounts, error) {
	var c weekCounts
	start, end, err := gistar.WeekBounds(week)
	if err != nil {
		return c, err
	}
	if err := q.QueryRow(ctx, countsSQL, start, end).Scan(&c.complaints, &c.unsettled, &c.corrections); err != nil {
		return c, fmt.Errorf("report %s: count its complaints: %w", week, err)
	}
	return c, nil
}

// stale tells whether a week's stored report, which counted complaints
// and unsettled, may differ from the week as it is now: the week has more
// complaints, or fewer of them on their way. Complaints are never
// deleted; one that stays stuck (a dead letter) does not make the report
// stale again.
func (s *Service) stale(ctx context.Context, week string, complaints, unsettled int) (bool, error) {
	start, end, err := gistar.WeekBounds(week)
	if err != nil {
		return false, err
	}
	// The week's complaints first, from the index alone: CatchUp runs
	// every minute.
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM complaints WHERE received_at >= $1 AND received_at < $2`, start, end).Scan(&n); err != nil {
		return false, fmt.Errorf("report %s: count its complaints: %w", week, err)
	}
	if n != complaints || unsettled == 0 {
		return n != complaints, nil
	}
	now, err := counts(ctx, s.pool, week)
	if err != nil {
		return false, err
	}
	return now.unsettled < unsettled, nil
}

// Store generates a week's report and stores it with its
// report.weekly.generated event in one transaction, unless another
// instance holds the week. A week stored before is replaced when it is
// stale (its event is not sent again), and the new report says it is a
// revision: when the week was first generated, and the corrections and
// late complaints since, or that the week before changed. It reports
// whether it stored the report.
func (s *Service) Store(ctx context.Context, week string) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("store report %s: %w", week, err)
	}
	defer conn.Release()
	// A session lock keyed by the week, taken before the snapshot, so
	// two instances never build the same week at once.
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('nuisance.reporter.' || $1, 0))`, week).Scan(&locked); err != nil {
		return false, fmt.Errorf("store report %s: lock: %w", week, err)
	}
	if !locked {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended('nuisance.reporter.' || $1, 0))`, week); err != nil {
			s.log.Warn("unlock report week", zap.String("week", week), logging.Error(err))
			// A connection still holding the lock must not go back to the pool.
			_ = conn.Conn().Close(uctx)
		}
	}()
	stored := false
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var had *storedReport
		var st storedReport
		err := tx.QueryRow(ctx, `SELECT complaints, unsettled, corrections, revisions, first_generated_at, first_stored_at
			FROM weekly_reports WHERE week = $1`, week).Scan(&st.complaints, &st.unsettled, &st.corrections, &st.revisions, &st.firstGenerated, &st.firstStored)
		switch {
		case err == nil:
			had = &st
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		c, err := counts(ctx, tx, week)
		if err != nil {
			return err
		}
		prevChanged := false
		if had != nil {
			if prevChanged, err = s.previousChanged(ctx, tx, week); err != nil {
				return err
			}
		}
		// Another instance may have stored it since this one looked.
		if had != nil && c.complaints == had.complaints && c.unsettled >= had.unsettled && c.corrections <= had.corrections && !prevChanged {
			return nil
		}
		now := s.cfg.Now()
		r, err := generate(ctx, tx, week, now, s.cfg.PriorityFile)
		if err != nil {
			return err
		}
		if had != nil {
			if r.Revision, err = revision(ctx, tx, r, *had); err != nil {
				return err
			}
			r.Revision.PreviousWeekChanged = prevChanged
		}
		out := map[string]string{}
		for _, f := range report.Formats {
			var buf bytes.Buffer
			if err := report.Render(r, f, &buf); err != nil {
				return err
			}
			out[f] = buf.String()
		}
		// The first generation's times stay; a revision counts itself.
		if _, err := tx.Exec(ctx, `INSERT INTO weekly_reports (week, generated_at, first_generated_at, total, json, html, csv, geojson, complaints, unsettled, corrections)
			VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (week) DO UPDATE SET generated_at = EXCLUDED.generated_at, total = EXCLUDED.total, json = EXCLUDED.json,
				html = EXCLUDED.html, csv = EXCLUDED.csv, geojson = EXCLUDED.geojson,
				complaints = EXCLUDED.complaints, unsettled = EXCLUDED.unsettled, corrections = EXCLUDED.corrections,
				revisions = weekly_reports.revisions + 1`,
			week, r.GeneratedAt, r.Total, out["json"], out["html"], out["csv"], out["geojson"], c.complaints, c.unsettled, c.corrections); err != nil {
			return err
		}
		ev := event.ReportGenerated{EventID: EventID(week), Week: week, Total: r.Total, At: r.GeneratedAt}
		if err := outbox.Add(ctx, tx, SubjGenerated, ev.EventID, ev); err != nil {
			return err
		}
		stored = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store report %s: %w", week, err)
	}
	return stored, nil
}

// previousChanged tells whether the week before a stored week's report
// differs now from what the report counted of it: its previous_total
// (complaints arrived late or backfilled as history since) or its
// previous-week counts by category and district (complaints corrected
// from triage, or located, since). The report's figures of the week
// before, their change and its hotspots' trends depend on that week, so
// a change to a week marks the stored report of the week after it for
// generating again. It reads the stored report's JSON and the week
// before's complaints and locations through their indexes.
func (s *Service) previousChanged(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, week string) (bool, error) {
	var doc []byte
	err := q.QueryRow(ctx, `SELECT jsonb_build_object('previous_total', json->'previous_total', 'categories', json->'categories')
		FROM weekly_reports WHERE week = $1`, week).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("report %s: its previous week: %w", week, err)
	}
	var had struct {
		PreviousTotal *int `json:"previous_total"`
		Categories    []struct {
			Category  string `json:"category"`
			Districts []struct {
				District string `json:"district"`
				Previous int    `json:"previous"`
			} `json:"districts"`
			Unlocated struct {
				Previous int `json:"previous"`
			} `json:"unlocated"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(doc, &had); err != nil {
		return false, fmt.Errorf("report %s: its previous week: %w", week, err)
	}
	if had.PreviousTotal == nil {
		return false, nil // a report that says nothing of the week before
	}
	ref, err := loadRef(s.cfg.PriorityFile)
	if err != nil {
		return false, err
	}
	start, _, err := gistar.WeekBounds(week)
	if err != nil {
		return false, err
	}
	prevStart := start.AddDate(0, 0, -7)
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM complaints WHERE received_at >= $1 AND received_at < $2`, prevStart, start).Scan(&total); err != nil {
		return false, fmt.Errorf("report %s: its previous week: %w", week, err)
	}
	if total != *had.PreviousTotal {
		return true, nil
	}
	// The counts as generate tallies them: a category or district it
	// does not know is none.
	type key struct{ cat, district string }
	now := map[key]int{}
	rows, err := q.Query(ctx, `
		SELECT COALESCE(category, ''), CASE WHEN located THEN COALESCE(district, '') ELSE '' END, count(*)
		FROM locations
		WHERE received_at >= $1 AND received_at < $2 AND (category IS NOT NULL OR located)
		GROUP BY 1, 2`, prevStart, start)
	if err != nil {
		return false, fmt.Errorf("report %s: its previous week: %w", week, err)
	}
	var k key
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&k.cat, &k.district, &n}, func() error {
		if !slices.Contains(report.Categories, k.cat) {
			return nil
		}
		if _, ok := ref.names[k.district]; !ok {
			k.district = ""
		}
		now[k] += n
		return nil
	}); err != nil {
		return false, fmt.Errorf("report %s: its previous week: %w", week, err)
	}
	for _, c := range had.Categories {
		for _, d := range c.Districts {
			if now[key{c.Category, d.District}] != d.Previous {
				return true, nil
			}
		}
		if now[key{c.Category, ""}] != c.Unlocated.Previous {
			return true, nil
		}
	}
	return false, nil
}

// storedReport is what a stored week's row says of its generation.
type storedReport struct {
	complaints, unsettled, corrections, revisions int
	// firstGenerated is the first report's generation time, firstStored
	// when the database stored it (its clock, which the corrections'
	// and complaints' own times are compared with).
	firstGenerated, firstStored time.Time
}

// revision says what changed in a week since its first report: the
// week's complaints corrected from triage after it was stored (each
// once, however often corrected) and those stored after it.
func revision(ctx context.Context, tx pgx.Tx, r *report.Report, had storedReport) (*report.Revision, error) {
	rv := &report.Revision{FirstGeneratedAt: had.firstGenerated.In(r.Start.Location()), Revisions: had.revisions + 1}
	err := tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM locations WHERE received_at >= $1 AND received_at < $2 AND corrections > 0 AND located_at > $3),
		(SELECT max(located_at) FROM locations WHERE received_at >= $1 AND received_at < $2 AND corrections > 0 AND located_at > $3),
		(SELECT count(*) FROM complaints WHERE received_at >= $1 AND received_at < $2 AND created_at > $3)`,
		r.Start, r.End, had.firstStored).Scan(&rv.Corrected, &rv.LastCorrectedAt, &rv.Late)
	if err != nil {
		return nil, fmt.Errorf("revision: %w", err)
	}
	if rv.LastCorrectedAt != nil {
		t := rv.LastCorrectedAt.In(r.Start.Location()).Truncate(time.Second)
		rv.LastCorrectedAt = &t
	}
	return rv, nil
}

// Stored is a stored report as the list shows it.
type Stored struct {
	Week        string            `json:"week"`
	GeneratedAt time.Time         `json:"generated_at"`
	Total       int               `json:"total"`
	Links       map[string]string `json:"links"`
}

// List returns the stored reports, the latest week first.
func (s *Service) List(ctx context.Context) ([]Stored, error) {
	rows, err := s.pool.Query(ctx, `SELECT week, generated_at, total FROM weekly_reports ORDER BY week DESC`)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	defer rows.Close()
	out := []Stored{}
	for rows.Next() {
		var st Stored
		if err := rows.Scan(&st.Week, &st.GeneratedAt, &st.Total); err != nil {
			return nil, fmt.Errorf("list reports: %w", err)
		}
		st.Links = map[string]string{}
		for _, f := range report.Formats {
			st.Links[f] = "/reports/weekly/" + st.Week + "." + f
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	return out, nil
}

// errNotStored tells that a week has no stored report.
var errNotStored = errors.New("no stored report")

// loadStored returns a stored week's rendering in format.
func (s *Service) loadStored(ctx context.Context, week, format string) ([]byte, error) {
	var html, csv, geojson string
	var js []byte
	err := s.pool.QueryRow(ctx, `SELECT html, csv, geojson, json FROM weekly_reports WHERE week = $1`, week).Scan(&html, &csv, &geojson, &js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotStored
	}
	if err != nil {
		return nil, fmt.Errorf("load report %s: %w", week, err)
	}
	switch format {
	case "html":
		return []byte(html), nil
	case "csv":
		return []byte(csv), nil
	case "geojson":
		return []byte(geojson), nil
	}
	// jsonb keeps the data, not the layout: render it again.
	var r report.Report
	if err := json.Unmarshal(js, &r); err != nil {
		return nil, fmt.Errorf("load report %s: %w", week, err)
	}
	var buf bytes.Buffer
	if err := report.Render(&r, "json", &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
