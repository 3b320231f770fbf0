package outbox_test

import (
	"context"
	"fmt"
	"testing"

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
	_, statErr := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	if statErr == nil {
		_, statErr = pool.Exec(ctx, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
	}
	write(fmt.Sprintf("new%d", b.N), b.N)
	b.ResetTimer()
	drain()
	b.StopTimer()
	if statErr != nil {
		return
	}
	var ms float64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()
		AND (query LIKE '%FROM outbox%' OR query LIKE 'UPDATE outbox%' OR query LIKE '%outbox relay%')
		AND query NOT LIKE 'INSERT INTO outbox (%'`).Scan(&ms); err == nil {
		b.ReportMetric(ms*1000/float64(b.N), "pg-µs/event")
	}
}
