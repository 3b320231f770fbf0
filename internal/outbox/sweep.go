package outbox

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
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
	span    int64            // how many sequence numbers the next query looks at
}

// group is the watches of one consumer, checked together: a consumer of
// several subjects (the callbacks' six kinds of case events) is one
// look-up of an event in processed_events, not one for each subject.
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
	warn := logging.NewThrottle(s.Log, logging.ThrottleEvery)
	defer warn.Stop()
	for {
		if _, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			warn.Warn("sweep", logging.Error(err))
		} else if err == nil {
			warn.OK("sweep")
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

// sweepPage is how many events of one consumer a sweep looks at past the
// first one it has not processed: the stalled events one sweep
// republishes for it. sweepLookups bounds the events one query of the
// sweeper reads, of any watched subject, times the consumers it checks
// (see sweepQuery). sweepSpan is how many sequence numbers of the outbox,
// of every subject, a query looks at first: a watch whose subject is
// rare, or never written, costs a span, not a scan of the whole outbox
// after its checkpoint. Each span passed doubles the next, up to
// maxSweepSpan, so a sweep after a restart reaches the end of a long
// outbox in a few queries.
const (
	sweepPage    = 5000
	sweepLookups = 10000
	sweepSpan    = 20000
	maxSweepSpan = 1 << 21
)

// SweepOnce checks every watch once and returns how many events it
// published again. After a start it pages quickly through the rows every
// consumer has already processed, so recent events are reached at once.
//
// The consumers are checked together: each query reads a span of the
// outbox once for all of them, from the lowest checkpoint of those still
// to check, and a row is looked up in processed_events only for the
// consumers that watch it, from their own checkpoints on. An outbox row
// is read once a sweep, not once for each consumer.
func (s *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	if s.checked == nil {
		s.checked = map[string]int64{}
	}
	gs := groups(s.Watches)
	if len(gs) == 0 {
		return 0, nil
	}
	todo := make([]bool, len(gs)) // still to check in this sweep
	for i, g := range gs {
		// A consumer working through a backlog has its events queued,
		// not lost: republishing them would only add to the queue. The
		// sweep waits until it drains.
		todo[i] = !s.behind(ctx, g)
	}
	total := 0
	// At most as many events as 200 pages of sweepPage for each consumer.
	for range 200 * sweepPage * len(gs) / sweepRows(len(gs)) {
		stalled, who, more, err := s.page(ctx, gs, todo)
		if err != nil {
			return total, err
		}
		if len(stalled) > 0 {
			n, err := Republish(ctx, s.Pool, s.JS, stalled)
			total += n
			s.Log.Warn("republished stalled events", zap.Strings("consumers", who), zap.Int("events", n))
			if err != nil {
				return total, err
			}
		}
		if !more {
			break
		}
	}
	return total, nil
}

// page reads one span of the outbox for the consumers still to check
// (todo), moves their checkpoints over the events they processed, and
// returns the stalled events, the consumers they stalled at, and whether
// the next span should be read at once. A consumer is done for the sweep
// (todo turns false) at its first event sent (or, unsent, written) within
// After: it cannot be due yet, and stopping there keeps a backlog from
// being read at every sweep without moving the checkpoint past it; or at
// its first event neither processed nor dead-lettered, after which it
// collects the stalled ones among its next sweepPage events not done; or
// when the span ends unsettled. Its checkpoint passes the span's end only
// when every event of it in the span is done and the first row at or
// after that end is older than After: then no transaction still writing
// can hold a sequence number in the span.
func (s *Sweeper) page(ctx context.Context, gs []group, todo []bool) (stalled, who []string, more bool, err error) {
	from := int64(math.MaxInt64)
	for i, g := range gs {
		if todo[i] {
			from = min(from, s.checked[g.consumer])
		}
	}
	if from == math.MaxInt64 {
		return nil, nil, false, nil
	}
	span := max(s.span, sweepSpan)
	to := from + span
	limit := sweepRows(len(gs))
	args := []any{s.After.String(), from, to}
	in := make([]bool, len(gs)) // the consumers this span concerns
	for i, g := range gs {
		after := int64(math.MaxInt64) // no row is after it: none is read for it
		if in[i] = todo[i] && s.checked[g.consumer] < to; in[i] {
			after = s.checked[g.consumer]
		}
		args = append(args, g.consumer, after, likePatterns(g.filters))
	}
	rows, err := s.Pool.Query(ctx, sweepQuery(len(gs), limit), args...)
	if err != nil {
		return nil, nil, false, err
	}
	defer rows.Close()
	var (
		settled    bool
		young, due *bool
		seq        *int64
		id         *string
		done       = make([]*bool, len(gs))
		dest       = append([]any{&settled, &seq, &id, &young, &due}, make([]any, len(gs))...)
		advance    = slices.Clone(in) // every event of the consumer read so far is done
		stop       = make([]bool, len(gs))
		undone     = make([]int, len(gs)) // events of the consumer not done
		last       = from
		n          = 0
		ids        = map[string]bool{}
	)
	for i := range done {
		dest[5+i] = &done[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, false, err
		}
		if seq == nil {
			continue // no watched event in the span: the row carries settled
		}
		if *seq <= last {
			return nil, nil, false, fmt.Errorf("sweep: outbox rows out of order (%d after %d)", *seq, last)
		}
		last, n = *seq, n+1
		for i, d := range done {
			if d == nil || !in[i] || stop[i] {
				continue // not an event of this consumer after its checkpoint, or past where it stopped
			}
			if *young {
				stop[i] = true
				continue
			}
			if *d {
				if advance[i] {
					s.checked[gs[i].consumer] = *seq
				}
				continue
			}
			if advance[i] = false; undone[i] == sweepPage {
				stop[i] = true
				continue
			}
			undone[i]++
			if *due {
				if !ids[*id] {
					ids[*id] = true
					stalled = append(stalled, *id)
				}
				if !slices.Contains(who, gs[i].consumer) {
					who = append(who, gs[i].consumer)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, false, err
	}
	end := to
	if n == limit {
		// The read stopped at its last row, not at the span's end: the
		// span ends there, settled if that row is old.
		end, settled = last, !*young
	}
	passed := false
	for i, g := range gs {
		switch {
		case !in[i]:
			// Done for this sweep already, or ahead of the span: its
			// turn comes later.
		case !stop[i] && advance[i] && settled:
			s.checked[g.consumer], passed = max(s.checked[g.consumer], end), true
		default:
			// It stopped, or every event of it in the span is done but
			// the span's end is not settled yet.
			todo[i] = false
		}
	}
	switch {
	case n == limit:
	case passed:
		s.span = min(2*span, maxSweepSpan)
	default:
		s.span = sweepSpan
	}
	return stalled, who, slices.Contains(todo, true), nil
}

// sweepRows is how many events one query of page reads for k consumers.
func sweepRows(k int) int { return max(sweepLookups/k, 100) }

// sweepQuery is the statement of page for k consumers, which reads at
// most rows outbox rows: with $1 After, the rows after $2 up to $3 that
// are events of a consumer after its checkpoint. Consumer i (from 0) is
// $4+3i, its checkpoint $5+3i and its subjects' patterns $6+3i. Each row
// says whether it is young (sent, or unsent written, within After) or due
// (sent before After), and for each consumer whether it processed the
// event or dead-lettered it: NULL if the event is not one of its own, and
// false, without a look-up, if it is young. The first column says whether
// the first row at or after $3 is older than After; a span without any
// event yields one row, with a NULL seq, to carry it.
//
// The rows come in the order of seq: the lateral subquery is ordered,
// and one row joined to it keeps its order (page checks it). The limit
// is in the text, not a parameter: the planner charges every row a
// look-up for each consumer, and with a known limit the cost it
// estimates stays under jit_above_cost whatever the size of the outbox
// (compiling the expressions would cost more than running them). A
// look-up is one EXISTS over processed_events, then dead_letters (UNION
// ALL): one probe of an index, and the second only for an event not
// processed; a plain EXISTS would let the planner choose, from the rows
// it expects in the span, to hash every event the consumer ever
// processed instead.
func sweepQuery(k, rows int) string {
	var match, done, anyOf strings.Builder
	for i := range k {
		c, after, patterns := 4+3*i, 5+3*i, 6+3*i
		fmt.Fprintf(&match, ",\n\t\t\tseq > $%d AND subject LIKE ANY ($%d) AS m%d", after, patterns, i)
		fmt.Fprintf(&done, `,
		CASE WHEN NOT x.m%[1]d THEN NULL WHEN x.young THEN false
			ELSE EXISTS (SELECT FROM processed_events p WHERE p.consumer = $%[2]d AND p.event_id = x.event_id
				UNION ALL SELECT FROM dead_letters d WHERE d.consumer = $%[2]d AND d.event_id = x.event_id) END`, i, c)
		if i > 0 {
			anyOf.WriteString(" OR ")
		}
		fmt.Fprintf(&anyOf, "x.m%d", i)
	}
	return `SELECT (SELECT COALESCE(z.sent_at, z.created_at) < now() - $1::interval FROM outbox z
		WHERE z.seq >= $3 ORDER BY z.seq LIMIT 1) IS TRUE, o.*
	FROM (SELECT 1) one LEFT JOIN LATERAL (
		SELECT x.seq, x.event_id, x.young, x.due` + done.String() + `
		FROM (SELECT seq, event_id, COALESCE(sent_at, created_at) >= now() - $1::interval AS young,
			COALESCE(sent_at < now() - $1::interval, false) AS due` + match.String() + `
			FROM outbox WHERE seq > $2 AND seq <= $3 ORDER BY seq OFFSET 0) x
		WHERE ` + anyOf.String() + `
		ORDER BY x.seq LIMIT ` + strconv.Itoa(rows) + `) o ON true`
}
