package app

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Every process prunes with the operator's settings: a process started
// with NUISANCE_PII_RETENTION set erases the callers of a case closed
// longer ago, and drops idempotency records past any redelivery and dead
// letters settled longer ago than the default 90 days, while the caller
// of a case closed within the period stays.
func TestServeRunsTheRetentionJob(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('router', 'old', now() - interval '1 year'), ('router', 'new', now())`,
		`INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, created_at) VALUES
			('c-old', 'T-old', now() - interval '1 year', '噪声', '湖滨南路', '王小明', '13812345678', now() - interval '1 year'),
			('c-new', 'T-new', now() - interval '1 year', '噪声', '湖滨南路', '李红', '13912345678', now() - interval '1 year')`,
		`INSERT INTO cases (id, category, district, team, status, opened_at, resolved_at, closed_at) VALUES
			('K-old', 'noise', 'siming', 'siming-police', 'closed', now() - interval '1 year', now() - interval '200 days', now() - interval '200 days'),
			('K-new', 'noise', 'siming', 'siming-police', 'closed', now() - interval '1 year', now() - interval '20 days', now() - interval '20 days')`,
		`INSERT INTO case_complaints (complaint_id, case_id) VALUES ('c-old', 'K-old'), ('c-new', 'K-new')`,
		`INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at, retry_requested_at, retried_at) VALUES
			('geocoder', 'complaint.received', 'c-old.received', 'COMPLAINTS:1', 8, 'boom', '\x7b7d', now() - interval '1 year', now() - interval '200 days', now() - interval '200 days'),
			('geocoder', 'complaint.received', 'c-new.received', 'COMPLAINTS:2', 8, 'boom', '\x7b7d', now() - interval '1 year', NULL, NULL)`,
		`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('geocoder', 'c-old.received', now() - interval '200 days')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"NUISANCE_PII_RETENTION": "180d", "NUISANCE_DATA_DIR": t.TempDir()}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	sys := &System{Cfg: cfg, Log: testenv.Log(t), Pool: pool}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	idle := runnerFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
	go func() { done <- Serve(sctx, sys, ln, []Part{{Name: "idle", Runner: idle, Publishes: []string{}}}) }()
	defer func() { cancel(); <-done }()

	held := func(id string) bool {
		var phone *string
		if err := pool.QueryRow(ctx, `SELECT caller_phone FROM complaints WHERE id = $1`, id).Scan(&phone); err != nil {
			t.Fatal(err)
		}
		return phone != nil
	}
	testenv.Eventually(t, 10*time.Second, "the caller of the case closed 200 days ago erased", func() bool { return !held("c-old") })
	if !held("c-new") {
		t.Error("the caller of a case closed 20 days ago was erased")
	}
	var records []string
	rows, _ := pool.Query(ctx, `SELECT event_id FROM processed_events ORDER BY 1`)
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		records = append(records, id)
	}
	if len(records) != 1 || records[0] != "new" {
		t.Errorf("idempotency records left: %v, want [new]", records)
	}
	var letters []string
	rows, _ = pool.Query(ctx, `SELECT event_id FROM dead_letters ORDER BY 1`)
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		letters = append(letters, id)
	}
	if len(letters) != 1 || letters[0] != "c-new.received" {
		t.Errorf("dead letters left: %v, want [c-new.received]", letters)
	}
}
