package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// dlqStream is the stream the consumers copy their dead letters to.
const dlqStream = "DLQ"

// dlqMaxAge is how long the DLQ stream keeps a copy.
func dlqMaxAge() time.Duration {
	for _, s := range natsx.Streams(1) {
		if s.Name == dlqStream {
			return s.MaxAge
		}
	}
	return 0
}

// pickCopiesSQL reads, in a range of pages, the dead letters written
// before $3 whose copy on the DLQ stream has not been deleted, whether
// the copy may still be there (written within $4, the stream's MaxAge),
// when they were written and when the stream their copy went to was
// created (NULL: not recorded).
const pickCopiesSQL = `SELECT id, dlq_seq, created_at >= now() - $4::interval, created_at, dlq_stream_created FROM dead_letters
WHERE ctid >= $1::tid AND ctid < $2::tid AND dlq_seq IS NOT NULL AND created_at < now() - $3::interval`

// dropCopies deletes, Pages heap pages of dead_letters at a time, the
// copies on the DLQ stream of the dead letters written more than PII ago,
// and answers how many it deleted. A copy holds the payload as the stage
// gave up on it and its reason (a header), callers included, and the
// stream keeps it 30 days, longer than a shorter PII: the payload
// erased in PostgreSQL would stay whole there. The copy is deleted by
// the sequence its publication was acknowledged with (dlq_seq), its
// bytes overwritten (SecureDeleteMsg): the job's NATS user may delete
// from the stream and not read it. One gone already (the stream's
// MaxAge, an operator) counts as done; one past the MaxAge is not asked
// for. A stream declared again since the copy was published (NATS lost
// its data, an operator deleted it) numbers its messages from 1 again:
// the sequence is asked for only on the stream it was recorded for
// (dlq_stream_created, or, not recorded, a stream created before the
// dead letter was written), where another dead letter's copy may hold
// it now, and the copy counts as gone with its stream. dlq_seq is
// cleared once its copy is gone; a copy NATS would not delete keeps it,
// and the next pass tries again.
func (j *Job) dropCopies(ctx context.Context, c querier) (int64, error) {
	n, err := pages(ctx, c, "dead_letters")
	if err != nil {
		return 0, err
	}
	ret, maxAge := interval(j.cfg.PII), interval(dlqMaxAge())
	var stream jetstream.Stream
	var total int64
	for p := int64(0); p < n; p += int64(j.cfg.Pages) {
		rows, err := c.Query(ctx, pickCopiesSQL, tid(p), tid(p+int64(j.cfg.Pages)), ret, maxAge)
		if err != nil {
			return total, fmt.Errorf("delete DLQ copies: %w", err)
		}
		type copyOf struct {
			id, seq int64
			live    bool
			written time.Time
			stream  *time.Time
		}
		var picked []copyOf
		for rows.Next() {
			var k copyOf
			if err := rows.Scan(&k.id, &k.seq, &k.live, &k.written, &k.stream); err != nil {
				rows.Close()
				return total, fmt.Errorf("delete DLQ copies: %w", err)
			}
			picked = append(picked, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("delete DLQ copies: %w", err)
		}
		var done []int64
		var failed error
		for _, k := range picked {
			if k.live {
				if stream == nil {
					if stream, failed = j.cfg.DLQ.Stream(ctx, dlqStream); failed != nil {
						break
					}
				}
				if !sameStream(k.written, k.stream, stream.CachedInfo().Created) {
					done = append(done, k.id)
					continue
				}
				err := stream.SecureDeleteMsg(ctx, uint64(k.seq))
				if err != nil && !gone(err) {
					failed = err
					break
				}
				if err == nil {
					total++
					dlqDeleted.Inc()
				}
			}
			done = append(done, k.id)
		}
		if len(done) > 0 {
			if _, err := c.Exec(ctx, `UPDATE dead_letters SET dlq_seq = NULL WHERE id = ANY($1)`, done); err != nil {
				return total, fmt.Errorf("delete DLQ copies: %w", err)
			}
		}
		if failed != nil {
			return total, fmt.Errorf("delete DLQ copies: %w", failed)
		}
	}
	return total, nil
}

// sameStream says whether the DLQ stream created at created is the one
// a dead letter written at written put its copy on, that stream's
// creation recorded as stream (nil: not recorded). PostgreSQL keeps
// microseconds, NATS nanoseconds.
func sameStream(written time.Time, stream *time.Time, created time.Time) bool {
	if stream == nil {
		return !created.After(written)
	}
	d := stream.Sub(created)
	return d < time.Millisecond && d > -time.Millisecond
}

// gone says whether err, a delete's, says the message is no longer on
// the stream: JetStream answers sequence not found (10043) or message
// not found (10037), which the client renders into the text of
// ErrMsgDeleteUnsuccessful rather than wrapping its APIError.
func gone(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	s := err.Error()
	return errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) &&
		(strings.Contains(s, "err_code=10043") || strings.Contains(s, "err_code=10037"))
}
