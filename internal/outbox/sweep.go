package outbox

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// Watch names a consumer whose input the sweeper checks: every outbox
// event on a subject matching Filter must show up in processed_events
// under Consumer within the sweeper's After.
type Watch struct {
	Consumer string
	Filter   string // NATS subject filter, e.g. "complaint.located.>"
}

// Sweeper re-publishes any event a consumer has not processed within After
// of its publication, so an event lost anywhere (an unsynced JetStream
// write when the machine died, a bug) never leaves a complaint stuck.
type Sweeper struct {
	Pool    *pgxpool.Pool
	JS      jetstream.JetStream
	Log     *zap.Logger
	After   time.Duration
	Every   time.Duration
	Watches []Watch

	checked map[Watch]int64 // per watch: every matching seq up to here was processed or dead-lettered
}

// Run sweeps every Every until ctx is cancelled.
func (s *Sweeper) Run(ctx context.Context) error {
	if s.Every <= 0 {
		s.Every = s.After / 4
		if s.Every < time.Second {
			s.Every = time.Second
		}
	}
	for {
		if _, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("sweep", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.Every):
		}
	}
}

// behind reports whether w's consumer has messages in its stream it has
// not yet been given: a consumer working through a backlog. A consumer
// that cannot be found is not behind.
func (s *Sweeper) behind(ctx context.Context, w Watch) bool {
	stream := natsx.StreamFor(w.Filter)
	if stream == "" {
		return false
	}
	c, err := s.JS.Consumer(ctx, stream, w.Consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumPending > 0
}

// likePattern turns a NATS subject filter into a SQL LIKE pattern.
func likePattern(filter string) string {
	var b strings.Builder
	for i, tok := range strings.Split(filter, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		switch tok {
		case ">":
			b.WriteString("%")
		case "*":
			b.WriteString("%") // looser than NATS's one token; the prefix keeps it precise enough
		default:
			b.WriteString(strings.NewReplacer("%", `\%`, "_", `\_`).Replace(tok))
		}
	}
	return b.String()
}

// sweepPage is how many outbox rows one query of the sweeper reads.
const sweepPage = 5000

// SweepOnce checks every watch once and returns how many events it
// published again. After a start it pages quickly through the rows every
// consumer has already processed, so recent events are reached at once.
func (s *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	if s.checked == nil {
		s.checked = map[Watch]int64{}
	}
	total := 0
	for _, w := range s.Watches {
		if s.behind(ctx, w) {
			// Its events are queued, not lost: republishing them would
			// only add to the queue. The sweep waits until it drains.
			continue
		}
		for range 200 {
			stalled, more, err := s.page(ctx, w)
			if err != nil {
				return total, err
			}
			if len(stalled) > 0 {
				n, err := Republish(ctx, s.Pool, s.JS, stalled)
				total += n
				s.Log.Warn("republished stalled events", zap.String("consumer", w.Consumer), zap.Int("events", n))
				if err != nil {
					return total, err
				}
			}
			if !more {
				break
			}
		}
	}
	return total, nil
}

// page reads one page of w's events after its checkpoint, moves the
// checkpoint over the processed ones, and returns the stalled ones and
// whether the next page should be read at once (a full page, all done).
// The page ends before the first event sent (or, unsent, written) within
// After: it cannot be due yet, and stopping there keeps a backlog from
// being read at every sweep without moving the checkpoint past it.
func (s *Sweeper) page(ctx context.Context, w Watch) (stalled []string, more bool, err error) {
	rows, err := s.Pool.Query(ctx, `SELECT o.seq, o.event_id, o.sent_at IS NOT NULL AND o.sent_at < now() - $3::interval AS due,
			EXISTS (SELECT 1 FROM processed_events p WHERE p.consumer = $2 AND p.event_id = o.event_id)
			OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.consumer = $2 AND d.event_id = o.event_id) AS done
		FROM outbox o
		WHERE o.seq > $4 AND o.subject LIKE $1
		  AND o.seq < COALESCE((SELECT min(y.seq) FROM outbox y WHERE y.seq > $4 AND y.subject LIKE $1
		      AND COALESCE(y.sent_at, y.created_at) >= now() - $3::interval), 9223372036854775807)
		ORDER BY o.seq LIMIT $5`, likePattern(w.Filter), w.Consumer, s.After.String(), s.checked[w], sweepPage)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	advance, n := true, 0
	for rows.Next() {
		n++
		var seq int64
		var id string
		var due, done bool
		if err := rows.Scan(&seq, &id, &due, &done); err != nil {
			return nil, false, err
		}
		if done {
			if advance {
				s.checked[w] = seq
			}
			continue
		}
		advance = false
		if due {
			stalled = append(stalled, id)
		}
	}
	return stalled, advance && n == sweepPage, rows.Err()
}
