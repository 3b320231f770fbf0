package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// Body is what the hotline receives for one work order
// (schemas/hotline.callback.v1.json).
type Body struct {
	TicketID string    `json:"ticket_id"`
	CaseID   string    `json:"case_id"`
	Status   string    `json:"status"`
	Team     *string   `json:"team"`
	Note     *string   `json:"note"`
	At       time.Time `json:"at"`
}

// Delivery is one callback as stored, for operators.
type Delivery struct {
	ID          string     `json:"id"`
	Body        Body       `json:"body"`
	Attempts    int        `json:"attempts"`
	NextAt      time.Time  `json:"next_at"`
	RetrySince  time.Time  `json:"retry_since"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	DeadAt      *time.Time `json:"dead_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	// DiscardedAt, DiscardedBy and DiscardReason record an operator's
	// giving up on a dead delivery for good (Discard), or a demo work
	// order's callback never sent (DemoDiscardedBy).
	DiscardedAt   *time.Time `json:"discarded_at,omitempty"`
	DiscardedBy   string     `json:"discarded_by,omitempty"`
	DiscardReason string     `json:"discard_reason,omitempty"`
}

// DeliverOnce claims the due deliveries (at most Claim), POSTs them and
// records their results with one statement; it reports how many it
// claimed. A work order's callbacks go out in order: one waits while an
// earlier one for the same ticket is still undelivered (and not dead).
// With no URL it does nothing.
func (s *Service) DeliverOnce(ctx context.Context) (int, error) {
	if s.cfg.URL == "" {
		return 0, nil
	}
	now := s.cfg.Now().UTC()
	if s.paused(now) > 0 {
		return 0, nil // the hotline asked us to wait (Retry-After)
	}
	// The claimed set's POSTs end before its lease does, so that its
	// results are recorded before another instance may claim it again;
	// a result that comes later all the same (a stall) is not recorded
	// over another's claim.
	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.Lease-s.cfg.Lease/10)
	defer cancel()
	rows, err := s.pool.Query(ctx, claimDue, s.cfg.Lease.Microseconds(), s.cfg.Claim)
	if err != nil {
		return 0, fmt.Errorf("claim callbacks: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.Body.TicketID, &d.Body.CaseID, &d.Body.Status, &d.Body.Team, &d.Body.Note, &d.Body.At, &d.Attempts, &d.RetrySince, &d.NextAt)
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("claim callbacks: %w", err)
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	results := make([]error, len(claimed))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, len(claimed)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = s.post(sendCtx, claimed[i])
			}
		}()
	}
	for i := range claimed {
		work <- i
	}
	close(work)
	wg.Wait()
	// The results are recorded even when ctx ends, so that a shutdown
	// never leaves a sent callback looking unsent for longer than its
	// lease.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if err := s.record(rctx, claimed, results); err != nil {
		return len(claimed), err
	}
	return len(claimed), nil
}

// claimDue leases the due deliveries that head their work order's queue:
// undelivered and not dead, and none earlier (callbackOrder) of the same
// ticket undelivered and not dead. A delivery's retry window starts at its first
// attempt, not when it was stored: one that waited behind its work
// order's earlier callbacks has its whole window still. callbacks_due_at finds them in next_at order;
// OFFSET 0 keeps the per-ticket check a probe of callbacks_ticket_seq
// for each candidate, which the planner would otherwise turn into an
// anti join that, on a table grown since its statistics, scans every
// waiting callback for each candidate.
//
// Leases and backoffs are reckoned on the database's clock, the one all
// replicas share: on its own clock, a replica running ahead would find a
// lease of another in force over and send its callback again.
const claimDue = `UPDATE callbacks c SET next_at = now() + $1::bigint * interval '1 microsecond', attempts = c.attempts + 1,
		retry_since = CASE WHEN c.attempts = 0 THEN now() ELSE c.retry_since END
	WHERE c.id IN (
		SELECT x.id FROM callbacks x
		WHERE x.delivered_at IS NULL AND x.dead_at IS NULL AND x.next_at <= now()
		  AND NOT EXISTS (SELECT 1 FROM callbacks o WHERE o.ticket_id = x.ticket_id
		      AND o.delivered_at IS NULL AND o.dead_at IS NULL AND (o.seq, o.at, o.id) < (x.seq, x.at, x.id) OFFSET 0)
		ORDER BY x.next_at LIMIT $2 FOR UPDATE SKIP LOCKED)
	RETURNING c.id, c.ticket_id, c.case_id, c.status, c.team, c.note, c.at, c.attempts, c.retry_since, c.next_at`

