// Package retention removes what the pipeline needs only for a while and
// erases the callers' personal data once their cases are long over.
//
// Four tables would otherwise grow for ever: processed_events (every
// consumer's idempotency record of every event), callbacks (every
// delivery to the hotline), dead_letters (every event a stage gave up
// on) and the callers' names and phones on complaints. A Job prunes the
// first three (of dead letters, those settled) and, when a retention
// period is set, erases the fourth, and the callers' data in the
// payloads of dead letters, in bounded batches, one replica at a time.
// case_audit is history and is never pruned.
package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// Margin is what an idempotency record outlives the longest redelivery
// by: a sweeper's republish an instant after the consumer recorded the
// event starts the outbox row's Keep and the message's MaxAge again, and
// the job itself runs only every Every.
const Margin = 7 * 24 * time.Hour

// ProcessedWindow is how long a consumer's record of an event is kept: the
// longest time after which the event can still come back, plus Margin.
// An event comes back from JetStream until its stream's MaxAge has passed
// (7 days for the pipeline's streams, 30 for reports and dead letters),
// and from the outbox sweeper, which publishes again every event of the
// outbox a consumer has no record of, until the outbox drops it
// (outbox.DefaultKeep, 14 days after it was last sent). A record pruned
// sooner would let either apply the event a second time. Events a dead
// letter holds are kept whatever their age (see Job).
func ProcessedWindow() time.Duration {
	longest := outbox.DefaultKeep
	for _, s := range natsx.Streams(1) {
		longest = max(longest, s.MaxAge)
	}
	return longest + Margin
}

// Config says what a Job keeps and how it works.
type Config struct {
	// Every is the time between passes (default 1 hour).
	Every time.Duration
	// Callbacks is how long a callback is kept after it was delivered or
	// given up on (dead or superseded); 0 keeps every callback.
	Callbacks time.Duration
	// PII is how long after a case was resolved or closed its callers'
	// names and phones are erased from its complaints, and after a
	// complaint in no case began waiting on triage, or on a dead letter,
	// its caller's, and that of a complaint whose event was lost (in none
	// of them but a triage entry corrected, or dead letters handled,
	// that long ago; none of its events in the outbox) once it was
	// stored longer ago than PII and ProcessedWindow; 0 keeps them.
	PII time.Duration
	// DeadLetters is how long a dead letter is kept once settled (its
	// consumer has handled its event since), and never less than
	// ProcessedWindow; 0 keeps every dead letter. One not settled is
	// kept for ever, for an operator to see.
	DeadLetters time.Duration
	// Pages is how many heap pages of a table one delete reads (default
	// 128, 1 MiB): a batch removes at most the rows they hold, about
	// 20,000 idempotency records or 8,000 callbacks.
	Pages int
	// Complaints is how many complaints one erasure reads (default 500).
	Complaints int
	// DLQ is the JetStream the dead letters' copies on the DLQ stream are
	// deleted through once PII old (see Job.dropCopies); nil leaves them
	// to the stream's MaxAge.
	DLQ jetstream.JetStream
}

// DefaultConfig keeps callbacks and personal data for ever; config.Config
// sets the operator's choices.
func DefaultConfig() Config {
	return Config{Every: time.Hour, Pages: 128, Complaints: 500}
}

var (
	removed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_retention_removed_total",
		Help: "Rows the retention job deleted, by table: processed_events (idempotency records past any redelivery), callbacks (delivered or given up on, past NUISANCE_CALLBACK_RETENTION) and dead_letters (settled, past NUISANCE_DEAD_LETTER_RETENTION).",
	}, []string{"table"})
	erased = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_retention_pii_erased_total",
		Help: "Complaints whose caller's name and phone the retention job erased (NUISANCE_PII_RETENTION after their case ended, or after they began waiting on triage or on a dead letter with no case, or, their event lost, after they were stored and at least 37 days); work orders that came with no caller are not counted.",
	})
	erasedLetters = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_retention_dead_letters_erased_total",
		Help: "Dead letters whose payload or reason the retention job erased callers' data from (a caller field, phone numbers, callers' names), NUISANCE_PII_RETENTION after they were written; those with nothing to erase are not counted.",
	})
	dlqDeleted = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_retention_dlq_deleted_total",
		Help: "Copies of dead letters the retention job deleted from the DLQ stream, NUISANCE_PII_RETENTION after they were written (their payloads and reasons erased in PostgreSQL).",
	})
	dlqFailures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_retention_dlq_delete_failures_total",
		Help: "Retention passes whose erasure in PostgreSQL was done but whose deletion of dead letters' copies from the DLQ stream failed (NATS unreachable, or the service's NATS user without $JS.API.STREAM.MSG.DELETE.DLQ); the copies wait for the next pass, or the stream's 30 days. PostgreSQL failing in that step fails the pass instead.",
	})
	dlqDone = promauto.NewCounter(prometheus.CounterOpts{
		Name: "nuisance_retention_dlq_deletions_done_total",
		Help: "Retention passes that deleted from the DLQ stream every dead letter's copy due, or found none: after failures (nuisance_retention_dlq_delete_failures_total), NATS allows the deletion again.",
	})
	lastPass = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "nuisance_retention_last_pass_timestamp_seconds",
		Help: "When this process last completed a retention pass (0: never; the replicas take turns, so the latest of them counts).",
	})
)

