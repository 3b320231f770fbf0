// Package outbox writes events to PostgreSQL in the transaction of their
// effect and relays them to JetStream with Nats-Msg-Id = event id, so no
// service ever writes twice (database and broker) without a transaction.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/refresh"
)

// Add records an event to publish once tx commits. A second Add of the
// same event id is a no-op, so replays of a handler stay idempotent.
func Add(ctx context.Context, tx pgx.Tx, subject, eventID string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", subject, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING`, eventID, subject, b); err != nil {
		return fmt.Errorf("outbox %s: %w", subject, err)
	}
	return nil
}

// Queue adds the event to a pgx batch instead, for hot paths that send many
// statements in one round trip.
func Queue(b *pgx.Batch, subject, eventID string, payload []byte) {
	b.Queue(`INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING`, eventID, subject, payload)
}

// insertMany is the one statement that writes a set of events.
const insertMany = `INSERT INTO outbox (event_id, subject, payload)
	SELECT * FROM unnest($1::text[], $2::text[], $3::json[]) ON CONFLICT (event_id) DO NOTHING`

// Events collects the events of a batch so that they are written with one
// statement, whatever their number. The zero value is ready to use.
type Events struct {
	ids, subjects []string
	payloads      []string
}

// Add marshals payload and adds the event.
func (e *Events) Add(subject, eventID string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox %s: %w", subject, err)
	}
	e.AddRaw(subject, eventID, b)
	return nil
}

// AddRaw adds an event whose payload is JSON already.
func (e *Events) AddRaw(subject, eventID string, payload []byte) {
	e.ids = append(e.ids, eventID)
	e.subjects = append(e.subjects, subject)
	e.payloads = append(e.payloads, string(payload))
}

// Len is the number of events added.
func (e *Events) Len() int { return len(e.ids) }

// Write inserts the events in tx with one statement; with none it does
// nothing. A second write of an event id is a no-op.
func (e *Events) Write(ctx context.Context, tx pgx.Tx) error {
	if len(e.ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertMany, e.ids, e.subjects, e.payloads); err != nil {
		return fmt.Errorf("outbox: %d events: %w", len(e.ids), err)
	}
	return nil
}

// Queue puts the statement that writes the events into b, for callers
// that send their statements in one round trip; with none it queues
// nothing.
func (e *Events) Queue(b *pgx.Batch) {
	if len(e.ids) == 0 {
		return
	}
	b.Queue(insertMany, e.ids, e.subjects, e.payloads)
}

var (
	published = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_outbox_published_total",
		Help: "Outbox events acknowledged by JetStream.",
	})
	republished = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_outbox_republished_total",
		Help: "Events published again by the sweeper because a complaint stalled at a stage.",
	})
	pending = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "nuisance_outbox_pending",
		Help: "Outbox events not yet published, as last seen by this relay.",
	})
	deadLettered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_outbox_dead_letters_total",
		Help: "Outbox events NATS can never take (over its maximum payload), moved to the dead letters.",
	})
	refused = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_outbox_refused_total",
		Help: "Publishes of outbox events the NATS client or JetStream refused or left unacknowledged; each is tried again (except one over the maximum payload: see nuisance_outbox_dead_letters_total).",
	})
)

// DefaultKeep is how long a relay keeps sent rows (14 days): longer than
// JetStream keeps a message (7 days), so that an event a stage down for a
// week never received, and which JetStream has since dropped, can still
// be published again. The consumers' idempotency records must outlive it
// (see internal/retention): the sweeper publishes again any event of the
// outbox a consumer has no record of.
const DefaultKeep = 14 * 24 * time.Hour

