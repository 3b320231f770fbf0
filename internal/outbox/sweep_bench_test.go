package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// allInOneWatches are the sweeper's watches of the all-in-one command
// (cmd/nuisance): seven consumers, the callbacks' of six subjects.
func allInOneWatches() []outbox.Watch {
	ws := []outbox.Watch{
		{Consumer: "geocoder", Filter: "complaint.received"},
		{Consumer: "geocoder-triage", Filter: "triage.corrected"},
		{Consumer: "hotspots-", Filter: "complaint.located.>"},
		{Consumer: "hotspots--resolved", Filter: "case.resolved"},
		{Consumer: "router", Filter: "complaint.clustered.>"},
		{Consumer: "router-returned", Filter: "case.returned"},
	}
	for _, f := range []string{"case.assigned.>", "case.merged", "case.reopened", "case.resolved", "case.returned", "case.closed"} {
		ws = append(ws, outbox.Watch{Consumer: "callbacks", Filter: f})
	}
	return ws
}

// fillOutbox appends n events to the outbox, written at age before now
// (and sent then), and marks each processed by the consumers that watch
// it. Every 20 events are those of four complaints, in the proportions of
// the pipeline: 4 received, 4 located, 4 clustered, 1 hotspot event and 7
// case events (1 opened, 2 merged, 1 assigned, 1 accepted, 1 resolved, 1
// closed); no triage correction and no return, the rare subjects.
func fillOutbox(tb testing.TB, pool *pgxpool.Pool, prefix string, n int, age time.Duration) {
	tb.Helper()
	ctx := context.Background()
	var last int64
	if err := pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM outbox`).Scan(&last); err != nil {
		tb.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, created_at, sent_at)
		SELECT $1 || i, CASE i % 20
			WHEN 0 THEN 'complaint.received' WHEN 5 THEN 'complaint.received' WHEN 10 THEN 'complaint.received' WHEN 15 THEN 'complaint.received'
			WHEN 1 THEN 'complaint.located.' || d || '.' || c WHEN 6 THEN 'complaint.located.' || d || '.' || c
			WHEN 11 THEN 'complaint.located.' || d || '.' || c WHEN 16 THEN 'complaint.located.' || d || '.' || c
			WHEN 2 THEN 'complaint.clustered.' || d || '.' || c WHEN 7 THEN 'complaint.clustered.' || d || '.' || c
			WHEN 12 THEN 'complaint.clustered.' || d || '.' || c WHEN 17 THEN 'complaint.clustered.' || d || '.' || c
			WHEN 3 THEN 'hotspot.updated' WHEN 8 THEN 'case.opened' WHEN 13 THEN 'case.merged' WHEN 18 THEN 'case.merged'
			WHEN 4 THEN 'case.assigned.' || d || '-eco' WHEN 9 THEN 'case.accepted' WHEN 14 THEN 'case.resolved'
			ELSE 'case.closed' END,
			'{"event_id":"x","complaint_id":"c","ticket_id":"t"}', now() - $3::interval, now() - $3::interval
		FROM generate_series(1, $2) i,
			LATERAL (SELECT (ARRAY['siming','huli','jimei','haicang','tongan','xiangan'])[1 + (i / 20) % 6] AS d,
				(ARRAY['noise','dust','smoke'])[1 + (i / 120) % 3] AS c) dc`, prefix, n, age.String())
	if err != nil {
		tb.Fatal(err)
	}
	var consumers, patterns []string
	for _, w := range allInOneWatches() {
		consumers, patterns = append(consumers, w.Consumer), append(patterns, likeOf(w.Filter))
	}
	if _, err := pool.Exec(ctx, `INSERT INTO processed_events (consumer, event_id)
		SELECT w.consumer, o.event_id FROM outbox o JOIN unnest($1::text[], $2::text[]) w (consumer, pattern) ON o.subject LIKE w.pattern
		WHERE o.seq > $3 ON CONFLICT DO NOTHING`, consumers, patterns, last); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE outbox, processed_events`); err != nil {
		tb.Fatal(err)
	}
}

// likeOf is the LIKE pattern of the benchmark's filters ("*" does not
// occur in them).
func likeOf(filter string) string {
	if len(filter) > 1 && filter[len(filter)-1] == '>' {
		return filter[:len(filter)-1] + "%"
	}
	return filter
}

// BenchmarkSweepAllInOneCatchUp measures a first sweep (from empty
// checkpoints, as after a start) of the all-in-one command's seven
// consumers over an outbox of 1.5 million events (300,000 complaints),
// all processed long ago, followed by 2,000 young ones nobody processed
// yet: every checkpoint must pass the whole settled outbox and stop
// before the young events. It reports PostgreSQL's execution time per
// sweep (pg_stat_statements, where the server has it).
func BenchmarkSweepAllInOneCatchUp(b *testing.B) {
	pool := testenv.DB(b)
	n := testenv.StartNATS(b)
	ctx := context.Background()
	fillOutbox(b, pool, "old-", 1_500_000, 3*time.Hour)
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at)
		SELECT 'young-' || i, (ARRAY['complaint.received', 'complaint.located.siming.noise', 'complaint.clustered.siming.noise', 'case.merged', 'case.resolved'])[1 + i % 5], '{}', now()
		FROM generate_series(1, 2000) i`); err != nil {
		b.Fatal(err)
	}
	st := testenv.StartStatements(b, pool)
	b.ResetTimer()
	for range b.N {
		s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(b), After: time.Hour, Watches: allInOneWatches()}
		if got, err := s.SweepOnce(ctx); err != nil || got != 0 {
			b.Fatalf("sweep republished %d (err %v), want none", got, err)
		}
	}
	b.StopTimer()
	st.Report(b, b.N, "sweep")
}

// BenchmarkSweepAllInOneSteady measures the sweeps of a sweeper that has
// caught up: each op adds 50,000 events (10,000 complaints, five seconds
// at 2,000 a second), processed and old enough to check, to an outbox
// of 1.5 million, and sweeps once.
func BenchmarkSweepAllInOneSteady(b *testing.B) {
	pool := testenv.DB(b)
	n := testenv.StartNATS(b)
	ctx := context.Background()
	fillOutbox(b, pool, "old-", 1_500_000, 3*time.Hour)
	s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(b), After: time.Hour, Watches: allInOneWatches()}
	if _, err := s.SweepOnce(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var ms float64
	for i := range b.N {
		b.StopTimer()
		fillOutbox(b, pool, fmt.Sprintf("new%d-", i), 50_000, 2*time.Hour)
		st := testenv.StartStatements(b, pool)
		b.StartTimer()
		if got, err := s.SweepOnce(ctx); err != nil || got != 0 {
			b.Fatalf("sweep republished %d (err %v), want none", got, err)
		}
		b.StopTimer()
		if _, m, ok := st.Totals(b); ok {
			ms += m
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(ms/float64(b.N), "pg-ms/sweep")
}