// recordResults writes the outcomes of a claimed set, on the database's
// clock, the one that stamped the first attempt (retry_since): a delivered
// row is delivered now; a failed one is dead once its retry window ($7
// microseconds) is over, else due again next_in microseconds from now.
// last_error is the failure's message, or NULL once delivered.
//
// A row is written only under the lease its result was posted under: its
// attempt and the lease's end (next_at) as claimed, neither delivered nor
// dead. Once another claim has taken it (the lease ran out while this
// instance was slow), the other instance is posting it again and its
// result is the one to record: recorded delivered now, this result would
// let the work order's next callback go out beside that POST, and the
// hotline could take the two in the wrong order. It returns each row it
// wrote, with whether it is dead.
//
// The lease is matched through expressions no index serves (IS NOT
// DISTINCT FROM, num_nulls), so that the rows are found by their primary
// key: written as c.next_at = r.leased_until AND c.delivered_at IS NULL
// AND c.dead_at IS NULL, the planner read every waiting callback through
// callbacks_due_at for each batch (a claim's rows share one lease end)
// and hashed them, 8 ms a statement in a burst of 20,000 complaints,
// 134 µs of PostgreSQL a complaint against 16 by the primary key.
const recordResults = `UPDATE callbacks c SET
		delivered_at = CASE WHEN r.ok THEN now() END,
		dead_at = CASE WHEN NOT r.ok AND now() - c.retry_since >= $7::bigint * interval '1 microsecond' THEN now() END,
		next_at = CASE WHEN NOT r.ok AND now() - c.retry_since < $7::bigint * interval '1 microsecond'
			THEN now() + r.next_in * interval '1 microsecond' ELSE c.next_at END,
		last_error = r.last_error
	FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bool[], $5::bigint[], $6::text[])
		AS r(id, attempts, leased_until, ok, next_in, last_error)
	WHERE c.id = r.id AND (c.attempts, c.next_at) IS NOT DISTINCT FROM (r.attempts, r.leased_until)
	  AND num_nulls(c.delivered_at, c.dead_at) = 2
	RETURNING c.id, c.dead_at IS NOT NULL`

// record writes the outcome of each claimed delivery from its POST's
// error, all with one statement: delivered; dead once its retry window is
// over; else due again after a backoff; nothing when its lease has passed
// to another claim (recordResults). The window is the database's to
// judge: on its own clock, a replica running ahead would give callbacks up
// early, one running behind retry them too long. A demo work order's,
// never posted, is discarded instead (recordDemo), with a statement of
// its own.
func (s *Service) record(ctx context.Context, claimed []Delivery, results []error) error {
	claimed, results, err := s.recordDemo(ctx, claimed, results)
	if len(claimed) == 0 {
		return err
	}
	return errors.Join(err, s.recordPosted(ctx, claimed, results))
}

