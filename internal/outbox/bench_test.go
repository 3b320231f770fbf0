package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// BenchmarkRelay measures the relay's cost per event: b.N events written
// in transactions of 100, on top of 20,000 already sent, then relayed. It
// reports PostgreSQL's execution time per event of the relay's own
// statements (pg_stat_statements, where the server has it).
func BenchmarkRelay(b *testing.B) {
	pool := testenv.DB(b)
	n := testenv.StartNATS(b)
	ctx := context.Background()
	payload := []byte(`{"event_id":"x","complaint_id":"c","ticket_id":"t","description":"夜间施工噪声扰民，持续到凌晨两点，多次投诉未解决","lon":118.089,"lat":24.479}`)
	write := func(prefix string, count int) {
		for start := 0; start < count; start += 100 {
			var ev outbox.Events
			for i := start; i < min(start+100, count); i++ {
				ev.AddRaw("complaint.received", fmt.Sprintf("%s-%07d", prefix, i), payload)
			}
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return ev.Write(ctx, tx) }); err != nil {
				b.Fatal(err)
			}
		}
	}
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: testenv.Log(b)}
	drain := func() {
		for {
			got, err := r.RelayOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if got == 0 {
				return
			}
		}
	}
	write("old", 20000)
	drain()
	st := testenv.StartStatements(b, pool, "INSERT INTO outbox (%")
	write(fmt.Sprintf("new%d", b.N), b.N)
	b.ResetTimer()
	drain()
	b.StopTimer()
	if _, ms, ok := st.Totals(b); ok {
		b.ReportMetric(ms*1000/float64(b.N), "pg-µs/event")
	}
}

// BenchmarkSweepCallbacksWatches measures a first sweep (from an empty
// checkpoint) of the callbacks consumer's six watches over an outbox of
// 200,000 old events of other subjects, as after a restart: the watches
// of one consumer are read together.
func BenchmarkSweepCallbacksWatches(b *testing.B) {
	pool := testenv.DB(b)
	n := testenv.StartNATS(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload, sent_at, created_at)
		SELECT 'old-' || i, 'complaint.received', '{}', now() - interval '3 hours', now() - interval '3 hours'
		FROM generate_series(1, 200000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE outbox`); err != nil {
		b.Fatal(err)
	}
	var watches []outbox.Watch
	for _, f := range []string{"case.assigned.>", "case.merged", "case.reopened", "case.resolved", "case.returned", "case.closed"} {
		watches = append(watches, outbox.Watch{Consumer: "callbacks", Filter: f})
	}
	b.ResetTimer()
	for range b.N {
		s := &outbox.Sweeper{Pool: pool, JS: n.JS, Log: testenv.Log(b), After: time.Hour, Watches: watches}
		if _, err := s.SweepOnce(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