func init() {
	// Zero series, so that a rate over them reads 0 rather than nothing.
	removed.WithLabelValues("processed_events")
	removed.WithLabelValues("callbacks")
	removed.WithLabelValues("dead_letters")
}

// Job runs the passes. Every process may run one: the replicas take
// turns under a session advisory lock, and one that finds it held skips
// its pass.
type Job struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *zap.Logger
}

// New checks cfg and fills in its defaults.
func New(cfg Config, pool *pgxpool.Pool, log *zap.Logger) (*Job, error) {
	def := DefaultConfig()
	if cfg.Every <= 0 {
		cfg.Every = def.Every
	}
	if cfg.Pages <= 0 {
		cfg.Pages = def.Pages
	}
	if cfg.Complaints <= 0 {
		cfg.Complaints = def.Complaints
	}
	if cfg.Callbacks < 0 || cfg.PII < 0 || cfg.DeadLetters < 0 {
		return nil, errors.New("retention: negative retention period")
	}
	return &Job{cfg: cfg, pool: pool, log: log}, nil
}

// Result is what one pass did.
type Result struct {
	// Ran is false when another replica held the lock.
	Ran                  bool
	Processed, Callbacks int64 // rows deleted
	Erased               int64 // complaints whose personal data was erased
	ErasedLetters        int64 // dead letters whose payload or reason lost personal data
	DeadLetters          int64 // settled dead letters deleted
	DLQDeleted           int64 // dead letters' copies deleted from the DLQ stream
}

// lockKey names the advisory lock of the passes.
const lockKey = "nuisance retention"

// Run makes a pass every Every until ctx ends. A failed pass is logged
// and tried again at the next.
func (j *Job) Run(ctx context.Context) error {
	warn := logging.NewThrottle(j.log, logging.ThrottleEvery)
	defer warn.Stop()
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			warn.Warn("retention pass", logging.Error(err))
		} else if err == nil {
			warn.OK("retention pass")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(j.cfg.Every):
		}
	}
}

// RunOnce makes one pass, unless another replica is making one. The lock
// is a session's: it is held on one connection, which runs every batch,
// and goes with the connection if the process dies.
func (j *Job) RunOnce(ctx context.Context) (Result, error) {
	var res Result
	conn, err := j.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: %w", err)
	}
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, lockKey).Scan(&mine); err != nil {
		conn.Release()
		return res, fmt.Errorf("retention lock: %w", err)
	}
	if !mine {
		conn.Release()
		return res, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey); err != nil {
			// A connection that may still hold the lock never goes back
			// to the pool, where it would hold it for good.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	res.Ran = true
	var dlqErr error
	start := time.Now()
	c := conn.Conn()
	// Settled dead letters first: the idempotency records they kept go
	// in the same pass.
	if j.cfg.DeadLetters > 0 {
		if res.DeadLetters, err = j.pruneLetters(ctx, c); err != nil {
			return res, err
		}
	}
	if res.Processed, err = j.pruneProcessed(ctx, c); err != nil {
		return res, err
	}
	if j.cfg.Callbacks > 0 {
		if res.Callbacks, err = j.pruneCallbacks(ctx, c); err != nil {
			return res, err
		}
	}
	if j.cfg.PII > 0 {
		if res.ErasedLetters, err = j.eraseLetters(ctx, c); err != nil {
			return res, err
		}
		if res.Erased, err = j.erase(ctx, c); err != nil {
			return res, err
		}
		if j.cfg.DLQ != nil {
			// The erasure in PostgreSQL is done whatever NATS answers:
			// the pass counts as made (NuisanceRetentionNotRunning is
			// about PostgreSQL's tables), and NATS's failure to delete
			// the copies is counted and said apart, for the next pass
			// to try again. PostgreSQL failing in this step fails the
			// pass, as in the others: it is no DLQ deletion failure.
			var ce copyError
			res.DLQDeleted, err = j.dropCopies(ctx, c)
			switch {
			case errors.As(err, &ce):
				dlqFailures.Inc()
				dlqErr = fmt.Errorf("retention: dead letters' copies not deleted from the DLQ stream (the erasure in PostgreSQL is done; the next pass tries again): %w", err)
			case err != nil:
				return res, err
			default:
				dlqDone.Inc()
			}
		}
	}
	lastPass.SetToCurrentTime()
	if res.Processed+res.Callbacks+res.DeadLetters+res.Erased+res.ErasedLetters+res.DLQDeleted > 0 {
		// Counts only: never a caller, a ticket or a complaint.
		j.log.Info("retention pass", zap.Int64("processed_events_deleted", res.Processed),
			zap.Int64("callbacks_deleted", res.Callbacks), zap.Int64("dead_letters_deleted", res.DeadLetters),
			zap.Int64("complaints_erased", res.Erased),
			zap.Int64("dead_letters_erased", res.ErasedLetters), zap.Int64("dlq_copies_deleted", res.DLQDeleted), zap.Duration("took", time.Since(start)))
	}
	return res, dlqErr
}