// Relay publishes unsent outbox rows. Several relays may run at once:
// relays of the same Subjects take turns, one batch each, under a
// transaction-scoped advisory lock (cheaper than locking every row), and
// relays of different Subjects work side by side. A row is marked sent
// only after JetStream acknowledged it; a crash in between publishes it
// again with the same Nats-Msg-Id, which JetStream deduplicates.
type Relay struct {
	Pool  *pgxpool.Pool
	JS    jetstream.JetStream
	Log   *zap.Logger
	Batch int
	// Poll is the interval between scans when no notification arrives.
	Poll time.Duration
	// Keep is how long sent rows stay for the sweeper and for audits
	// (default DefaultKeep).
	Keep time.Duration
	// Subjects limits the relay to events on these NATS subject filters
	// (e.g. "case.>"): in a distributed deployment each process relays
	// only what its own services write, which is all its NATS user may
	// publish. Empty relays everything.
	Subjects []string
	// RedriveEvery is how often the relay sends again the dead letters an
	// operator asked to retry (Redrive); default 5 s.
	RedriveEvery time.Duration
	// AfterPublish, when set, runs after the publish and before the rows
	// are marked sent; tests use it to simulate a crash in between.
	AfterPublish func() error

	mu   sync.Mutex
	seen *seen // what the last read saw whole, if it did
	// read counts and logs the passes that could not read the outbox,
	// which leave nuisance_outbox_pending at its last value.
	read *refresh.Tracker
	// unsent logs the passes that published part of their batch: while
	// NATS refuses the rest, every pass does, and it is logged at the
	// first, then at most once every 30 s, each line with the first
	// event refused.
	unsent *logging.Throttle
}

// seen is what a read that returned every unsent row after the cursor,
// all of them published, leaves to the next one: the transactions then
// still running (xip) and the first not yet started (xmax). Every other
// transaction after the cursor had ended, so the read saw all its rows,
// and the next read needs to look only at these; rows after the cursor
// that are sent already, which a long transaction holding the cursor
// back leaves in the index for every read to pass, are not visited.
type seen struct {
	xmax string
	xip  []string
}

// Run relays until ctx is cancelled.
func (r *Relay) Run(ctx context.Context) error {
	if r.Batch <= 0 {
		r.Batch = 512
	}
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Keep <= 0 {
		r.Keep = DefaultKeep
	}
	if r.RedriveEvery <= 0 {
		r.RedriveEvery = 5 * time.Second
	}
	wake := make(chan struct{}, 1)
	go r.listen(ctx, wake)
	lastClean, lastRedrive := time.Time{}, time.Time{}
	// A pass that fails (PostgreSQL or NATS unreachable, an event refused)
	// fails again at the next, every Poll: logged once, then every 30 s.
	warn := logging.NewThrottle(r.Log, logging.ThrottleEvery)
	defer warn.Stop()
	defer func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.unsent != nil {
			r.unsent.Stop()
		}
		if r.read != nil {
			r.read.Stop()
		}
	}()
	for {
		for {
			n, err := r.RelayOnce(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				warn.Warn("outbox relay", logging.Error(err))
				break
			}
			warn.OK("outbox relay")
			if n < r.Batch {
				break
			}
		}
		if time.Since(lastRedrive) >= r.RedriveEvery {
			lastRedrive = time.Now()
			if _, err := Redrive(ctx, r.Pool, r.JS, r.Subjects, r.Batch); err != nil && ctx.Err() == nil {
				warn.Warn("send dead letters again", logging.Error(err))
			} else if err == nil {
				warn.OK("send dead letters again")
			}
		}
		if time.Since(lastClean) > time.Hour {
			lastClean = time.Now()
			if _, err := r.Pool.Exec(ctx, `DELETE FROM outbox WHERE sent_at < now() - $1::interval`, r.Keep.String()); err != nil && ctx.Err() == nil {
				warn.Warn("outbox cleanup", logging.Error(err))
			} else if err == nil {
				warn.OK("outbox cleanup")
			}
		}
		select {
		case <-ctx.Done():
			// One last pass so events committed before shutdown go out.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = r.RelayOnce(fctx)
			cancel()
			return nil
		case <-wake:
		case <-time.After(r.Poll):
		}
	}
}

// listen turns PostgreSQL notifications on the outbox channel into wake-ups.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	signal := pgstore.Wake(wake)
	pgstore.Listen(ctx, r.Pool, "outbox", func(payload string) {
		if wakesFor(r.Subjects, payload) {
			signal(payload)
		}
	})
}

