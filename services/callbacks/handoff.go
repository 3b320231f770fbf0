package callbacks

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// handed is a delivery claimed as it was stored, leased to this instance
// until until.
type handed struct {
	d     Delivery
	until time.Time
}

// recordLinger is how long the recorder waits for more results before it
// writes a set: one statement for a few dozen results, not one for each.
const recordLinger = 100 * time.Millisecond

// outcome is a handed delivery's result, for the recorder.
type outcome struct {
	d   Delivery
	err error
}

// hand gives the deliveries claimed in a committed transaction to the
// workers. One that finds no room stays claimed until its lease ends, and
// DeliverOnce sends it then.
func (s *Service) hand(claimed []handed) {
	for _, h := range claimed {
		select {
		case s.handoff <- h:
		default:
			s.log.Warn("callback waits for its lease to end: the deliverers are full", zap.String("callback_id", h.d.ID))
		}
	}
}

// handoffLoop POSTs the handed deliveries with Workers workers and
// records their results in sets, until ctx ends.
func (s *Service) handoffLoop(ctx context.Context) error {
	results := make(chan outcome, cap(s.handoff))
	done := make(chan struct{})
	for range s.cfg.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			// A stopping service takes no more: what waits is given back.
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
					return
				case h := <-s.handoff:
					// The POST ends before the lease does, so its result is
					// recorded before another instance may claim it again;
					// one whose lease is nearly over is left to that.
					left := h.until.Sub(s.cfg.Now()) - s.cfg.Lease/10
					if left <= 0 {
						continue
					}
					pctx, cancel := context.WithTimeout(ctx, left)
					err := s.post(pctx, h.d)
					cancel()
					results <- outcome{d: h.d, err: err}
				}
			}
		}()
	}
	go func() {
		for range s.cfg.Workers {
			<-done
		}
		close(results)
	}()
	s.recordLoop(ctx, results)
	s.release(context.WithoutCancel(ctx))
	return nil
}

// release gives back, at shutdown, the handed deliveries no worker took:
// due now and not counted as attempted, so that the next instance to look
// sends them at once instead of after their lease.
func (s *Service) release(ctx context.Context) {
	var ids []string
	var tries []int32
	var leases []time.Time
drain:
	for {
		select {
		case h := <-s.handoff:
			ids, tries, leases = append(ids, h.d.ID), append(tries, int32(h.d.Attempts)), append(leases, h.d.NextAt)
		default:
			break drain
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Only what is still under this instance's lease: one another claim
	// has taken (the lease ran out) is being posted by another instance.
	// Matched by the primary key, as recordResults.
	if _, err := s.pool.Exec(ctx, `UPDATE callbacks c SET next_at = now(), attempts = c.attempts - 1
		FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS r(id, attempts, leased_until)
		WHERE c.id = r.id AND (c.attempts, c.next_at) IS NOT DISTINCT FROM (r.attempts, r.leased_until)
		  AND num_nulls(c.delivered_at, c.dead_at) = 2 AND c.attempts > 0`, ids, tries, leases); err != nil {
		s.log.Warn("release callbacks at shutdown: they wait for their lease to end", zap.Int("callbacks", len(ids)), logging.Error(err))
	}
}

// recordLoop writes the results as they come, in sets of up to Claim
// with one statement each, until results is closed. The last results are
// written even while shutting down, so a sent callback does not look
// unsent for the rest of its lease. A write that fails (PostgreSQL
// unreachable) fails again at the next set: logged at its first, then at
// most once every 30 s.
func (s *Service) recordLoop(ctx context.Context, results <-chan outcome) {
	warn := logging.NewThrottle(s.log, logging.ThrottleEvery)
	defer warn.Stop()
	var claimed []Delivery
	var errs []error
	flush := func() {
		if len(claimed) == 0 {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := s.record(rctx, claimed, errs); err != nil {
			warn.Warn("record callbacks", zap.Int("callbacks", len(claimed)), logging.Error(err))
		} else {
			warn.OK("record callbacks")
		}
		cancel()
		claimed, errs = claimed[:0], errs[:0]
	}
	for {
		o, ok := <-results
		if !ok {
			flush()
			return
		}
		claimed, errs = append(claimed, o.d), append(errs, o.err)
		// Gather what else comes within recordLinger, or a claim's worth,
		// then write the set.
		linger := time.NewTimer(recordLinger)
	more:
		for len(claimed) < s.cfg.Claim {
			select {
			case o, ok := <-results:
				if !ok {
					break more
				}
				claimed, errs = append(claimed, o.d), append(errs, o.err)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		flush()
	}
}
