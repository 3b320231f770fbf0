package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/pgstats"
)

// startStatements starts counting the run's statements, with the bench's
// own counting queries (marked /* pipebench */) left out; nil when the
// server has no pg_stat_statements (the private cluster preloads it).
func startStatements(ctx context.Context, pool *pgxpool.Pool) *pgstats.Measure {
	m, err := pgstats.Start(ctx, pool, "%/* pipebench */%")
	if err != nil {
		return nil
	}
	return m
}

// logStatements reports the execution time per complaint of all the
// run's statements and of the costliest ones.
func logStatements(ctx context.Context, m *pgstats.Measure, complaints int, progress func(string, ...any)) {
	if m == nil || complaints == 0 {
		return
	}
	calls, ms, _, err := m.Totals(ctx)
	if err != nil {
		progress("%v", err)
		return
	}
	progress("PostgreSQL: %.3f statements and %.1f µs of execution per complaint; the costliest:", float64(calls)/float64(complaints), ms*1000/float64(complaints))
	top, err := m.Top(ctx, 12)
	if err != nil {
		progress("%v", err)
		return
	}
	for _, s := range top {
		progress("  %6.1f µs/complaint %8d calls  %s", s.Ms*1000/float64(complaints), s.Calls, pgstats.Short(s.Query, 100))
	}
}

// logEvents reports the events the run wrote to the outbox per complaint,
// by the first two tokens of their subject, and the events each consumer
// recorded as processed: the hops a complaint costs.
func logEvents(ctx context.Context, pool *pgxpool.Pool, complaints int, progress func(string, ...any)) {
	if complaints == 0 {
		return
	}
	report := func(what, query string) {
		rows, err := pool.Query(ctx, query)
		if err != nil {
			progress("%s: %v", what, err)
			return
		}
		defer rows.Close()
		var total int64
		var parts []string
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				progress("%s: %v", what, err)
				return
			}
			total += n
			parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(n)/float64(complaints)))
		}
		if err := rows.Err(); err != nil {
			progress("%s: %v", what, err)
			return
		}
		progress("%s per complaint: %.2f (%s)", what, float64(total)/float64(complaints), strings.Join(parts, ", "))
	}
	report("outbox events", `/* pipebench */ SELECT split_part(subject, '.', 1) || '.' || split_part(subject, '.', 2), count(*)
		FROM outbox GROUP BY 1 ORDER BY 2 DESC, 1`)
	report("processed events", `/* pipebench */ SELECT consumer, count(*) FROM processed_events GROUP BY 1 ORDER BY 2 DESC, 1`)
	// The case of a hotspot merged into another stays the case of its
	// place: complaints there, now of the other hotspot, still join it.
	var merged, cases, joined int64
	if err := pool.QueryRow(ctx, `/* pipebench */ SELECT (SELECT count(*) FROM hotspots WHERE merged_into IS NOT NULL),
		(SELECT count(*) FROM cases k JOIN hotspots h ON h.id = k.hotspot_id WHERE h.merged_into IS NOT NULL),
		(SELECT count(*) FROM cases k JOIN hotspots h ON h.id = k.hotspot_id WHERE h.merged_into IS NOT NULL
			AND EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.case_id = k.id AND cc.joined_at > h.updated_at))`).Scan(&merged, &cases, &joined); err != nil {
		progress("merged hotspots: %v", err)
		return
	}
	progress("hotspots merged into others: %d; their cases: %d, joined by a complaint after the merge: %d", merged, cases, joined)
	// A case is a place: how far its complaints are from its point says
	// how well the hotspots and place keys the router trusts keep to one.
	var placed, far int64
	var p99 *float64
	if err := pool.QueryRow(ctx, `/* pipebench */ WITH d AS (
			SELECT sqrt(power((l.lon - k.lon) * 111320 * cos(radians(k.lat)), 2) + power((l.lat - k.lat) * 110574, 2)) AS m
			FROM case_complaints cc JOIN cases k ON k.id = cc.case_id JOIN locations l ON l.complaint_id = cc.complaint_id
			WHERE l.lon IS NOT NULL AND k.lon IS NOT NULL)
		SELECT count(*), count(*) FILTER (WHERE m > 1000), percentile_cont(0.99) WITHIN GROUP (ORDER BY m) FROM d`).Scan(&placed, &far, &p99); err != nil {
		progress("distance of complaints from their cases: %v", err)
		return
	}
	if p99 != nil {
		progress("complaints more than 1 km from their case's point: %d of %d; p99 of the distance %.0f m", far, placed, *p99)
	}
}

// walMark is the server's WAL counters at the start of a run.
type walMark struct {
	records, fpi, bytes int64
	ok                  bool
}

// startWAL reads the WAL the server has written so far (pg_stat_wal).
func startWAL(ctx context.Context, pool *pgxpool.Pool) walMark {
	var m walMark
	err := pool.QueryRow(ctx, `/* pipebench */ SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal`).Scan(&m.records, &m.fpi, &m.bytes)
	m.ok = err == nil
	return m
}

// log reports the WAL written since the mark per complaint: records, full
// page images and bytes, the write volume every statement pays for.
func (m walMark) log(ctx context.Context, pool *pgxpool.Pool, complaints int, progress func(string, ...any)) {
	if !m.ok || complaints == 0 {
		return
	}
	end := startWAL(ctx, pool)
	if !end.ok {
		return
	}
	n := float64(complaints)
	progress("WAL per complaint: %.1f records, %.2f full-page images, %.1f KiB",
		float64(end.records-m.records)/n, float64(end.fpi-m.fpi)/n, float64(end.bytes-m.bytes)/n/1024)
}
