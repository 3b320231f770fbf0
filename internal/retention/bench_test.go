package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// BenchmarkPrune measures a pass over a backlog: 100,000 idempotency
// records past the window, or 100,000 delivered callbacks past the
// retention (50,000 work orders of two, one of which stays), by the
// pages one delete reads. It reports the rows removed per second and the
// rows one statement removed at most.
//
//	go test -run '^$' -bench Prune -benchtime 3x ./internal/retention/
func BenchmarkPrune(b *testing.B) {
	const rows = 100_000
	fill := map[string]string{
		"processed_events": `INSERT INTO processed_events (consumer, event_id, processed_at)
			SELECT 'router', 'e' || i, now() - interval '60 days' FROM generate_series(1, $1) i`,
		"callbacks": `INSERT INTO callbacks (id, ticket_id, case_id, status, team, at, attempts, delivered_at, created_at)
			SELECT 'cb_' || i, 'T-' || (i / 2), 'K-' || (i / 2), CASE WHEN i % 2 = 0 THEN 'assigned' ELSE 'closed' END,
				'siming-police', now() - interval '200 days' + i * interval '1 second', 1,
				now() - interval '120 days', now() - interval '200 days'
			FROM generate_series(1, $1) i`,
	}
	for _, table := range []string{"processed_events", "callbacks"} {
		for _, pages := range []int{32, 128, 512} {
			b.Run(fmt.Sprintf("%s/pages=%d", table, pages), func(b *testing.B) {
				pool := testenv.DB(b)
				ctx := context.Background()
				job, err := retention.New(retention.Config{Pages: pages, Callbacks: 90 * day}, pool, testenv.Log(b))
				if err != nil {
					b.Fatal(err)
				}
				var removed int64
				var took time.Duration
				for b.Loop() {
					b.StopTimer()
					if _, err := pool.Exec(ctx, `TRUNCATE `+table); err != nil {
						b.Fatal(err)
					}
					if _, err := pool.Exec(ctx, fill[table], rows); err != nil {
						b.Fatal(err)
					}
					if _, err := pool.Exec(ctx, `VACUUM ANALYZE `+table); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					res, err := job.RunOnce(ctx)
					took += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					removed += res.Processed + res.Callbacks
				}
				b.ReportMetric(float64(removed)/took.Seconds(), "rows/s")
				var perPage float64
				if err := pool.QueryRow(ctx, `SELECT reltuples / NULLIF(relpages, 0) FROM pg_class WHERE relname = $1`, table).Scan(&perPage); err == nil {
					b.ReportMetric(perPage*float64(pages), "rows/batch")
				}
			})
		}
	}
}

// BenchmarkErase measures erasing the callers of 20,000 complaints whose
// cases closed long ago, 500 complaints a batch.
func BenchmarkErase(b *testing.B) {
	const n = 20_000
	pool := testenv.DB(b)
	ctx := context.Background()
	job, err := retention.New(retention.Config{PII: 180 * day}, pool, testenv.Log(b))
	if err != nil {
		b.Fatal(err)
	}
	var erased int64
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := pool.Exec(ctx, `TRUNCATE complaints, cases, case_complaints, locations, hotspot_members, triage, triage_corrections, case_audit, assignments, case_timers CASCADE`); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, created_at)
			SELECT 'c' || i, 'T' || i, now() - interval '400 days', '每晚施工噪声扰民，请回电 1381234' || lpad((i % 10000)::text, 4, '0'),
				'湖滨南路' || i || '号', '王小明', '1381234' || lpad((i % 10000)::text, 4, '0'), now() - interval '400 days'
			FROM generate_series(1, $1) i`, n); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, opened_at, resolved_at, closed_at)
			SELECT 'K' || i, 'noise', 'siming', 'siming-police', 'closed', now() - interval '400 days', now() - interval '300 days', now() - interval '300 days'
			FROM generate_series(1, $1) i`, n); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO case_complaints (complaint_id, case_id) SELECT 'c' || i, 'K' || i FROM generate_series(1, $1) i`, n); err != nil {
			b.Fatal(err)
		}
		for _, t := range []string{"complaints", "cases", "case_complaints"} {
			if _, err := pool.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		res, err := job.RunOnce(ctx)
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		erased += res.Erased
	}
	b.ReportMetric(float64(erased)/took.Seconds(), "complaints/s")
}