// wakesFor reports whether a notification of new events whose subjects
// begin with the token payload concerns a relay of filters. An empty
// payload concerns every relay.
func wakesFor(filters []string, payload string) bool {
	if len(filters) == 0 || payload == "" {
		return true
	}
	for _, f := range filters {
		first, _, _ := strings.Cut(f, ".")
		if first == payload || first == "*" || first == ">" {
			return true
		}
	}
	return false
}

// RelayDeadLetters is the consumer name of the dead letters the relay
// writes: events NATS refuses for good.
const RelayDeadLetters = "outbox-relay"

// deadLetterTooLarge moves the outbox rows $1 to the dead letters of $2,
// with the reason, in one statement.
const deadLetterTooLarge = `WITH gone AS (DELETE FROM outbox WHERE seq = ANY($1) RETURNING event_id, subject, payload)
INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
SELECT $2, subject, event_id, event_id, 0,
	'NATS refuses it: ' || octet_length(payload::text) || ' bytes, over its maximum payload of ' || $3::bigint || ' bytes',
	convert_to(payload::text, 'UTF8')
FROM gone
ON CONFLICT (consumer, msg_id) DO NOTHING`

// RelayOnce publishes one batch of unsent events and reports how many rows
// it claimed.
//
// Rows are read in the order of their writing transaction's id (xid) from
// the relay's cursor on, through an index that marking a row sent leaves
// alone, so the mark is a cheap in-page (HOT) update. The cursor moves to
// the oldest transaction still running once every row before it has been
// published: rows of transactions older than that are all committed or
// gone, so none can appear behind the cursor later. A long transaction
// holds the cursor back, not the relay: rows committed after it are
// published at once.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	if r.Batch <= 0 {
		r.Batch = 512
	}
	name := "outbox relay " + strings.Join(r.Subjects, " ")
	claimed := 0
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = refresh.New("nuisance_outbox_pending", r.Log)
	}
	if r.unsent == nil {
		r.unsent = logging.NewThrottle(r.Log, logging.ThrottleEvery)
	}
	read := false // whether nuisance_outbox_pending was set
	prev := r.seen
	r.seen = nil // set again below only if this read sees everything
	var saw *seen
	err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		// Another relay of the same subjects is at work: its batch is
		// this one's, so wait for the next turn.
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, name).Scan(&mine); err != nil || !mine {
			if err == nil {
				// The other relay's gauge counts the batch: this one's
				// would otherwise keep its last batch for as long as it
				// loses, and look stuck.
				pending.Set(0)
				read = true
			}
			return err
		}
		var cursor string
		err := tx.QueryRow(ctx, `SELECT xid::text FROM outbox_relays WHERE name = $1`, name).Scan(&cursor)
		if errors.Is(err, pgx.ErrNoRows) {
			// A new relay starts at the oldest unsent row (one scan).
			err = tx.QueryRow(ctx, `SELECT COALESCE(min(xid), pg_snapshot_xmin(pg_current_snapshot()))::text
				FROM outbox WHERE sent_at IS NULL`).Scan(&cursor)
		}
		if err != nil {
			return fmt.Errorf("relay cursor: %w", err)
		}
		var rows pgx.Rows
		if prev == nil {
			rows, err = tx.Query(ctx, readAfterCursor, r.Batch, likePatterns(r.Subjects), cursor)
		} else {
			rows, err = tx.Query(ctx, readSinceSeen, r.Batch, likePatterns(r.Subjects), prev.xip, prev.xmax)
		}
		if err != nil {
			return err
		}
		type row struct {
			seq          int64
			xid, id, sub string
			payload      []byte
		}
		var batch []row
		var horizon string
		var now seen
		for rows.Next() {
			var x row
			var seq *int64
			var xid, id, sub *string
			if err := rows.Scan(&horizon, &now.xmax, &now.xip, &seq, &xid, &id, &sub, &x.payload); err != nil {
				rows.Close()
				return err
			}
			if seq == nil {
				continue // nothing to send: the row carries only the horizon
			}
			x.seq, x.xid, x.id, x.sub = *seq, *xid, *id, *sub
			batch = append(batch, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		claimed = len(batch)
		pending.Set(float64(len(batch)))
		read = true
		var acked []int64
		var firstErr error
		var firstRefused string // the event of firstErr: the first not sent or not acknowledged
		var tooLarge []int64    // events over the server's maximum payload
		var tooLargeIDs []string
		stuck := "" // the xid of the first row JetStream did not take
		if len(batch) > 0 {
			futures := make([]jetstream.PubAckFuture, len(batch))
			for i, x := range batch {
				m := nats.NewMsg(x.sub)
				m.Data = x.payload
				m.Header.Set(jetstream.MsgIDHeader, x.id)
				f, err := r.JS.PublishMsgAsync(m)
				if errors.Is(err, nats.ErrMaxPayload) {
					// Refused for good: no later try can send it.
					tooLarge = append(tooLarge, x.seq)
					tooLargeIDs = append(tooLargeIDs, x.id)
					continue
				}
				if err != nil {
					refused.Inc()
					// Refused before it left (too large, disconnected):
					// like a refusal by JetStream, it stays unsent and
					// holds the cursor, and the rest of the batch goes.
					if firstErr == nil {
						firstErr = fmt.Errorf("publish %s (event %s): %w", x.sub, x.id, err)
						firstRefused = x.id
					}
					continue
				}
				futures[i] = f
			}
			timeout := time.After(10 * time.Second)
			for i, f := range futures {
				if f == nil && slices.Contains(tooLarge, batch[i].seq) {
					continue
				}
				if f == nil {
					if stuck == "" {
						stuck = batch[i].xid
					}
					continue
				}
				select {
				case <-f.Ok():
					acked = append(acked, batch[i].seq)
					continue
				case err := <-f.Err():
					if firstErr == nil {
						firstErr = fmt.Errorf("publish %s (event %s): %w", batch[i].sub, batch[i].id, err)
						firstRefused = batch[i].id
					}
				case <-timeout:
					if firstErr == nil {
						firstErr = fmt.Errorf("publish %s (event %s): no acknowledgement within 10s", batch[i].sub, batch[i].id)
						firstRefused = batch[i].id
					}
				case <-ctx.Done():
					return ctx.Err()
				}
				refused.Inc()
				if stuck == "" {
					stuck = batch[i].xid
				}
			}
			if r.AfterPublish != nil {
				if err := r.AfterPublish(); err != nil {
					return err
				}
			}
			if len(acked) > 0 {
				if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)`, acked); err != nil {
					return err
				}
				published.Add(float64(len(acked)))
			}
		}
		if len(tooLarge) > 0 {
			// Kept whole among the dead letters, where the operator sees
			// them, rather than tried for ever ahead of everything else.
			if _, err := tx.Exec(ctx, deadLetterTooLarge, tooLarge, RelayDeadLetters, r.JS.Conn().MaxPayload()); err != nil {
				return fmt.Errorf("dead-letter events over the maximum payload: %w", err)
			}
			deadLettered.Add(float64(len(tooLarge)))
			if r.Log != nil {
				r.Log.Error("outbox: events over NATS's maximum payload moved to the dead letters (nuisance deadletters list -consumer "+RelayDeadLetters+")",
					zap.Strings("event_ids", tooLargeIDs), zap.Int64("max_payload", r.JS.Conn().MaxPayload()))
			}
		}
		// The cursor may pass the horizon's older transactions only when
		// this read held all of their unsent rows and all were published;
		// otherwise it stays where the work left off.
		next := horizon
		switch {
		case stuck != "":
			next = stuck
		case len(batch) == r.Batch:
			next = batch[len(batch)-1].xid
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox_relays (name, xid) VALUES ($1, least($2::text::xid8, $3::text::xid8))
			ON CONFLICT (name) DO UPDATE SET xid = EXCLUDED.xid, updated_at = now()
			WHERE outbox_relays.xid IS DISTINCT FROM EXCLUDED.xid`, name, next, horizon); err != nil {
			return fmt.Errorf("relay cursor: %w", err)
		}
		if firstErr != nil && len(acked) == 0 && len(tooLarge) == 0 {
			return firstErr
		}
		if firstErr != nil {
			r.unsent.Warn("outbox: events left unsent", zap.Int("published", len(acked)), zap.Int("read", len(batch)),
				zap.String("first_refused", firstRefused), logging.Error(firstErr))
		} else {
			r.unsent.OK("outbox: events left unsent")
		}
		if stuck == "" && len(batch) < r.Batch {
			saw = &now
		}
		return nil
	})
	if err == nil {
		r.seen = saw
	}
	// A pass that read the outbox and then failed (a publish refused)
	// refreshed the gauge all the same.
	if read {
		r.read.Done(ctx, nil)
	} else {
		r.read.Done(ctx, err)
	}
	return claimed, err
}