// recordPosted writes the outcomes of the POSTs of record.
func (s *Service) recordPosted(ctx context.Context, claimed []Delivery, results []error) error {
	n := len(claimed)
	ids := make([]string, n)
	tries := make([]int32, n)
	leases := make([]time.Time, n)
	ok := make([]bool, n)
	next := make([]int64, n) // microseconds from the database's now, unless delivered or dead
	lastErr := make([]*string, n)
	now := s.cfg.Now()
	for i, d := range claimed {
		ids[i], tries[i], leases[i] = d.ID, int32(d.Attempts), d.NextAt
		if results[i] == nil {
			ok[i] = true
			continue
		}
		msg := truncate(results[i].Error(), 300)
		lastErr[i] = &msg
		wait := s.backoff(d.Attempts)
		if ra, isRA := errors.AsType[*retryAfterError](results[i]); isRA {
			wait = max(wait, ra.until.Sub(now))
		}
		next[i] = wait.Microseconds()
	}
	rows, err := s.pool.Query(ctx, recordResults, ids, tries, leases, ok, next, lastErr, s.cfg.RetryFor.Microseconds())
	if err != nil {
		return fmt.Errorf("record the results of %d callbacks: %w", n, err)
	}
	dead := make(map[string]bool, n) // of the rows written
	var id string
	var gone bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &gone}, func() error {
		dead[id] = gone
		return nil
	}); err != nil {
		return fmt.Errorf("record the results of %d callbacks: %w", n, err)
	}
	for i, d := range claimed {
		switch isDead, written := dead[d.ID]; {
		case !written:
			attempts.WithLabelValues("lease_lost").Inc()
			s.log.Info("callback result not recorded: its lease passed to another claim, whose result counts",
				zap.String("callback_id", d.ID), zap.Int("attempt", d.Attempts), zap.Bool("posted", ok[i]))
		case ok[i]:
			attempts.WithLabelValues("delivered").Inc()
		case isDead:
			attempts.WithLabelValues("dead").Inc()
			s.log.Warn("callback dead after retrying", zap.String("callback_id", d.ID), zap.Int("attempts", d.Attempts), zap.String("error", *lastErr[i]))
		default:
			attempts.WithLabelValues("failed").Inc()
		}
	}
	return nil
}

// recordDemo discards the claimed callbacks of demo work orders, which
// were not posted (errDemo), and returns the others with their results.
func (s *Service) recordDemo(ctx context.Context, claimed []Delivery, results []error) ([]Delivery, []error, error) {
	if !slices.ContainsFunc(results, func(err error) bool { return err == errDemo }) {
		return claimed, results, nil
	}
	var ids []string
	var tries []int32
	var leases []time.Time
	var keep []Delivery
	var kept []error
	for i, d := range claimed {
		if results[i] == errDemo {
			ids, tries, leases = append(ids, d.ID), append(tries, int32(d.Attempts)), append(leases, d.NextAt)
			continue
		}
		keep, kept = append(keep, d), append(kept, results[i])
	}
	n, err := s.discardClaimedDemo(ctx, ids, tries, leases)
	if err != nil {
		return keep, kept, err
	}
	s.log.Warn("callbacks of demo work orders discarded, not sent to the hotline (nuisance callbacks dead -discarded)",
		zap.Int64("callbacks", n), zap.String("discarded_by", DemoDiscardedBy))
	return keep, kept, nil
}

