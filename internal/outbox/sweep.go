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

	checked map[string]int64 // per consumer: every seq of its watches up to here was processed or dead-lettered
	span    map[string]int64 // per consumer: the sequence numbers its next query looks at
}

// group is the watches of one consumer, which one query checks: a
// consumer of several subjects (the callbacks' six kinds of case events)
// costs one read of the outbox, not one for each subject.
type group struct {
	consumer string
	filters  []string
}

// groups gathers the watches by consumer, in the order of their first
// watch.
func groups(ws []Watch) []group {
	var out []group
	at := map[string]int{}
	for _, w := range ws {
		i, ok := at[w.Consumer]
		if !ok {
			i = len(out)
			at[w.Consumer] = i
			out = append(out, group{consumer: w.Consumer})
		}
		out[i].filters = append(out[i].filters, w.Filter)
	}
	return out
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

// behind reports whether g's consumer has messages in one of its streams
// it has not yet been given: a consumer working through a backlog. A
// consumer that cannot be found is not behind.
func (s *Sweeper) behind(ctx context.Context, g group) bool {
	asked := map[string]bool{}
	for _, f := range g.filters {
		stream := natsx.StreamFor(f)
		if stream == "" || asked[stream] {
			continue
		}
		asked[stream] = true
		c, err := s.JS.Consumer(ctx, stream, g.consumer)
		if err != nil {
			continue
		}
		if info, err := c.Info(ctx); err == nil && info.NumPending > 0 {
			return true
		}
	}
	return false
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

// sweepPage is how many outbox rows one query of the sweeper reads, and
// sweepSpan how many sequence numbers of the outbox, of every subject, one
// query looks at first: a watch whose subject is rare, or never written,
// costs a span, not a scan of the whole outbox after its checkpoint. Each
// span passed doubles the next, up to maxSweepSpan, so a sweep after a
// restart reaches the end of a long outbox in a few queries.
const (
	sweepPage    = 5000
	sweepSpan    = 20000
	maxSweepSpan = 1 << 21
)

// SweepOnce checks every watch once and returns how many events it
// published again. After a start it pages quickly through the rows every
// consumer has already processed, so recent events are reached at once.
func (s *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	if s.checked == nil {
		s.checked, s.span = map[string]int64{}, map[string]int64{}
	}
	total := 0
	for _, w := range groups(s.Watches) {
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
				s.Log.Warn("republished stalled events", zap.String("consumer", w.consumer), zap.Int("events", n))
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

// page reads one page of w's events in the span after its checkpoint,
// moves the checkpoint over the processed ones, and returns the stalled
// ones and whether the next page should be read at once (the checkpoint
// moved over a full page or the whole span). The page ends before the
// first event sent (or, unsent, written) within After: it cannot be due
// yet, and stopping there keeps a backlog from being read at every sweep
// without moving the checkpoint past it. The checkpoint passes the span's
// end only when every event of w in the span is done and the first row at
// or after that end is older than After: then no transaction still
// writing can hold a sequence number in the span.
func (s *Sweeper) page(ctx context.Context, w group) (stalled []string, more bool, err error) {
	from, span := s.checked[w.consumer], max(s.span[w.consumer], sweepSpan)
	to := from + span
	// One statement: where the span's first young event is, whether the
	// row at the span's end is settled (old), and the page of w's events
	// before the young one; a span without any event of w still yields a
	// row, with a NULL seq, to carry the first two.
	rows, err := s.Pool.Query(ctx, `WITH b AS (
			SELECT (SELECT min(y.seq) FROM outbox y WHERE y.seq > $4 AND y.seq <= $6 AND y.subject LIKE ANY ($1)
			          AND COALESCE(y.sent_at, y.created_at) >= now() - $3::interval) AS young,
			       COALESCE((SELECT COALESCE(z.sent_at, z.created_at) < now() - $3::interval FROM outbox z
			          WHERE z.seq >= $6 ORDER BY z.seq LIMIT 1), false) AS end_old)
		SELECT b.young IS NULL AND b.end_old, o.seq, o.event_id, o.due, o.done
		FROM b LEFT JOIN LATERAL (
			SELECT o.seq, o.event_id, o.sent_at IS NOT NULL AND o.sent_at < now() - $3::interval AS due,
				EXISTS (SELECT 1 FROM processed_events p WHERE p.consumer = $2 AND p.event_id = o.event_id)
				OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.consumer = $2 AND d.event_id = o.event_id) AS done
			FROM outbox o
			WHERE o.seq > $4 AND o.seq <= $6 AND o.subject LIKE ANY ($1) AND o.seq < COALESCE(b.young, $6 + 1)
			ORDER BY o.seq LIMIT $5) o ON true
		ORDER BY o.seq`, likePatterns(w.filters), w.consumer, s.After.String(), from, sweepPage, to)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	advance, settled, n := true, false, 0
	for rows.Next() {
		var seq *int64
		var id *string
		var due, done *bool
		if err := rows.Scan(&settled, &seq, &id, &due, &done); err != nil {
			return nil, false, err
		}
		if seq == nil {
			continue // no event of w before the span's first young one
		}
		n++
		if *done {
			if advance {
				s.checked[w.consumer] = *seq
			}
			continue
		}
		advance = false
		if *due {
			stalled = append(stalled, *id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	switch {
	case !advance:
		s.span[w.consumer] = sweepSpan
		return stalled, false, nil
	case n == sweepPage:
		s.span[w.consumer] = sweepSpan
		return stalled, true, nil
	case !settled:
		// Every event of w the query saw is done, but the span holds a
		// young one, or its end is not settled yet.
		s.span[w.consumer] = sweepSpan
		return stalled, false, nil
	}
	s.checked[w.consumer], s.span[w.consumer] = to, min(2*span, maxSweepSpan)
	return stalled, true, nil
}