// The relay's reads return, in the order of their transactions, at most
// $1 unsent rows of its subjects ($2), with the read's snapshot: its
// horizon (the oldest transaction running), its xmax and its running
// transactions. The lateral join returns the snapshot even when there is
// no row.
const (
	readSnapshot = `WITH h AS (SELECT pg_current_snapshot() AS s)
	SELECT pg_snapshot_xmin(h.s)::text, pg_snapshot_xmax(h.s)::text, ARRAY(SELECT pg_snapshot_xip(h.s)::text),
		o.seq, o.xid::text, o.event_id, o.subject, o.payload
	FROM h LEFT JOIN LATERAL (`
	unsentRows = `SELECT seq, xid, event_id, subject, payload FROM outbox
		WHERE sent_at IS NULL AND (cardinality($2::text[]) = 0 OR subject LIKE ANY ($2)) AND `
	readEnd = ` ORDER BY xid, seq LIMIT $1) o ON true`

	// readAfterCursor reads the rows after the cursor ($3).
	readAfterCursor = readSnapshot + unsentRows + `xid >= $3::text::xid8` + readEnd
	// readSinceSeen reads, after a read that saw everything, only the rows
	// of the transactions then running ($3) or started since ($4).
	readSinceSeen = readSnapshot + `SELECT * FROM (` + unsentRows + `xid = ANY ($3::text[]::xid8[])
		UNION ALL ` + unsentRows + `xid >= $4::text::xid8) u` + readEnd
)

