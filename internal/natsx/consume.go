package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pii"
	"github.com/xiamen-eeb/nuisance/internal/refresh"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// Event is what every payload provides: the id a consumer records to stay
// idempotent.
type Event interface {
	ID() string
}

// Handler handles one decoded event inside the batch transaction tx. It
// returns nil on success, a fault.Invalid error for input it can never
// handle, and any other error for a transient failure.
type Handler[T Event] func(ctx context.Context, tx pgx.Tx, ev T, m Meta) error

// BatchHandler handles the fresh events of one batch together inside the
// batch transaction tx: one lookup for the whole batch, one statement per
// table. evs and metas are parallel. When it fails, the consumer handles
// the batch again with one event per call, each in its own transaction,
// so that the failure is pinned to its event and the others commit; the error kinds are those of
// Handler.
type BatchHandler[T Event] func(ctx context.Context, tx pgx.Tx, evs []T, metas []Meta) error

// Meta is what a handler may know of the message besides its payload.
type Meta struct {
	Subject   string
	Delivered uint64
}

// ConsumerSpec describes one durable consumer and its ack policy.
type ConsumerSpec struct {
	Stream     string
	Durable    string
	Filters    []string
	Schema     string        // JSON Schema name, e.g. "complaint.received.v1"; empty: no validation
	Batch      int           // messages per transaction (default 256)
	MaxDeliver int           // then dead-letter (default 8)
	AckWait    time.Duration // default 30s
	// Linger is how long a batch waits for more messages after its first
	// (default 10 ms), and after that while they keep coming within 2 ms:
	// a transaction's cost is mostly per batch, so under a steady feed a
	// few milliseconds of waiting make the batches, and the throughput,
	// larger.
	Linger time.Duration
	// LagEvery is how often the consumer's backlog is read for
	// nuisance_consumer_pending (default 15 s).
	LagEvery time.Duration
	// Heartbeat is the idle heartbeat the consumer's pulls ask of
	// JetStream: with neither a message nor a heartbeat for twice its
	// time, the next message fails (no heartbeat) and the pull is made
	// again. Zero (or less) leaves nats.go's default, half of the
	// pull's 30 s expiry; nats.go takes 500 ms to 30 s, and Run fails at
	// its start on another value.
	Heartbeat time.Duration
}

func (s *ConsumerSpec) defaults() {
	if s.Batch <= 0 {
		s.Batch = 256
	}
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = 8
	}
	if s.AckWait <= 0 {
		s.AckWait = 30 * time.Second
	}
	if s.Linger <= 0 {
		s.Linger = 10 * time.Millisecond
	}
	if s.LagEvery <= 0 {
		s.LagEvery = 15 * time.Second
	}
}

var (
	backlog = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_consumer_pending",
		Help: "Messages of a durable consumer not yet acknowledged: waiting for delivery or being worked (JetStream's count for the durable, read every 15 s).",
	}, []string{"consumer"})
	replicasLost = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_jetstream_replicas_lost",
		Help: "Replicas of a durable consumer's JetStream group that are offline or behind (a NATS node down): one more lost replica can stop the stream.",
	}, []string{"consumer"})
	consumed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_consumer_messages_total",
		Help: "Messages handled by consumers, by outcome (ok, duplicate, retry, dead_letter).",
	}, []string{"consumer", "outcome"})
	batchSize = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nuisance_consumer_batch_size",
		Help:    "Messages per consumer transaction.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
	}, []string{"consumer"})
	batchSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nuisance_consumer_batch_seconds",
		Help:    "Time to handle and commit one batch.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"consumer"})
	nameLookups = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "nuisance_consumer_caller_name_lookups_total",
		Help: "Reads in PostgreSQL of the callers' names the errors of failed messages are masked of, by outcome (read, failed, skipped: PostgreSQL unreachable, the names of the payloads only).",
	}, []string{"consumer", "outcome"})
)

