package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/report"
)

// SubjGenerated announces a stored weekly report.
const SubjGenerated = event.SubjReport + ".weekly.generated"

// EventID is the id of a week's report.weekly.generated event, the same
// on every replay.
func EventID(week string) string { return "report.weekly." + week + ".generated" }

// CatchUp stores the report of every finished week that has none: the
// last Config.Backfill weeks, none before the earliest complaint's week,
// oldest first. It returns the weeks it stored. A week another instance
// is generating at the same moment is left to it.
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
	if len(weeks) == 0 {
		return nil, nil
	}
	stored := map[string]bool{}
	rows, err := s.pool.Query(ctx, `SELECT week FROM weekly_reports WHERE week = ANY($1)`, weeks)
	if err != nil {
		return nil, fmt.Errorf("catch up: stored weeks: %w", err)
	}
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catch up: stored weeks: %w", err)
		}
		stored[w] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catch up: stored weeks: %w", err)
	}
	var done []string
	for _, w := range weeks {
		if stored[w] {
			continue
		}
		ok, err := s.Store(ctx, w)
		if err != nil {
			generated.WithLabelValues("failed").Inc()
			return done, err
		}
		if ok {
			generated.WithLabelValues("stored").Inc()
			done = append(done, w)
		}
	}
	return done, nil
}

// Store generates a week's report and stores it with its
// report.weekly.generated event in one transaction, unless it is already
// stored or another instance holds the week. It reports whether it
// stored the report.
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
			s.log.Warn("unlock report week", zap.String("week", week), zap.Error(err))
			// A connection still holding the lock must not go back to the pool.
			_ = conn.Conn().Close(uctx)
		}
	}()
	stored := false
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM weekly_reports WHERE week = $1)`, week).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		now := s.cfg.Now()
		r, err := generate(ctx, tx, week, now)
		if err != nil {
			return err
		}
		out := map[string]string{}
		for _, f := range report.Formats {
			var buf bytes.Buffer
			if err := report.Render(r, f, &buf); err != nil {
				return err
			}
			out[f] = buf.String()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO weekly_reports (week, generated_at, total, json, html, csv, geojson)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, week, r.GeneratedAt, r.Total, out["json"], out["html"], out["csv"], out["geojson"]); err != nil {
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
