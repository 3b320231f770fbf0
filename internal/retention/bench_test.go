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
// cases closed long ago, or (dead-lettered) that stopped long ago on a
// dead letter of their complaint.received, in no case, or (lost) whose
// event was lost long ago, in no case and on no dead letter, beside an
// outbox of 100,000 other events, 500 complaints a batch.
//
//	go test -run '^$' -bench Erase -benchtime 3x ./internal/retention/
func BenchmarkErase(b *testing.B) {
	const n = 20_000
	for _, stop := range []string{"case-closed", "dead-lettered", "lost"} {
		b.Run(stop, func(b *testing.B) {
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
				if _, err := pool.Exec(ctx, `TRUNCATE complaints, cases, case_complaints, locations, hotspot_members, triage, triage_corrections, case_audit, assignments, case_timers, dead_letters, outbox CASCADE`); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, created_at)
					SELECT 'c' || i, 'T' || i, now() - interval '400 days', '每晚施工噪声扰民，请回电 1381234' || lpad((i % 10000)::text, 4, '0'),
						'湖滨南路' || i || '号', '王小明', '1381234' || lpad((i % 10000)::text, 4, '0'), now() - interval '400 days'
					FROM generate_series(1, $1) i`, n); err != nil {
					b.Fatal(err)
				}
				fill := []string{
					`INSERT INTO cases (id, category, district, team, status, opened_at, resolved_at, closed_at)
					SELECT 'K' || i, 'noise', 'siming', 'siming-police', 'closed', now() - interval '400 days', now() - interval '300 days', now() - interval '300 days'
					FROM generate_series(1, $1) i`,
					`INSERT INTO case_complaints (complaint_id, case_id) SELECT 'c' || i, 'K' || i FROM generate_series(1, $1) i`,
				}
				if stop == "dead-lettered" {
					// Swept already: the pass erases the complaints alone.
					fill = []string{`INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at, pii_erased_at)
						SELECT 'geocoder', 'complaint.received', 'c' || i || '.received', 'COMPLAINTS:' || i, 8, 'max deliveries reached: boom',
							'\x7b7d', now() - interval '399 days', now() - interval '1 day'
						FROM generate_series(1, $1) i`}
				}
				if stop == "lost" {
					fill = []string{`INSERT INTO outbox (event_id, subject, payload, sent_at)
						SELECT 'e' || i || '.received', 'complaint.received', '{}', now() - interval '1 day'
						FROM generate_series(1, 5 * $1) i`}
				}
				for _, q := range fill {
					if _, err := pool.Exec(ctx, q, n); err != nil {
						b.Fatal(err)
					}
				}
				for _, t := range []string{"complaints", "cases", "case_complaints", "dead_letters", "outbox"} {
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
		})
	}
}

// BenchmarkDeadLetters measures a pass over 100,000 dead letters:
// deleting them settled long ago (their events handled, the idempotency
// records of which go in the same pass), or erasing the callers in their
// payloads (a complaint.received of about 700 bytes that carried its
// caller, its complaint's name looked up), by the pages one statement
// reads.
//
//	go test -run '^$' -bench DeadLetters -benchtime 3x ./internal/retention/
func BenchmarkDeadLetters(b *testing.B) {
	const rows = 100_000
	for _, work := range []string{"settled", "erase"} {
		for _, pages := range []int{32, 128, 512} {
			b.Run(fmt.Sprintf("%s/pages=%d", work, pages), func(b *testing.B) {
				pool := testenv.DB(b)
				ctx := context.Background()
				job, err := retention.New(retention.Config{Pages: pages, DeadLetters: 90 * day, PII: 180 * day}, pool, testenv.Log(b))
				if err != nil {
					b.Fatal(err)
				}
				fill := []string{
					`INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at, retry_requested_at, retried_at, pii_erased_at)
					SELECT 'geocoder', 'complaint.received', 'c' || i || '.received', 'COMPLAINTS:' || i, 8, 'max deliveries reached: boom',
						'\x7b7d', now() - interval '200 days', now() - interval '100 days', now() - interval '100 days', now() - interval '1 day'
					FROM generate_series(1, $1) i`,
					`INSERT INTO processed_events (consumer, event_id, processed_at)
					SELECT 'geocoder', 'c' || i || '.received', now() - interval '100 days' FROM generate_series(1, $1) i`,
				}
				if work == "erase" {
					fill = []string{
						`INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at)
						SELECT 'geocoder', 'complaint.received', 'c' || i || '.received', 'COMPLAINTS:' || i, 8,
							'schema complaint.received.v1: /caller must not be present',
							convert_to(json_build_object('event_id', 'c' || i || '.received', 'complaint_id', 'c' || i, 'ticket_id', 'T' || i,
								'received_at', '2024-03-15T22:30:00+08:00', 'category', 'noise',
								'description', '楼下KTV每晚唱到两点，吵得孩子睡不着，已经反映多次，请尽快处理，请回电1381234' || lpad((i % 10000)::text, 4, '0') || '，联系人王小明',
								'address', '思明区湖滨南路' || i || '号 联系电话 0592-5' || lpad((i % 1000000)::text, 6, '0'),
								'caller', json_build_object('name', '王小明', 'phone', '1381234' || lpad((i % 10000)::text, 4, '0')))::text, 'UTF8'),
							now() - interval '200 days'
						FROM generate_series(1, $1) i`,
						// Their complaints, stored lately, still hold the callers.
						`INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone, created_at)
						SELECT 'c' || i, 'T' || i, now() - interval '10 days', '噪声', '王小明', '13812345678', now() - interval '10 days'
						FROM generate_series(1, $1) i`,
					}
				}
				var done int64
				var took time.Duration
				var perPage float64
				for b.Loop() {
					b.StopTimer()
					if _, err := pool.Exec(ctx, `TRUNCATE dead_letters, processed_events, complaints CASCADE`); err != nil {
						b.Fatal(err)
					}
					for _, q := range fill {
						if _, err := pool.Exec(ctx, q, rows); err != nil {
							b.Fatal(err)
						}
					}
					for _, t := range []string{"dead_letters", "processed_events", "complaints"} {
						if _, err := pool.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
							b.Fatal(err)
						}
					}
					if err := pool.QueryRow(ctx, `SELECT reltuples / NULLIF(relpages, 0) FROM pg_class WHERE relname = 'dead_letters'`).Scan(&perPage); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					res, err := job.RunOnce(ctx)
					took += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					if work == "settled" {
						done += res.DeadLetters
					} else {
						done += res.ErasedLetters
					}
				}
				b.ReportMetric(float64(done)/took.Seconds(), "letters/s")
				b.ReportMetric(perPage*float64(pages), "letters/batch")
			})
		}
	}
}