// Backoff is the redelivery delay after the n-th failed delivery.
func Backoff(delivered uint64) time.Duration {
	d := 500 * time.Millisecond
	for i := uint64(1); i < delivered && d < time.Minute; i++ {
		d *= 2
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// Consumer is a declared durable consumer bound to its handler.
type Consumer[T Event] struct {
	spec   ConsumerSpec
	js     jetstream.JetStream
	cons   jetstream.Consumer
	pool   *pgxpool.Pool
	log    *zap.Logger
	schema *jsonschema.Schema
	handle BatchHandler[T]
	// warn logs the failures that repeat while PostgreSQL or NATS is
	// unreachable (the next message, the batch's transaction, a dead
	// letter's row), keyed by their message: the first at once, then at
	// most one line every 30 s, with the ids of the event it names.
	warn *logging.Throttle
	// namesFailed is when a read of the callers' names last failed, in
	// Unix nanoseconds (0: none has): for namesPause after it, none is
	// tried.
	namesFailed atomic.Int64
}

// NewConsumer declares the durable consumer (idempotently) and returns it
// ready to Run.
func NewConsumer[T Event](ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, log *zap.Logger, spec ConsumerSpec, h Handler[T]) (*Consumer[T], error) {
	return NewBatchConsumer(ctx, js, pool, log, spec, func(ctx context.Context, tx pgx.Tx, evs []T, metas []Meta) error {
		for i, ev := range evs {
			if err := h(ctx, tx, ev, metas[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// NewBatchConsumer is NewConsumer for a handler that works a whole batch
// at once.
func NewBatchConsumer[T Event](ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, log *zap.Logger, spec ConsumerSpec, h BatchHandler[T]) (*Consumer[T], error) {
	spec.defaults()
	cfg := jetstream.ConsumerConfig{
		Durable:       spec.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       spec.AckWait,
		MaxDeliver:    spec.MaxDeliver + 2, // the loop dead-letters at spec.MaxDeliver; the margin covers a crash in between
		MaxAckPending: spec.Batch * 8,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(spec.Filters) == 1 {
		cfg.FilterSubject = spec.Filters[0]
	} else {
		cfg.FilterSubjects = spec.Filters
	}
	cons, err := declare(ctx, js, log, spec.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("declare consumer %s: %w", spec.Durable, err)
	}
	c := &Consumer[T]{spec: spec, js: js, cons: cons, pool: pool, log: log.With(zap.String("consumer", spec.Durable)), handle: h}
	c.warn = logging.NewThrottle(c.log, logging.ThrottleEvery)
	if spec.Schema != "" {
		if c.schema, err = schemas.Get(spec.Schema); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// DeclareFor is how long a consumer's declaration is retried: JetStream may
// be electing a leader after a node restarted, or the stream may not be
// declared yet by the process that owns it.
var DeclareFor = time.Minute

// declare creates or updates the durable consumer, retrying with backoff
// for DeclareFor.
func declare(ctx context.Context, js jetstream.JetStream, log *zap.Logger, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	deadline := time.Now().Add(DeclareFor)
	for attempt := uint64(1); ; attempt++ {
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
		if err == nil {
			return cons, nil
		}
		wait := Backoff(attempt)
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return nil, err
		}
		log.Warn("declare consumer; retrying", zap.String("consumer", cfg.Durable), zap.Duration("in", wait), logging.Error(err))
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// Run consumes until ctx is cancelled, then finishes the batch in hand and
// returns. Messages are fetched in batches and each batch is handled in
// one PostgreSQL transaction.
func (c *Consumer[T]) Run(ctx context.Context) error {
	opts := []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(c.spec.Batch * 2)}
	if c.spec.Heartbeat > 0 {
		opts = append(opts, jetstream.PullHeartbeat(c.spec.Heartbeat))
	}
	it, err := c.cons.Messages(opts...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.spec.Durable, err)
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Drain()
	}()
	// Run returns once the backlog's watch has ended too, so that no line
	// of this consumer comes after it; the failures not logged yet are
	// written then.
	var watch sync.WaitGroup
	wctx, stopWatch := context.WithCancel(ctx)
	watch.Go(func() { c.watchBacklog(wctx) })
	defer c.warn.Stop()
	defer watch.Wait()
	defer stopWatch()
	batch := make([]jetstream.Msg, 0, c.spec.Batch)
	for {
		batch = batch[:0]
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Closed, or its consumer gone, while the process runs (the
			// durable deleted on the server): stop, loudly, so that the
			// process stops and its restart declares the consumer again,
			// rather than run on consuming nothing.
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("consume %s: %w", c.spec.Durable, err)
			}
			// No heartbeat: NATS is down, or it came back without the
			// durable (a cluster restored empty, its volumes lost). The
			// iterator would wait for ever on a durable that is gone:
			// the server's answer says which.
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				if gone := c.durableGone(ctx); gone != nil {
					return fmt.Errorf("consume %s: its durable is gone from JetStream (NATS lost its data?): %w", c.spec.Durable, gone)
				}
			}
			c.warn.Warn("next message", logging.Error(err))
			continue
		}
		c.warn.OK("next message")
		batch = append(batch, msg)
		linger := time.Now().Add(c.spec.Linger)
		for len(batch) < c.spec.Batch {
			m, err := it.Next(jetstream.NextMaxWait(max(time.Until(linger), 2*time.Millisecond)))
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		// Finish the batch in hand even when shutting down.
		c.process(context.WithoutCancel(ctx), batch)
	}
}

// durableGone returns the server's answer when it says the consumer's
// stream or durable does not exist, and nil otherwise (it exists, or the
// server did not answer).
func (c *Consumer[T]) durableGone(ctx context.Context) error {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.cons.Info(ictx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound || apiErr.ErrorCode == jetstream.JSErrCodeConsumerNotFound) {
		return err
	}
	return nil
}

// watchBacklog keeps nuisance_consumer_pending up to date until ctx ends:
// a stage that is alive but does not get through its messages (stuck on a
// lock, slower than its input) shows there, where no redelivery or
// republication does. It also counts the consumer's replicas a NATS node
// down has left offline or behind (nuisance_jetstream_replicas_lost): the
// services go on, and one more node lost stops them. A read JetStream
// does not answer leaves both gauges as they were: it is counted and
// logged (refresh), not dropped.
func (c *Consumer[T]) watchBacklog(ctx context.Context) {
	t := time.NewTicker(c.spec.LagEvery)
	defer t.Stop()
	read := refresh.New("nuisance_consumer_pending", c.log)
	defer read.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := c.cons.Info(ictx)
		cancel()
		read.Done(ctx, err)
		if err == nil {
			backlog.WithLabelValues(c.spec.Durable).Set(float64(info.NumPending) + float64(info.NumAckPending))
			lost := 0
			if info.Cluster != nil {
				for _, p := range info.Cluster.Replicas {
					if p != nil && (p.Offline || !p.Current) {
						lost++
					}
				}
			}
			replicasLost.WithLabelValues(c.spec.Durable).Set(float64(lost))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// commitHooks is what the handlers of one transaction (a batch's, or one
// message's when the batch is handled again one by one) asked to run
// once it commits.
type commitHooks struct{ fns []func() }

type commitHooksKey struct{}

// OnCommit returns, for a handler the consume loop called, a function
// that registers work to run once the handler's transaction has
// committed: never when it rolls back. Outside the consume loop (a handler called with a transaction of
// its caller's) it returns nil and false, and the handler must not rely
// on after-commit work.
func OnCommit(ctx context.Context) (func(func()), bool) {
	h, ok := ctx.Value(commitHooksKey{}).(*commitHooks)
	if !ok {
		return nil, false
	}
	return func(fn func()) { h.fns = append(h.fns, fn) }, true
}

func withCommitHooks(ctx context.Context) (context.Context, *commitHooks) {
	h := &commitHooks{}
	return context.WithValue(ctx, commitHooksKey{}, h), h
}

func (h *commitHooks) run() {
	for _, fn := range h.fns {
		fn()
	}
}

type outcome struct {
	ok  bool
	dup bool
	err error
}

var errHandler = errors.New("a handler failed")

// runFast handles the batch in one transaction with one statement for the
// idempotency record of every message: the common case, when every
// handler succeeds.
func (c *Consumer[T]) runFast(ctx context.Context, items []item[T]) ([]outcome, error) {
	out := make([]outcome, len(items))
	hctx, hooks := withCommitHooks(ctx)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ev.ID()
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO processed_events (consumer, event_id)
			SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`, c.spec.Durable, ids)
		if err != nil {
			return err
		}
		fresh := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			fresh[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		evs := make([]T, 0, len(items))
		metas := make([]Meta, 0, len(items))
		for i, it := range items {
			id := it.ev.ID()
			if !fresh[id] {
				out[i] = outcome{ok: true, dup: true}
				continue
			}
			delete(fresh, id) // a second copy in the same batch is a duplicate
			evs = append(evs, it.ev)
			metas = append(metas, Meta{Subject: it.msg.Subject(), Delivered: it.delivered})
			out[i] = outcome{ok: true}
		}
		if len(evs) == 0 {
			return nil
		}
		if herr := c.handle(hctx, tx, evs, metas); herr != nil {
			return errHandler
		}
		return nil
	})
	if err == nil {
		hooks.run()
	}
	return out, err
}

// runEach handles the messages one at a time, each in a transaction of
// its own with half of AckWait to finish, recording each one's outcome:
// a message that fails, or hangs until its time is up, fails alone. It is
// the path after a failed batch, never the hot one.
func (c *Consumer[T]) runEach(ctx context.Context, items []item[T]) ([]outcome, error) {
	out := make([]outcome, len(items))
	timeouts := 0 // messages in a row that ran out of time
	for i, it := range items {
		mctx, cancel := context.WithTimeout(ctx, max(c.spec.AckWait/2, time.Second))
		hctx, hooks := withCommitHooks(mctx)
		dup, handled := false, false
		var herr error
		err := pgx.BeginFunc(mctx, c.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(mctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, c.spec.Durable, it.ev.ID())
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				dup = true
				return nil
			}
			handled = true
			herr = c.handle(hctx, tx, []T{it.ev}, []Meta{{Subject: it.msg.Subject(), Delivered: it.delivered}})
			return herr
		})
		timedOut := mctx.Err() != nil
		cancel()
		if timedOut {
			timeouts++
		} else {
			timeouts = 0
		}
		switch {
		case err != nil && (herr == nil || timeouts > 1):
			// Not the message's own failure (or two in a row out of
			// time): the database is unreachable or stalled, and the rest
			// of the batch would only wait for it one by one. It all
			// comes back.
			for j := i; j < len(items); j++ {
				out[j] = outcome{err: err}
			}
			return out, nil
		case err != nil:
			out[i] = outcome{err: err}
		case dup:
			out[i] = outcome{ok: true, dup: true}
		default:
			if handled {
				hooks.run()
			}
			out[i] = outcome{ok: true}
		}
	}
	return out, nil
}

type item[T Event] struct {
	msg       jetstream.Msg
	ev        T
	delivered uint64
}

// process handles a batch: in one transaction, bounded by AckWait; if a
// handler fails or the transaction runs out of time, each message again
// in a transaction of its own, bounded by half of AckWait, so that one
// slow or failing message fails alone. While it works, the batch's
// messages are kept from being redelivered (InProgress).
func (c *Consumer[T]) process(ctx context.Context, msgs []jetstream.Msg) {
	start := time.Now()
	working := make(chan struct{})
	defer close(working)
	go func() {
		tick := time.NewTicker(max(c.spec.AckWait/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-working:
				return
			case <-tick.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	items := make([]item[T], 0, len(msgs))
	for _, m := range msgs {
		var delivered uint64 = 1
		if md, err := m.Metadata(); err == nil {
			delivered = md.NumDelivered
		}
		ev, err := c.decode(m.Data())
		if errors.Is(err, errSchema) {
			// JSON this binary's schema refuses may be a newer
			// producer's (an enum grown during a rolling upgrade): left
			// for redelivery, a newer replica of the durable handles it;
			// dead-lettered only once every delivery was refused.
			c.log.Warn("event refused by this version's schema; left for redelivery", zap.String("subject", m.Subject()),
				zap.String("msg_id", streamMsgID(m)), zap.String("event_id", looseEventID(m)), zap.Uint64("delivered", delivered),
				logging.Error(err, c.callerNames(ctx, []jetstream.Msg{m}, err)[0]...))
			c.retryOrDeadLetter(ctx, m, looseEventID(m), delivered, err)
			continue
		}
		if err != nil {
			c.deadLetter(ctx, m, delivered, looseEventID(m), err)
			continue
		}
		items = append(items, item[T]{msg: m, ev: ev, delivered: delivered})
	}
	if len(items) == 0 {
		return
	}
	batchSize.WithLabelValues(c.spec.Durable).Observe(float64(len(items)))

	fctx, cancel := context.WithTimeout(ctx, c.spec.AckWait)
	out, err := c.runFast(fctx, items)
	timedOut := err != nil && fctx.Err() != nil
	cancel()
	if errors.Is(err, errHandler) || timedOut {
		// A handler failed, or one was too slow for the batch: redo the
		// batch a message at a time so that one message's failure does
		// not hold back the others.
		out, err = c.runEach(ctx, items)
	}
	batchSeconds.WithLabelValues(c.spec.Durable).Observe(time.Since(start).Seconds())
	if err != nil {
		// Nothing of the batch was committed: every message comes back.
		c.warn.Warn("batch transaction", zap.Int("messages", len(items)), logging.Error(err))
		for _, it := range items {
			c.retryOrDeadLetter(ctx, it.msg, it.ev.ID(), it.delivered, err)
		}
		return
	}
	c.warn.OK("batch transaction")
	// The callers' names the failures' errors may quote, read once for
	// the batch, and only when a message failed.
	// A failure that is PostgreSQL unreachable skips the read: it would
	// fail too.
	var names [][]string
	if i := slices.IndexFunc(out, func(o outcome) bool { return !o.ok }); i >= 0 {
		msgs := make([]jetstream.Msg, len(items))
		for i, it := range items {
			msgs[i] = it.msg
		}
		var cause error
		for _, o := range out[i:] {
			if !o.ok && pgUnreachable(o.err) {
				cause = o.err
				break
			}
		}
		names = c.callerNames(ctx, msgs, cause)
	}
	for i, it := range items {
		switch {
		case out[i].ok:
			if out[i].dup {
				consumed.WithLabelValues(c.spec.Durable, "duplicate").Inc()
			} else {
				consumed.WithLabelValues(c.spec.Durable, "ok").Inc()
			}
			_ = it.msg.Ack()
		case fault.KindOf(out[i].err) == fault.Invalid:
			c.deadLetterNamed(ctx, it.msg, it.delivered, it.ev.ID(), out[i].err.Error(), out[i].err, names[i])
		default:
			c.log.Warn("handler", zap.String("event_id", it.ev.ID()), zap.Uint64("delivered", it.delivered), logging.Error(out[i].err, names[i]...))
			c.retryOrDeadLetterNamed(ctx, it.msg, it.ev.ID(), it.delivered, out[i].err, names[i])
		}
	}
}

// looseEventID is the event id of a message that does not decode as its
// event: its event_id field if it has one, else its Nats-Msg-Id (the relay
// publishes an event under its id). A dead letter keeps it, so that the
// sweeper counts the event as dealt with and does not send it again.
func looseEventID(m jetstream.Msg) string {
	var v struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(m.Data(), &v) == nil && v.EventID != "" {
		return v.EventID
	}
	if id := m.Headers().Get(EventIDHeader); id != "" {
		return id
	}
	if id := m.Headers().Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "dead-letter-retry:") {
		return id
	}
	return ""
}

// errSchema marks an event that is JSON but not valid under the
// consumer's schema.
var errSchema = errors.New("schema")

// EventIDHeader carries the event id of a dead letter sent again
// (outbox.Redrive): a payload that is still no event is dead-lettered
// again under it.
const EventIDHeader = "Nuisance-Event-Id"

func (c *Consumer[T]) decode(data []byte) (T, error) {
	var ev T
	if c.schema != nil {
		doc, err := jsonschema.UnmarshalJSON(bytesReader(data))
		if err != nil {
			return ev, fmt.Errorf("not JSON: %w", err)
		}
		if fe := schemas.ValidateValue(c.schema, doc); fe != nil {
			return ev, fmt.Errorf("%w %s: %s %s", errSchema, c.spec.Schema, fe[0].Field, fe[0].Detail)
		}
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("decode: %w", err)
	}
	if ev.ID() == "" {
		return ev, errors.New("event has no event_id")
	}
	return ev, nil
}

func (c *Consumer[T]) retryOrDeadLetter(ctx context.Context, m jetstream.Msg, eventID string, delivered uint64, cause error) {
	c.retryOrDeadLetterNamed(ctx, m, eventID, delivered, cause, nil)
}

// retryOrDeadLetterNamed is retryOrDeadLetter for a message whose
// callers' names are known (callerNames): nil, they are read when it is
// dead-lettered.
func (c *Consumer[T]) retryOrDeadLetterNamed(ctx context.Context, m jetstream.Msg, eventID string, delivered uint64, cause error, names []string) {
	if delivered >= uint64(c.spec.MaxDeliver) {
		c.deadLetterNamed(ctx, m, delivered, eventID, "max deliveries reached: "+cause.Error(), cause, names)
		return
	}
	consumed.WithLabelValues(c.spec.Durable, "retry").Inc()
	if ctx.Err() != nil {
		_ = m.Nak()
		return
	}
	_ = m.NakWithDelay(Backoff(delivered))
}

// recordCopySQL records the copy of the dead letter ($1, $2) the DLQ
// stream created at $4 acknowledged with sequence $3, beside the copies
// recorded before: a message dead-lettered again past the stream's
// duplicate window (its termination lost) is copied again, under a
// sequence of its own, and the retention job deletes every copy. The
// same sequence again is the same copy (a publication deduplicated), or,
// on a stream declared since, a new copy where the old one went with its
// stream.
const recordCopySQL = `INSERT INTO dead_letter_copies (dead_letter_id, seq, stream_created)
SELECT id, $3, $4 FROM dead_letters WHERE consumer = $1 AND msg_id = $2
ON CONFLICT (dead_letter_id, seq) DO UPDATE SET stream_created = EXCLUDED.stream_created, created_at = now()
WHERE dead_letter_copies.stream_created IS DISTINCT FROM EXCLUDED.stream_created`

// deadLetter keeps the original with its reason in PostgreSQL and on the
// DLQ stream (every copy's sequence recorded in dead_letter_copies, for
// the retention job to delete it by), then terminates the message so it is never
// redelivered. It is counted as a dead letter only once stored: one the
// database refused comes back, and the operator's `nuisance deadletters
// list` would not show it.
//
// The reason is an error's text, and errors quote the value they failed
// on, a caller's phone or name among them. PostgreSQL's row keeps it
// whole, for the operator, until the retention job masks it with the
// callers' other data; the log line, the DLQ copy's Nuisance-Reason
// header and the reason NATS keeps for the termination carry it masked
// (pii.MaskError: phone and ID-card numbers, and the callers' names of
// the message and its complaint, callerNames), the kind of error and the
// event and message ids readable.
func (c *Consumer[T]) deadLetter(ctx context.Context, m jetstream.Msg, delivered uint64, eventID string, cause error) {
	c.deadLetterNamed(ctx, m, delivered, eventID, cause.Error(), cause, nil)
}

// deadLetterNamed is deadLetter for a message whose callers' names are
// known: nil, they are read here (callerNames, of the error cause the
// reason is made of).
func (c *Consumer[T]) deadLetterNamed(ctx context.Context, m jetstream.Msg, delivered uint64, eventID, reason string, cause error, names []string) {
	msgID := streamMsgID(m)
	// The batch's own context may be spent (its deadline is what failed
	// it): the dead letter is written under a context of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if names == nil {
		names = c.callerNames(ctx, []jetstream.Msg{m}, cause)[0]
	}
	masked := pii.MaskError(reason, names...)
	_, err := c.pool.Exec(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7) ON CONFLICT (consumer, msg_id) DO NOTHING`,
		c.spec.Durable, m.Subject(), eventID, msgID, int(delivered), reason, m.Data())
	if err != nil {
		// Not stored: leave it to redelivery rather than lose it.
		c.warn.Error("store dead letter; left for redelivery", zap.String("msg_id", msgID), zap.String("event_id", eventID), logging.Error(err, names...))
		consumed.WithLabelValues(c.spec.Durable, "retry").Inc()
		_ = m.NakWithDelay(Backoff(delivered))
		return
	}
	c.warn.OK("store dead letter; left for redelivery")
	consumed.WithLabelValues(c.spec.Durable, "dead_letter").Inc()
	dl := nats.NewMsg("dlq." + c.spec.Durable)
	dl.Data = m.Data()
	dl.Header.Set("Nuisance-Reason", truncate(masked, 500))
	dl.Header.Set("Nuisance-Subject", m.Subject())
	dl.Header.Set(jetstream.MsgIDHeader, "dlq:"+c.spec.Durable+":"+msgID)
	// The stream the copy goes to, looked up before it is published: a
	// stream declared again (NATS lost its data) numbers its messages
	// from 1 again, and the sequence is recorded with the creation of
	// the stream it was given by, so that the retention job never
	// deletes another dead letter's copy by it. A copy whose stream is
	// not known is left to the stream's MaxAge.
	var created time.Time
	if st, err := c.js.Stream(ctx, StreamFor(dl.Subject)); err == nil {
		created = st.CachedInfo().Created
	}
	if ack, err := c.js.PublishMsg(ctx, dl); err != nil {
		c.log.Warn("publish dead letter", zap.String("msg_id", msgID), logging.Error(err))
	} else if created.IsZero() || ack.Stream != StreamFor(dl.Subject) {
		c.log.Warn("record the dead letter's DLQ sequence: its stream is not known", zap.String("msg_id", msgID), zap.String("stream", ack.Stream))
	} else if _, err := c.pool.Exec(ctx, recordCopySQL, c.spec.Durable, msgID, int64(ack.Sequence), created); err != nil {
		// The copy then expires with the stream's MaxAge rather than
		// when the retention job erases the dead letter.
		c.log.Warn("record the dead letter's DLQ sequence", zap.String("msg_id", msgID), logging.Error(err))
	}
	c.log.Warn("dead-lettered", zap.String("msg_id", msgID), zap.String("event_id", eventID), zap.Uint64("delivered", delivered), zap.String("reason", truncate(masked, 200)))
	_ = m.TermWithReason(truncate(masked, 100))
}

// streamMsgID names a message by its place in its stream (COMPLAINTS:42),
// as its dead letter keeps it; without metadata, by its subject.
func streamMsgID(m jetstream.Msg) string {
	if md, err := m.Metadata(); err == nil {
		return md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return m.Subject()
}

// truncate is s cut to at most n bytes, at a character's boundary: a
// reason is often Chinese, and a header or a log line with half a
// character is no valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// callerNamesSQL reads the callers' names the complaints $1 hold.
const callerNamesSQL = `SELECT id, caller_name FROM complaints WHERE id = ANY($1) AND caller_name IS NOT NULL`

// namesTimeout bounds a read of the callers' names, and namesPause is how
// long after one failed none is tried: PostgreSQL unreachable is when
// messages fail, and a read waiting on it at each failing batch and each
// message that does not decode would hold the handling of the failures
// back.
const (
	namesTimeout = 200 * time.Millisecond
	namesPause   = 5 * time.Second
)

// pgUnreachable reports whether err is PostgreSQL unreachable: a
// connection that could not be made, or a statement that never reached
// the server (pgconn.SafeToRetry).
func pgUnreachable(err error) bool {
	var ce *pgconn.ConnectError
	return err != nil && (errors.As(err, &ce) || pgconn.SafeToRetry(err))
}

// callerNames returns, for each of msgs, the callers' names an error about
// it may quote: those its payload carries in a caller field
// (pii.PayloadNames), and the one its complaint (complaint_id) holds in
// PostgreSQL, where an event, which carries none, leaves it. It is read
// only for messages that failed, in one statement of at most
// namesTimeout; a read that fails leaves the complaints' out, and the
// phone numbers are masked all the same. The read is skipped, the
// complaints' names left out, while PostgreSQL is known unreachable: the
// failure, cause, is a connection to it that failed, or a read failed
// less than namesPause ago (nuisance_consumer_caller_name_lookups_total
// counts the reads by outcome).
func (c *Consumer[T]) callerNames(ctx context.Context, msgs []jetstream.Msg, cause error) [][]string {
	names := make([][]string, len(msgs))
	if len(msgs) == 0 {
		return names
	}
	complaint := make([]string, len(msgs))
	var ids []string
	for i, m := range msgs {
		names[i] = pii.PayloadNames(m.Data())
		var v struct {
			ComplaintID string `json:"complaint_id"`
		}
		if json.Unmarshal(m.Data(), &v) == nil && v.ComplaintID != "" {
			complaint[i] = v.ComplaintID
			ids = append(ids, v.ComplaintID)
		}
	}
	if len(ids) == 0 || c.pool == nil {
		return names
	}
	if failed := c.namesFailed.Load(); pgUnreachable(cause) || failed != 0 && time.Since(time.Unix(0, failed)) < namesPause {
		nameLookups.WithLabelValues(c.spec.Durable, "skipped").Inc()
		return names
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), namesTimeout)
	defer cancel()
	held := map[string]string{}
	rows, err := c.pool.Query(qctx, callerNamesSQL, ids)
	if err == nil {
		for rows.Next() {
			var id, name string
			if rows.Scan(&id, &name) == nil {
				held[id] = name
			}
		}
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		c.namesFailed.Store(time.Now().UnixNano())
		nameLookups.WithLabelValues(c.spec.Durable, "failed").Inc()
		return names
	}
	nameLookups.WithLabelValues(c.spec.Durable, "read").Inc()
	for i, id := range complaint {
		if name := held[id]; name != "" {
			names[i] = append(names[i], name)
		}
	}
	return names
}
