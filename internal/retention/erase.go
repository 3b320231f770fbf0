package retention

import (
	"context"
	"fmt"
	"strings"
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

// dueJoins joins, for the complaint {id}, d.due when its case ended (ended)
// and w.due when it has waited on the triage list, in no case, since
// longer ago than $1: nobody could place, classify or route it, and it is
// as stale as a case that ended then. A supervisor may still correct it
// and open its case; the hotline, which keeps its own record of the
// caller, can call the citizen back. An entry corrected (resolved) is
// back in the pipeline and keeps its caller, as does a complaint on
// triage whose case no team would take (unrouted, the case still open).
// It joins s.due when the complaint stopped on a dead letter longer ago
// than $1, in no case and on no list: a stage gave up on one of its
// events (<complaint id>.received, .located.c1, ...; the range of ids
// that begin so, through dead_letters_event_prefix), and nothing moves
// it on until an operator sends the dead letter again. Sent again within
// $1, or handled since (the complaint moved on), the dead letter is no
// stop. A complaint on the list is the list's (w), as is one a
// supervisor corrected within $1, back in the pipeline; one on its way
// has no dead letter; one in a case is its case's, whatever a stage off
// its path gave up on.
// It joins o.due when the complaint is in no case, has no triage entry
// but one corrected longer ago than $5, no dead letter of any of its
// events but ones handled since (their consumer's record of the event,
// kept while the dead letter is, see pruneProcessedSQL), written and
// last sent again longer ago than $5 with no retry waiting to be sent,
// and the outbox holds none of the events that carry it to a case or
// the list (<id>.received, .located, .clustered: the geocoder writes the
// triage entry with .unlocated; and of each correction n,
// <id>.triage.corrected.<n> and the <id>.located.c<k> and
// <id>.clustered.c<k> that follow an applied one, k never more than n):
// its event was lost, published and never handled, or it is still on
// its way. What tells the two apart is the outbox: it keeps a sent event
// 14 days after it was last sent, its sweeper publishing it again
// meanwhile to a consumer with no record of it, and JetStream keeps a
// message 7 days after it was last published; once the outbox holds
// none of these events, nothing can bring them back, and the complaint
// was lost. An event the relay has not sent, or sent lately, is still in
// the outbox, and its complaint keeps its caller, however old. A
// corrected entry is back in the pipeline as a complaint never triaged
// is, carried by its correction's events (and reopened if the router
// cannot route it again); a handled dead letter's event was taken, and
// what its handling sent on is in the outbox as any other event. The age
// (stored, corrected, and a handled dead letter written and sent again,
// longer ago than both $1 and the idempotency window, see lost) is a
// margin on top of that, not what makes it safe. The outbox is probed by
// event id (outbox_event_id_key), which serves equality under any
// collation; a complaint's corrections are read by its key
// (triage_corrections_pkey).
// Each is looked up for the complaint alone (LATERAL ... LIMIT 1): as an
// EXISTS, the planner hashes every case that ended, for each batch.
const dueJoins = `LEFT JOIN LATERAL (SELECT true AS due FROM case_complaints cc JOIN cases k ON k.id = cc.case_id
	WHERE cc.complaint_id = {id} AND ` + ended + ` LIMIT 1) d ON true
LEFT JOIN LATERAL (SELECT true AS due FROM triage t WHERE t.complaint_id = {id} AND t.resolved_at IS NULL
	AND t.created_at < now() - $1::interval
	AND NOT EXISTS (SELECT FROM case_complaints cc WHERE cc.complaint_id = {id}) LIMIT 1) w ON true
LEFT JOIN LATERAL (SELECT true AS due FROM dead_letters dl
	WHERE dl.event_id ~>=~ ({id} || '.') AND dl.event_id ~<~ ({id} || '/')
	AND GREATEST(dl.created_at, dl.retry_requested_at, dl.retried_at) < now() - $1::interval
	AND NOT EXISTS (SELECT FROM processed_events p WHERE p.consumer = dl.consumer AND p.event_id = dl.event_id)
	AND NOT EXISTS (SELECT FROM case_complaints cc WHERE cc.complaint_id = {id})
	AND NOT EXISTS (SELECT FROM triage t WHERE t.complaint_id = {id} AND (t.resolved_at IS NULL OR t.resolved_at >= now() - $1::interval))
	LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT true AS due
	WHERE NOT EXISTS (SELECT FROM case_complaints cc WHERE cc.complaint_id = {id})
	AND NOT EXISTS (SELECT FROM triage t WHERE t.complaint_id = {id} AND (t.resolved_at IS NULL OR t.resolved_at >= now() - $5::interval))
	AND NOT EXISTS (SELECT FROM dead_letters dl WHERE dl.event_id ~>=~ ({id} || '.') AND dl.event_id ~<~ ({id} || '/')
		AND NOT (EXISTS (SELECT FROM processed_events p WHERE p.consumer = dl.consumer AND p.event_id = dl.event_id)
			AND GREATEST(dl.created_at, dl.retry_requested_at, dl.retried_at) < now() - $5::interval
			AND (dl.retry_requested_at IS NULL OR dl.retried_at IS NOT NULL)))
	AND NOT EXISTS (SELECT FROM outbox ob WHERE ob.event_id IN ({id} || '.received', {id} || '.located', {id} || '.clustered'))
	AND NOT EXISTS (SELECT FROM triage_corrections tc JOIN outbox ob
		ON ob.event_id IN (tc.event_id, {id} || '.located.c' || tc.n, {id} || '.clustered.c' || tc.n) WHERE tc.complaint_id = {id})
	LIMIT 1) o ON true`

// lost holds for the complaint c joined o.due (see dueJoins) when it was
// stored longer ago than $5, the later of the retention period and the
// idempotency window. The erasure's joins cannot read the complaint it
// updates: its age is checked here.
const lost = `(o.due AND c.created_at < now() - $5::interval)`

// due holds for a complaint whose personal data may go.
const due = `c.history OR d.due OR w.due OR s.due OR ` + lost

// pickSQL reads, after the cursor ($2, $3), the next $4 complaints older
// than $1 whose personal data is still held, through complaints_pii_held,
// and says of each whether it is due (see dueJoins); the words, address
// and caller's name only of those. A complaint of an open case, on
// triage for less than $1, stopped on a dead letter for less, or in none
// of them stored within $5 or with an event the outbox holds, keeps its
// data, and the cursor passes it. A work order loaded as history is in
// no case: the hotline closed it before it was stored, so one stored
// longer ago than $1 ended longer ago too.
var pickSQL = `SELECT c.id, c.created_at, COALESCE(` + due + `, false),
	CASE WHEN ` + due + ` THEN c.description END,
	CASE WHEN ` + due + ` THEN c.address END,
	CASE WHEN ` + due + ` THEN c.caller_name END
FROM complaints c
` + strings.ReplaceAll(dueJoins, "{id}", "c.id") + `
WHERE c.pii_erased_at IS NULL AND c.created_at < now() - $1::interval AND (c.created_at, c.id) > ($2, $3)
ORDER BY c.created_at, c.id LIMIT $4`

// eraseSQL erases the callers of the complaints $2 and writes their words
// $3 and addresses $4 where masking changed them (NULL: unchanged),
// checking again that they are due ($1, $5): a resolved case reopened, a
// triage entry corrected, a dead letter sent again, or a lost complaint
// moved on, since the pick keeps its callers. A work order of history has none. Every complaint it sweeps leaves the job's index
// (pii_erased_at), caller or not; caller_erased says whether there was a
// name or a phone to erase, so that the officers are told of an erasure
// only where there was one. It answers how many callers it erased.
var eraseSQL = `WITH e AS (UPDATE complaints c SET caller_name = NULL, caller_phone = NULL,
	caller_erased = c.caller_name IS NOT NULL OR c.caller_phone IS NOT NULL,
	description = COALESCE(u.description, c.description), address = COALESCE(u.address, c.address), pii_erased_at = now()
FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, description, address)
` + strings.ReplaceAll(dueJoins, "{id}", "u.id") + `
WHERE c.id = u.id AND c.pii_erased_at IS NULL AND (` + due + `)
RETURNING c.caller_erased)
SELECT count(*) FILTER (WHERE caller_erased) FROM e`

// erase erases, Complaints at a time, the callers' names and phones of
// the complaints whose case ended, or that have waited on triage or on a
// dead letter, more than PII ago, or whose event was lost (stored longer
// ago than PII and ProcessedWindow, see dueJoins), and masks the phone
// numbers in their words and address as every output already shows them
// (pii.MaskText), and the caller's name written there as the officers
// are shown a caller's name (pii.MaskNames, 王**): the citizen often
// writes the number and the name to call back (联系人：王小明).
// The rest of the complaint stays, for the reports and the status
// look-up.
func (j *Job) erase(ctx context.Context, c querier) (int64, error) {
	ret := interval(j.cfg.PII)
	lostAfter := interval(max(j.cfg.PII, ProcessedWindow()))
	var total int64
	var at time.Time
	id := ""
	for {
		rows, err := c.Query(ctx, pickSQL, ret, at, id, j.cfg.Complaints, lostAfter)
		if err != nil {
			return total, fmt.Errorf("erase personal data: %w", err)
		}
		var ids, descs, addrs []*string
		n := 0
		for rows.Next() {
			var due bool
			var desc, addr, name *string
			if err := rows.Scan(&id, &at, &due, &desc, &addr, &name); err != nil {
				rows.Close()
				return total, fmt.Errorf("erase personal data: %w", err)
			}
			n++
			if !due {
				continue
			}
			cid := id
			ids = append(ids, &cid)
			descs = append(descs, masked(desc, name))
			addrs = append(addrs, masked(addr, name))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("erase personal data: %w", err)
		}
		if len(ids) > 0 {
			var callers int64
			if err := c.QueryRow(ctx, eraseSQL, ret, ids, descs, addrs, lostAfter).Scan(&callers); err != nil {
				return total, fmt.Errorf("erase personal data: %w", err)
			}
			total += callers
			erased.Add(float64(callers))
		}
		if n < j.cfg.Complaints {
			return total, nil
		}
	}
}

// masked is s with its phone numbers and the name masked, or nil when it
// has none.
func masked(s, name *string) *string {
	if s == nil {
		return nil
	}
	m := *s
	if name != nil {
		m = pii.MaskNames(m, *name)
	}
	m = pii.MaskText(m)
	if m == *s {
		return nil
	}
	return &m
}
