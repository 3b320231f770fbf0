package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen calls notified with the payload of every notification on the
// PostgreSQL channel until ctx ends, on a connection of its own taken
// from pool; when the connection fails it takes another a second later.
// Notifications are sent when their transaction commits, so a listener
// woken by one sees what the transaction wrote.
func Listen(ctx context.Context, pool *pgxpool.Pool, channel string, notified func(payload string)) {
	for ctx.Err() == nil {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			conn.Release()
			sleep(ctx, time.Second)
			continue
		}
		for ctx.Err() == nil {
			n, err := conn.Conn().WaitForNotification(ctx)
			if err != nil {
				break
			}
			notified(n.Payload)
		}
		// The connection may be in the middle of a wait: do not return it
		// to the pool.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}
}

// Wake is a notified function for Listen that signals wake without
// blocking: one pending wake-up stands for any number of notifications.
func Wake(wake chan<- struct{}) func(string) {
	return func(string) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
