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

// pickCopiesSQL reads, in a range of pages of dead_letter_copies, the
// copies on the DLQ stream not yet deleted of the dead letters written
// before $3: each one's dead letter and sequence, whether it may still
// be there (recorded within $4, the stream's MaxAge), when it was
// recorded and when the stream it went to was created (NULL: not
// recorded).
const pickCopiesSQL = `SELECT k.dead_letter_id, k.seq, k.created_at >= now() - $4::interval, k.created_at, k.stream_created
FROM dead_letter_copies k JOIN dead_letters d ON d.id = k.dead_letter_id
WHERE k.ctid >= $1::tid AND k.ctid < $2::tid AND d.created_at < now() - $3::interval`

// dropCopiesSQL forgets the copies ($1, $2: dead letter, sequence)
// deleted or gone.
const dropCopiesSQL = `DELETE FROM dead_letter_copies k USING unnest($1::bigint[], $2::bigint[]) AS u(id, seq)
WHERE k.dead_letter_id = u.id AND k.seq = u.seq`

// copyError is NATS's failure to delete a copy: the erasure in
// PostgreSQL is done, and the next pass tries again. PostgreSQL's
// failures in the same step are not copyErrors: they fail the pass, as
// in any other step.
type copyError struct{ err error }

func (e copyError) Error() string { return e.err.Error() }
func (e copyError) Unwrap() error { return e.err }

// dropCopies deletes, Pages heap pages of dead_letter_copies at a time,
// the copies on the DLQ stream of the dead letters written more than PII
// ago, and answers how many it deleted. A copy holds the payload as the
// stage gave up on it and its reason (a header), callers included, and
// the stream keeps it 30 days, longer than a shorter PII: the payload
// erased in PostgreSQL would stay whole there. A dead letter has one
// copy, or more when its message was dead-lettered again past the
// stream's duplicate window, and a copy published after the dead letter
// was erased goes at the next pass. Each is deleted by the sequence its
// publication was acknowledged with, its bytes overwritten
// (SecureDeleteMsg): the job's NATS user may delete from the stream and
// not read it. One gone already (the stream's MaxAge, an operator)
// counts as done; one past the MaxAge is not asked for. A stream
// declared again since the copy was published (NATS lost its data, an
// operator deleted it) numbers its messages from 1 again: the sequence
// is asked for only on the stream it was recorded for (stream_created,
// or, not recorded, a stream created before the copy was recorded),
// where another dead letter's copy may hold it now, and the copy counts
// as gone with its stream. A copy's row goes once the copy is gone; one
// NATS would not delete stays, and the next pass tries again. NATS's
// failure is a copyError.
func (j *Job) dropCopies(ctx context.Context, c querier) (int64, error) {
	n, err := pages(ctx, c, "dead_letter_copies")
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
			id, seq  int64
			live     bool
			recorded time.Time
			stream   *time.Time
		}
		var picked []copyOf
		for rows.Next() {
			var k copyOf
			if err := rows.Scan(&k.id, &k.seq, &k.live, &k.recorded, &k.stream); err != nil {
				rows.Close()
				return total, fmt.Errorf("delete DLQ copies: %w", err)
			}
			picked = append(picked, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("delete DLQ copies: %w", err)
		}
		var ids, seqs []int64
		var failed error
		for _, k := range picked {
			if k.live {
				if stream == nil {
					if stream, failed = j.cfg.DLQ.Stream(ctx, dlqStream); failed != nil {
						break
					}
				}
				if !sameStream(k.recorded, k.stream, stream.CachedInfo().Created) {
					ids, seqs = append(ids, k.id), append(seqs, k.seq)
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
			ids, seqs = append(ids, k.id), append(seqs, k.seq)
		}
		if len(ids) > 0 {
			if _, err := c.Exec(ctx, dropCopiesSQL, ids, seqs); err != nil {
				return total, fmt.Errorf("delete DLQ copies: %w", err)
			}
		}
		if failed != nil {
			return total, copyError{fmt.Errorf("delete DLQ copies: %w", failed)}
		}
	}
	return total, nil
}

// sameStream says whether the DLQ stream created at created is the one
// a copy recorded at written went to, that stream's creation recorded as
// stream (nil: not recorded). PostgreSQL keeps
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