// interval renders d for a PostgreSQL interval parameter.
func interval(d time.Duration) string {
	return strconv.FormatInt(d.Microseconds(), 10) + " microseconds"
}

// tid is the first tuple id of heap page p.
func tid(p int64) string { return "(" + strconv.FormatInt(p, 10) + ",0)" }

// pages is the number of heap pages of table now.
func pages(ctx context.Context, c querier, table string) (int64, error) {
	var n int64
	err := c.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint`, table).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", table, err)
	}
	return n, nil
}

// walk runs del, a DELETE of table whose $1 and $2 are the tuple ids
// that bound its range, over the table's heap Pages pages at a time, and
// returns the rows it deleted. Each statement reads a bounded range of
// pages through a TID range scan, needing no index: the tables it prunes
// are written on the pipeline's hot paths, and an index for the job
// alone would cost every write. Rows written after the walk began, or
// moved behind it by an update, wait for the next pass.
func (j *Job) walk(ctx context.Context, c querier, table, del string, args ...any) (int64, error) {
	n, err := pages(ctx, c, table)
	if err != nil {
		return 0, err
	}
	var total int64
	for p := int64(0); p < n; p += int64(j.cfg.Pages) {
		tag, err := c.Exec(ctx, del, append([]any{tid(p), tid(p + int64(j.cfg.Pages))}, args...)...)
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", table, err)
		}
		total += tag.RowsAffected()
		removed.WithLabelValues(table).Add(float64(tag.RowsAffected()))
	}
	return total, nil
}

// pruneProcessedSQL deletes, in a range of pages, the idempotency records
// older than $3, except those of an event a dead letter holds: an
// operator may send it again (nuisance deadletters retry) at any time,
// and it then reaches every consumer of its subject, which must skip it
// if it handled it before.
const pruneProcessedSQL = `DELETE FROM processed_events p
WHERE p.ctid >= $1::tid AND p.ctid < $2::tid AND p.processed_at < now() - $3::interval
  AND NOT EXISTS (SELECT FROM dead_letters d WHERE d.event_id = p.event_id)`

func (j *Job) pruneProcessed(ctx context.Context, c querier) (int64, error) {
	return j.walk(ctx, c, "processed_events", pruneProcessedSQL, interval(ProcessedWindow()))
}

// pruneCallbacksSQL deletes, in a range of pages, the callbacks delivered,
// or given up on (dead, superseded), before $3, except the latest of
// each work order that was attempted: a callback is never sent once the
// hotline may have heard a later one of its work order (services/
// callbacks stores a case event come late, or retries a dead delivery,
// as superseded by it), so that one stays for as long as the work order
// may be answered again, whatever its age. A work order keeps one row;
// its earlier deliveries go. Undelivered callbacks still being retried
// are never touched. "Latest" is in the order the hotline hears them
// (seq, at, id: see services/callbacks).
const pruneCallbacksSQL = `DELETE FROM callbacks c
WHERE c.ctid >= $1::tid AND c.ctid < $2::tid
  AND (c.delivered_at < now() - $3::interval OR (c.delivered_at IS NULL AND c.dead_at < now() - $3::interval))
  AND EXISTS (SELECT FROM callbacks o WHERE o.ticket_id = c.ticket_id AND o.attempts > 0 AND (o.seq, o.at, o.id) > (c.seq, c.at, c.id))`

func (j *Job) pruneCallbacks(ctx context.Context, c querier) (int64, error) {
	return j.walk(ctx, c, "callbacks", pruneCallbacksSQL, interval(j.cfg.Callbacks))
}
