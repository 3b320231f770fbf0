package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

var redriven = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_dead_letters_retried_total",
	Help: "Dead letters sent again at an operator's request.",
})

// DeadLetter is a message a consumer gave up on, as an operator sees it:
// never its payload, which may hold a caller's personal data.
type DeadLetter struct {
	ID             int64
	Consumer       string
	Subject        string
	EventID        string
	Deliveries     int
	Reason         string
	At             time.Time
	RetryRequested *time.Time
	Retried        *time.Time
	// Handled says that the consumer has handled the event since (after
	// it was sent again).
	Handled bool
}

// DeadLetters lists at most limit dead letters, the newest first, of one
// consumer or (consumer "") of all; with pending, only those not sent
// again.
func DeadLetters(ctx context.Context, pool *pgxpool.Pool, consumer string, pending bool, limit int) ([]DeadLetter, error) {
	rows, err := pool.Query(ctx, `SELECT d.id, d.consumer, d.subject, COALESCE(d.event_id, ''), d.deliveries, d.reason, d.created_at,
			d.retry_requested_at, d.retried_at,
			EXISTS (SELECT FROM processed_events p WHERE p.consumer = d.consumer AND p.event_id = d.event_id)
		FROM dead_letters d WHERE ($1 = '' OR d.consumer = $1) AND (NOT $2 OR d.retried_at IS NULL)
		ORDER BY d.id DESC LIMIT $3`, consumer, pending, limit)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.Consumer, &d.Subject, &d.EventID, &d.Deliveries, &d.Reason, &d.At, &d.RetryRequested, &d.Retried, &d.Handled)
		return d, err
	})
}

// CountDeadLetters counts the dead letters DeadLetters would list
// without its limit.
func CountDeadLetters(ctx context.Context, pool *pgxpool.Pool, consumer string, pending bool) (int, error) {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters d WHERE ($1 = '' OR d.consumer = $1) AND (NOT $2 OR d.retried_at IS NULL)`,
		consumer, pending).Scan(&n); err != nil {
		return 0, fmt.Errorf("dead letters: %w", err)
	}
	return n, nil
}

// RequestRetry asks for dead letters, of one consumer or (consumer "")
// of any, to be sent again, and reports how many it asked for: with ids,
// those, even if sent again before (a second sending is harmless, the
// event id deduplicates it); without, every one not asked for yet except
// the relay's (RelayDeadLetters: events over NATS's maximum payload, which
// no retry can send). The outbox relay of a process that may publish a
// dead letter's subject sends it within seconds (Relay.RedriveEvery).
func RequestRetry(ctx context.Context, pool *pgxpool.Pool, consumer string, ids []int64) (int, error) {
	tag, err := pool.Exec(ctx, `UPDATE dead_letters SET retry_requested_at = now(), retried_at = NULL
		WHERE ($1 = '' OR consumer = $1) AND CASE WHEN COALESCE(cardinality($2::bigint[]), 0) = 0
			THEN retried_at IS NULL AND retry_requested_at IS NULL AND consumer <> $3 ELSE id = ANY($2) END`, consumer, ids, RelayDeadLetters)
	if err != nil {
		return 0, fmt.Errorf("retry dead letters: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Redrive sends again, with their original subject and payload, at most
// limit dead letters whose retry was asked for and whose subjects match
// filters (the subjects this process may publish; none: every subject),
// and marks them sent. Each goes out under a Nats-Msg-Id of its own (of
// the dead letter and the time its retry was asked for), so JetStream
// takes it neither for the original nor for an earlier retry. Every
// consumer of the subject receives it: those that handled the event
// before skip it by its event id, and the one that gave up handles it
// anew. A crash between the publish and the mark sends it once more,
// which the same event id makes harmless.
func Redrive(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, filters []string, limit int) (int, error) {
	sent := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, subject, payload, retry_requested_at, COALESCE(event_id, '') FROM dead_letters
			WHERE retry_requested_at IS NOT NULL AND retried_at IS NULL
			AND (COALESCE(cardinality($1::text[]), 0) = 0 OR subject LIKE ANY ($1))
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, likePatterns(filters), limit)
		if err != nil {
			return err
		}
		type letter struct {
			id      int64
			subject string
			payload []byte
			asked   time.Time
			eventID string
		}
		letters, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (letter, error) {
			var l letter
			err := r.Scan(&l.id, &l.subject, &l.payload, &l.asked, &l.eventID)
			return l, err
		})
		if err != nil {
			return err
		}
		var done, withdrawn []int64
		var pubErr error
		for _, l := range letters {
			m := nats.NewMsg(l.subject)
			m.Data = l.payload
			m.Header.Set(jetstream.MsgIDHeader, "dead-letter-retry:"+strconv.FormatInt(l.id, 10)+":"+strconv.FormatInt(l.asked.UnixMicro(), 10))
			if l.eventID != "" {
				m.Header.Set(natsx.EventIDHeader, l.eventID)
			}
			_, err := js.PublishMsg(ctx, m)
			if errors.Is(err, nats.ErrMaxPayload) {
				// No retry can send it (an event over the maximum payload):
				// the request is withdrawn, and the others go.
				withdrawn = append(withdrawn, l.id)
				continue
			}
			if err != nil {
				pubErr = fmt.Errorf("send dead letter %d again on %s: %w", l.id, l.subject, err)
				break
			}
			done = append(done, l.id)
		}
		if len(done) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE dead_letters SET retried_at = now() WHERE id = ANY($1)`, done); err != nil {
				return err
			}
		}
		if len(withdrawn) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE dead_letters SET retry_requested_at = NULL WHERE id = ANY($1)`, withdrawn); err != nil {
				return err
			}
		}
		sent = len(done)
		if sent == 0 && len(withdrawn) == 0 {
			return pubErr
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redrive dead letters: %w", err)
	}
	redriven.Add(float64(sent))
	return sent, nil
}