// backoff is the delay after the n-th failed attempt: BaseBackoff doubled
// n-1 times, capped at MaxBackoff, with up to a fifth of jitter so that
// deliveries that failed together do not retry together.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.BaseBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// post sends one delivery to the hotline, its time in UTC; a demo work
// order's is never sent (errDemo).
func (s *Service) post(ctx context.Context, d Delivery) error {
	if IsDemoTicket(d.Body.TicketID) {
		return errDemo
	}
	d.Body.At = d.Body.At.UTC()
	body, err := json.Marshal(d.Body)
	if err != nil {
		return fmt.Errorf("encode callback: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("callback request: %w", err)
	}
	// One POST at a time per slot; its timeout starts once it has one.
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("post callback: %w", ctx.Err())
	}
	defer func() { <-s.slots }()
	ts := s.cfg.Now()
	if until := s.paused(ts); until > 0 {
		return &retryAfterError{until: ts.Add(until), msg: "not sent: the hotline asked to wait (Retry-After)"}
	}
	sigs := make([]string, len(s.hooks))
	for i, h := range s.hooks {
		sig, err := h.Sign(d.ID, ts, body)
		if err != nil {
			return fmt.Errorf("sign callback: %w", err)
		}
		sigs[i] = sig
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	resp, err := s.http.Do(req)
	if err != nil {
		// The URL may carry the hotline's token: the error (logged, and
		// kept in last_error) leaves it out.
		if uerr, ok := errors.AsType[*url.Error](err); ok {
			err = uerr.Err
		}
		return fmt.Errorf("post callback: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if wait, ok := retryAfter(resp.Header.Get("Retry-After"), ts); ok {
			wait = min(wait, s.cfg.RetryFor) // a bound on a hotline asking for days
			s.pause(ts.Add(wait))
			return &retryAfterError{until: ts.Add(wait), msg: fmt.Sprintf("hotline answered %s, Retry-After %s", resp.Status, wait.Round(time.Second))}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			return fmt.Errorf("hotline answered %s to %s (HOTLINE_CALLBACK_URL should be where it points)", resp.Status, truncate(loc, 200))
		}
		return fmt.Errorf("hotline answered %s", resp.Status)
	}
	return nil
}

// retryAfterError is a POST the hotline asked to be sent again no sooner
// than until (429 or 503 with Retry-After).
type retryAfterError struct {
	until time.Time
	msg   string
}

func (e *retryAfterError) Error() string { return e.msg }

// retryAfter parses a Retry-After header, seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// pause holds every POST of this instance until until.
func (s *Service) pause(until time.Time) {
	for {
		cur := s.pausedUntil.Load()
		if until.UnixNano() <= cur || s.pausedUntil.CompareAndSwap(cur, until.UnixNano()) {
			return
		}
	}
}

// paused is how long from now the hotline asked to be left alone.
func (s *Service) paused(now time.Time) time.Duration {
	return max(time.Duration(s.pausedUntil.Load()-now.UnixNano()), 0)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RetryDead gives dead deliveries (those of ids, or all when ids is empty)
// a new 24-hour retry window starting now; it reports how many it revived.
// A discarded delivery (Discard) is never revived.
// A dead delivery of a work order that the hotline has since been sent a
// later callback of is superseded instead, never sent (it would take the
// work order back); their number is the second result. The operator's CLI
// calls it once the hotline is reachable again.
func RetryDead(ctx context.Context, pool *pgxpool.Pool, ids []string) (revived, superseded int64, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE callbacks c SET superseded_by = l.id
			FROM callbacks x CROSS JOIN LATERAL (`+supersedingSQL("x.ticket_id", "x.seq", "x.at", "x.id")+`) l
			WHERE c.id = x.id AND x.dead_at IS NOT NULL AND x.delivered_at IS NULL AND x.superseded_by IS NULL AND x.discarded_at IS NULL
			  AND (COALESCE(cardinality($1::text[]), 0) = 0 OR x.id = ANY($1))`, ids)
		if err != nil {
			return err
		}
		superseded = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `UPDATE callbacks SET dead_at = NULL, attempts = 0, next_at = now(), retry_since = now()
			WHERE dead_at IS NOT NULL AND delivered_at IS NULL AND superseded_by IS NULL AND discarded_at IS NULL
			  AND (COALESCE(cardinality($1::text[]), 0) = 0 OR id = ANY($1))`, ids)
		revived = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("retry dead callbacks: %w", err)
	}
	return revived, superseded, nil
}

// Dead lists dead deliveries, newest first, at most limit, for operators;
// not those discarded (Discarded).
func Dead(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Delivery, error) {
	return list(ctx, pool, `dead_at IS NOT NULL AND delivered_at IS NULL AND superseded_by IS NULL AND discarded_at IS NULL ORDER BY dead_at DESC`, limit)
}

// Discarded lists the dead deliveries an operator discarded, and the
// callbacks of demo work orders (DiscardDemo), latest discarded first, at
// most limit.
func Discarded(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Delivery, error) {
	return list(ctx, pool, `discarded_at IS NOT NULL ORDER BY discarded_at DESC, id`, limit)
}

// CountDiscarded is how many deliveries were discarded.
func CountDiscarded(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE discarded_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count discarded callbacks: %w", err)
	}
	return n, nil
}

// NotDiscarded is an ID given to Discard that was not discarded, and why:
// unknown, delivered, superseded, or not dead (still being retried).
type NotDiscarded struct {
	ID, Why string
}

// Discard gives up for good on the dead deliveries ids, which the hotline
// will never take (it deleted their work order and answers 404 or 410 to
// every retry): each is kept, marked discarded now by by for reason, and
// is counted (the nuisance_callbacks gauge), listed and retried as dead no
// more. It stays dead, so no queue holds it: its work order's later
// callbacks go out as after any dead one. It is all or nothing: when one
// of ids is not a dead delivery, none is discarded, and those refused are
// returned. One discarded before is left as it was and returned in
// already.
func Discard(ctx context.Context, pool *pgxpool.Pool, ids []string, by, reason string) (discarded int64, already []Delivery, refused []NotDiscarded, err error) {
	if len(ids) == 0 {
		return 0, nil, nil, errors.New("discard callbacks: no ID given")
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, delivered_at IS NOT NULL, dead_at IS NOT NULL, superseded_by IS NOT NULL,
				discarded_at, COALESCE(discarded_by, ''), COALESCE(discard_reason, '')
			FROM callbacks WHERE id = ANY($1) FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		type state struct {
			delivered, dead, superseded bool
			d                           Delivery
		}
		found := map[string]state{}
		var st state
		if _, err := pgx.ForEachRow(rows, []any{&st.d.ID, &st.delivered, &st.dead, &st.superseded, &st.d.DiscardedAt, &st.d.DiscardedBy, &st.d.DiscardReason}, func() error {
			if st.d.DiscardedAt != nil { // its own, not the scan's
				at := *st.d.DiscardedAt
				st.d.DiscardedAt = &at
			}
			found[st.d.ID] = st
			return nil
		}); err != nil {
			return err
		}
		var todo []string
		for _, id := range ids {
			st, ok := found[id]
			switch {
			case !ok:
				refused = append(refused, NotDiscarded{id, "unknown"})
			case st.d.DiscardedAt != nil:
				already = append(already, st.d)
			case st.delivered:
				refused = append(refused, NotDiscarded{id, "delivered"})
			case st.superseded:
				refused = append(refused, NotDiscarded{id, "superseded: never sent, the hotline had a later callback of its work order"})
			case !st.dead:
				refused = append(refused, NotDiscarded{id, "not dead: still being retried"})
			default:
				todo = append(todo, id)
			}
		}
		if len(refused) > 0 || len(todo) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE callbacks SET discarded_at = now(), discarded_by = $2, discard_reason = $3
			WHERE id = ANY($1) AND dead_at IS NOT NULL AND discarded_at IS NULL`, todo, by, reason)
		discarded = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, nil, nil, fmt.Errorf("discard callbacks: %w", err)
	}
	return discarded, already, refused, nil
}

// Pending lists deliveries not yet delivered nor dead, in the order they
// go out (callbackOrder), at most limit: what waits for the hotline, e.g.
// while no URL is set.
func Pending(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Delivery, error) {
	return list(ctx, pool, `dead_at IS NULL AND delivered_at IS NULL ORDER BY seq, at, id`, limit)
}

func list(ctx context.Context, pool *pgxpool.Pool, where string, limit int) ([]Delivery, error) {
	rows, err := pool.Query(ctx, `SELECT id, ticket_id, case_id, status, team, note, at, attempts, next_at, retry_since,
			delivered_at, dead_at, COALESCE(last_error, ''), discarded_at, COALESCE(discarded_by, ''), COALESCE(discard_reason, '')
		FROM callbacks WHERE `+where+` LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.Body.TicketID, &d.Body.CaseID, &d.Body.Status, &d.Body.Team, &d.Body.Note, &d.Body.At,
			&d.Attempts, &d.NextAt, &d.RetrySince, &d.DeliveredAt, &d.DeadAt, &d.LastError, &d.DiscardedAt, &d.DiscardedBy, &d.DiscardReason)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	return out, nil
}
