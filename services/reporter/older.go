package reporter

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
)

// olderWeeks is what CatchUp knows of the weeks before its window: a
// report stored there goes stale when complaints of its week are stored
// after it, which a backfill of history (nuisance replay -history) of
// work orders months old does.
type olderWeeks struct {
	mu sync.Mutex
	// since is the database's time from which stored complaints are yet
	// to be looked at; zero before the first look, which takes every
	// stored week.
	since time.Time
	// watch are the weeks to check at each look until their stored
	// report is settled: not stale, and counting none of the week's
	// complaints on their way.
	watch map[string]bool
}

// olderWeeksSQL names the ISO weeks, in Xiamen, before $2 of the
// complaints stored since $1, read through those complaints alone
// (complaints_created_at, migration 00097).
const olderWeeksSQL = `SELECT DISTINCT to_char(date_trunc('week', received_at AT TIME ZONE 'Asia/Shanghai'), 'IYYY-"W"IW')
	FROM complaints WHERE created_at >= $1 AND received_at < $2`

// olderLag is how far before a look the next one starts reading stored
// complaints: a complaint's created_at is its transaction's start, which
// may be before a look its commit follows.
const olderLag = time.Minute

// staleBefore returns, oldest first, the weeks before first whose stored
// report is stale: at the first look any stored week, then the weeks of
// the complaints stored since the last look, each checked at every look
// until its report settles. A week without a stored report is left out:
// it is generated when asked for, from the week as it is.
func (s *Service) staleBefore(ctx context.Context, first string) ([]string, error) {
	o := &s.older
	o.mu.Lock()
	defer o.mu.Unlock()
	start, _, err := gistar.WeekBounds(first)
	if err != nil {
		return nil, err
	}
	var now time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, fmt.Errorf("weeks before %s: %w", first, err)
	}
	if o.watch == nil {
		o.watch = map[string]bool{}
	}
	var rows pgx.Rows
	if o.since.IsZero() {
		rows, err = s.pool.Query(ctx, `SELECT week FROM weekly_reports WHERE week < $1`, first)
	} else {
		rows, err = s.pool.Query(ctx, olderWeeksSQL, o.since, start)
	}
	if err != nil {
		return nil, fmt.Errorf("weeks before %s: %w", first, err)
	}
	weeks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("weeks before %s: %w", first, err)
	}
	// The report of the week after each changes with it (its figures of
	// the week before): it is watched too, if stored, whatever the age
	// of the changed week's own report or whether it has one.
	for _, w := range weeks {
		o.watch[w] = true
		if ws, _, err := gistar.WeekBounds(w); err == nil {
			if next := gistar.WeekOf(ws.AddDate(0, 0, 7)); next < first {
				o.watch[next] = true
			}
		}
	}
	watched := make([]string, 0, len(o.watch))
	for w := range o.watch {
		watched = append(watched, w)
	}
	slices.Sort(watched)
	type storedWeek struct{ complaints, unsettled int }
	stored := map[string]storedWeek{}
	rows, err = s.pool.Query(ctx, `SELECT week, complaints, unsettled FROM weekly_reports WHERE week = ANY($1)`, watched)
	if err != nil {
		return nil, fmt.Errorf("weeks before %s: %w", first, err)
	}
	var w string
	var st storedWeek
	if _, err := pgx.ForEachRow(rows, []any{&w, &st.complaints, &st.unsettled}, func() error {
		stored[w] = st
		return nil
	}); err != nil {
		return nil, fmt.Errorf("weeks before %s: %w", first, err)
	}
	var out []string
	for _, w := range watched {
		st, ok := stored[w]
		if !ok {
			delete(o.watch, w)
			continue
		}
		stale, err := s.stale(ctx, w, st.complaints, st.unsettled)
		if err != nil {
			return nil, err
		}
		if !stale {
			if stale, err = s.previousChanged(ctx, s.pool, w); err != nil {
				return nil, err
			}
		}
		switch {
		case stale:
			out = append(out, w)
		case st.unsettled == 0:
			delete(o.watch, w)
		}
	}
	o.since = now.Add(-olderLag)
	return out, nil
}