// Republish publishes already-sent events again (the sweeper's tool), with a
// fresh Nats-Msg-Id so JetStream does not drop it as a duplicate; consumers
// stay idempotent through the event id in the payload.
func Republish(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, eventIDs []string) (int, error) {
	if len(eventIDs) == 0 {
		return 0, nil
	}
	rows, err := pool.Query(ctx, `UPDATE outbox SET republished = republished + 1, sent_at = now()
		WHERE event_id = ANY($1) AND sent_at IS NOT NULL RETURNING event_id, subject, payload, republished`, eventIDs)
	if err != nil {
		return 0, fmt.Errorf("republish: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, sub string
		var payload []byte
		var times int
		if err := rows.Scan(&id, &sub, &payload, &times); err != nil {
			return n, fmt.Errorf("republish: %w", err)
		}
		m := nats.NewMsg(sub)
		m.Data = payload
		m.Header.Set(jetstream.MsgIDHeader, id+"/r"+strconv.Itoa(times))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			return n, fmt.Errorf("republish %s: %w", sub, err)
		}
		n++
	}
	republished.Add(float64(n))
	return n, rows.Err()
}

// likePatterns turns NATS subject filters into SQL LIKE patterns.
func likePatterns(filters []string) []string {
	out := make([]string, len(filters))
	for i, f := range filters {
		out[i] = likePattern(f)
	}
	return out
}

// Covers reports whether subject matches one of the NATS filters (an
// empty list covers everything).
func Covers(filters []string, subject string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// subjectMatches applies NATS wildcard rules: "*" one token, ">" the rest.
// A filter matches a narrower filter it contains, e.g. "case.>" covers
// "case.assigned.*".
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range ft {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		if tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}
