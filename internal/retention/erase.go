package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// querier is the connection a pass runs on.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ended holds for the case k of a complaint whose personal data may go:
// closed (办结, final) or resolved, longer ago than $1. A resolved case
// can still be reopened within the router's reopen window (30 days); a
// retention shorter than that may leave a reopened case without its
// callers' numbers.
const ended = `((k.status = 'closed' AND k.closed_at < now() - $1::interval)
	OR (k.status = 'resolved' AND k.resolved_at < now() - $1::interval))`

// pickSQL reads, after the cursor ($2, $3), the next $4 complaints older
// than $1 whose personal data is still held, through complaints_pii_held,
// and says of each whether its case ended long enough ago; the words
// and address only of those. A complaint of an open case, or of none
// (triage), keeps its data, and the cursor passes it. A work order loaded
// as history is in no case: the hotline closed it before it was stored,
// so one stored longer ago than $1 ended longer ago too. The case is looked
// up for each complaint read (LATERAL ... LIMIT 1): as an EXISTS, the
// planner hashes every case that ended, for each batch.
const pickSQL = `SELECT c.id, c.created_at, c.history OR d.due IS NOT NULL, CASE WHEN c.history OR d.due THEN c.description END,
	CASE WHEN c.history OR d.due THEN c.address END
FROM complaints c
LEFT JOIN LATERAL (SELECT true AS due FROM case_complaints cc JOIN cases k ON k.id = cc.case_id
	WHERE cc.complaint_id = c.id AND ` + ended + ` LIMIT 1) d ON true
WHERE c.pii_erased_at IS NULL AND c.created_at < now() - $1::interval AND (c.created_at, c.id) > ($2, $3)
ORDER BY c.created_at, c.id LIMIT $4`

// eraseSQL erases the callers of the complaints $2 and writes their words
// $3 and addresses $4 where masking changed them (NULL: unchanged),
// checking again that their cases ended ($1): a resolved case reopened
// since the pick keeps its callers. A work order of history has none.
const eraseSQL = `UPDATE complaints c SET caller_name = NULL, caller_phone = NULL,
	description = COALESCE(u.description, c.description), address = COALESCE(u.address, c.address), pii_erased_at = now()
FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, description, address)
LEFT JOIN LATERAL (SELECT true AS due FROM case_complaints cc JOIN cases k ON k.id = cc.case_id
	WHERE cc.complaint_id = u.id AND ` + ended + ` LIMIT 1) d ON true
WHERE c.id = u.id AND c.pii_erased_at IS NULL AND (c.history OR d.due)`

// erase erases, Complaints at a time, the callers' names and phones of
// the complaints whose case ended more than PII ago, and masks the phone
// numbers in their words and address as every output already shows
// them (pii.MaskText): the citizen's own number is often written there.
// The rest of the complaint stays, for the reports and the status
// look-up.
func (j *Job) erase(ctx context.Context, c querier) (int64, error) {
	ret := interval(j.cfg.PII)
	var total int64
	var at time.Time
	id := ""
	for {
		rows, err := c.Query(ctx, pickSQL, ret, at, id, j.cfg.Complaints)
		if err != nil {
			return total, fmt.Errorf("erase personal data: %w", err)
		}
		var ids, descs, addrs []*string
		n := 0
		for rows.Next() {
			var due bool
			var desc, addr *string
			if err := rows.Scan(&id, &at, &due, &desc, &addr); err != nil {
				rows.Close()
				return total, fmt.Errorf("erase personal data: %w", err)
			}
			n++
			if !due {
				continue
			}
			cid := id
			ids = append(ids, &cid)
			descs = append(descs, masked(desc))
			addrs = append(addrs, masked(addr))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("erase personal data: %w", err)
		}
		if len(ids) > 0 {
			tag, err := c.Exec(ctx, eraseSQL, ret, ids, descs, addrs)
			if err != nil {
				return total, fmt.Errorf("erase personal data: %w", err)
			}
			total += tag.RowsAffected()
			erased.Add(float64(tag.RowsAffected()))
		}
		if n < j.cfg.Complaints {
			return total, nil
		}
	}
}

// masked is s with its phone numbers masked, or nil when it has none.
func masked(s *string) *string {
	if s == nil {
		return nil
	}
	m := pii.MaskText(*s)
	if m == *s {
		return nil
	}
	return &m
}
