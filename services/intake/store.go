package intake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pii"
)

var commitSize = promauto.NewHistogram(prometheus.HistogramOpts{
	Name:    "nuisance_intake_commit_size",
	Help:    "Work orders per intake group commit.",
	Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
})

// commitLoop gathers concurrent submissions into shared transactions. On
// shutdown it drains what is queued before returning.
func (s *Service) commitLoop(ctx context.Context) {
	batch := make([]*submission, 0, s.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case sub := <-s.subs:
			batch = append(batch, sub)
		case <-ctx.Done():
			for {
				select {
				case sub := <-s.subs:
					s.commit(context.Background(), []*submission{sub})
				default:
					return
				}
			}
		}
		timer := time.NewTimer(s.cfg.MaxWait)
	gather:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case sub := <-s.subs:
				batch = append(batch, sub)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.commit(context.WithoutCancel(ctx), batch)
	}
}

// insertSQL stores a whole batch in one statement, and so in one implicit
// transaction: the complaints that are new (a ticket or webhook-id seen
// before is skipped, also within the batch) and, for exactly those, their
// complaint.received events, whose payloads go to the json column as
// they are. A ticket is one complaint whether it came as the hotline's or
// as history: the first stored keeps its mark.
const insertSQL = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[], $16::json[],
		$17::bool[])
		AS t(id, ticket_id, webhook_id, received_at, description, category, subcategory, hotline_category, address,
		     loc_lon, loc_lat, loc_crs, caller_name, caller_phone, channel, payload, history)
), ins AS (
	INSERT INTO complaints (id, ticket_id, webhook_id, received_at, description, category, subcategory,
		hotline_category, address, loc_lon, loc_lat, loc_crs, caller_name, caller_phone, channel, history)
	SELECT id, ticket_id, NULLIF(webhook_id, ''), received_at, description, NULLIF(category, ''), NULLIF(subcategory, ''),
		NULLIF(hotline_category, ''), NULLIF(address, ''), loc_lon, loc_lat, loc_crs, NULLIF(caller_name, ''),
		NULLIF(caller_phone, ''), NULLIF(channel, ''), history
	FROM input
	ON CONFLICT DO NOTHING
	RETURNING id
), ob AS (
	INSERT INTO outbox (event_id, subject, payload)
	SELECT input.id || '.received', 'complaint.received', input.payload FROM ins JOIN input USING (id)
)
SELECT id FROM ins`

// conflictSQL finds, for each work order the batch skipped, the complaint
// it conflicted with: the one with its ticket (a duplicate, or a retried
// delivery when the webhook-id is the same too and the contents are those
// stored) before one with only its webhook-id (an id reused for another
// work order). The skipping statement
// waited for the conflicting row's transaction, so this later statement
// sees it.
// It names, by their JSON pointers, the fields of the work order that
// differ from the stored one's (the first stays the record): every field
// the intake stores, each as stored (an empty text as none, no crs as
// gcj02, received_at as the instant). Once the retention job has erased
// the stored caller (pii_erased_at) and masked the phone numbers and the
// caller's name in the words and the address, those are compared with
// this work order's masked as the job masks them (masked_description,
// masked_address), and the caller cannot be compared: the column after
// the fields says so, unless the job found none to erase (caller_erased
// false), and then none is what is compared. The next column tells
// whether the stored complaint is history: the endpoint its first
// delivery came to. The last two are the stored words and address of an
// erased complaint that the masked ones of this work order are not: the
// job masked the stored caller's name in them, which this work order's
// caller need not have, and store compares them again (sameOnceErased).
const conflictSQL = `SELECT k.i, c.id, c.ticket_id, c.ticket_id = k.ticket_id,
	k.webhook_id <> '' AND c.webhook_id IS NOT DISTINCT FROM k.webhook_id,
	array_remove(ARRAY[
		CASE WHEN c.received_at <> k.received_at THEN '/received_at' END,
		CASE WHEN c.description IS DISTINCT FROM CASE WHEN c.pii_erased_at IS NULL THEN k.description ELSE k.masked_description END
			THEN '/description' END,
		CASE WHEN c.category IS DISTINCT FROM NULLIF(k.category, '') THEN '/category' END,
		CASE WHEN c.subcategory IS DISTINCT FROM NULLIF(k.subcategory, '') THEN '/subcategory' END,
		CASE WHEN c.hotline_category IS DISTINCT FROM NULLIF(k.hotline_category, '') THEN '/hotline_category' END,
		CASE WHEN c.address IS DISTINCT FROM NULLIF(CASE WHEN c.pii_erased_at IS NULL THEN k.address ELSE k.masked_address END, '')
			THEN '/address' END,
		CASE WHEN (c.loc_lon IS NULL) <> (k.lon IS NULL) THEN '/location' END,
		CASE WHEN c.loc_lon <> k.lon THEN '/location/lon' END,
		CASE WHEN c.loc_lat <> k.lat THEN '/location/lat' END,
		CASE WHEN c.loc_lon IS NOT NULL AND k.lon IS NOT NULL AND COALESCE(NULLIF(c.loc_crs, ''), 'gcj02') <> k.crs
			THEN '/location/crs' END,
		CASE WHEN c.channel IS DISTINCT FROM NULLIF(k.channel, '') THEN '/channel' END,
		CASE WHEN c.pii_erased_at IS NULL OR c.caller_erased IS FALSE THEN
			CASE WHEN (c.caller_name IS NULL AND c.caller_phone IS NULL) <> (k.caller_name = '' AND k.caller_phone = '') THEN '/caller' END END,
		CASE WHEN c.pii_erased_at IS NULL AND (c.caller_name IS NOT NULL OR c.caller_phone IS NOT NULL) AND (k.caller_name <> '' OR k.caller_phone <> '')
			AND c.caller_name IS DISTINCT FROM NULLIF(k.caller_name, '') THEN '/caller/name' END,
		CASE WHEN c.pii_erased_at IS NULL AND (c.caller_name IS NOT NULL OR c.caller_phone IS NOT NULL) AND (k.caller_name <> '' OR k.caller_phone <> '')
			AND c.caller_phone IS DISTINCT FROM NULLIF(k.caller_phone, '') THEN '/caller/phone' END
	], NULL),
	c.pii_erased_at IS NOT NULL AND c.caller_erased IS NOT FALSE, c.history,
	CASE WHEN c.pii_erased_at IS NOT NULL AND c.description IS DISTINCT FROM k.masked_description THEN c.description END,
	CASE WHEN c.pii_erased_at IS NOT NULL AND c.address IS DISTINCT FROM NULLIF(k.masked_address, '') THEN c.address END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::float8[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
	WITH ORDINALITY AS k(ticket_id, webhook_id, description, address, received_at, lon, lat, crs,
		category, subcategory, hotline_category, channel, caller_name, caller_phone, masked_description, masked_address, i)
CROSS JOIN LATERAL (
	SELECT id, ticket_id, webhook_id, received_at, description, category, subcategory, hotline_category, address,
		loc_lon, loc_lat, loc_crs, channel, caller_name, caller_phone, caller_erased, pii_erased_at, history FROM complaints
	WHERE ticket_id = k.ticket_id OR (k.webhook_id <> '' AND webhook_id = k.webhook_id)
	ORDER BY ticket_id = k.ticket_id DESC LIMIT 1
) c`

// WebhookReusedError is the answer to a work order whose webhook-id was
// the id of another work order's delivery: it is not stored, and the
// hotline is told to deliver it under an id of its own. (Taken for a
// retry, it would be answered as that other work order and lost.)
type WebhookReusedError struct{ OtherTicket string }

func (e WebhookReusedError) Error() string {
	return fmt.Sprintf("webhook-id was used before for work order %s; deliver each work order under a webhook-id of its own (a retry keeps the id of its first delivery)", e.OtherTicket)
}

// OtherEndpointError is the answer to a delivery of a work order (its
// webhook-id and ticket) to the endpoint it was not first delivered to:
// the hotline's POST of one first delivered as history, or the history
// of one first delivered as the hotline's. A delivery is retried on the
// endpoint it was first made to; one sent to the other is no retry, and
// nothing is changed. (Taken for a retry, the hotline's work order
// replayed first as history would be answered accepted, and never be
// handled.) FirstHistory tells where it was first delivered.
type OtherEndpointError struct {
	Ticket       string
	FirstHistory bool
}

func (e OtherEndpointError) Error() string {
	if e.FirstHistory {
		return fmt.Sprintf("webhook-id was first delivered to %s, with work order %s: it is stored as history, closed and not handled (no case is opened for it, and the hotline is not called back about it), and this delivery to %s changes nothing. "+
			"A retry goes to the endpoint of its first delivery; if the hotline is to have this work order handled, tell the bureau's operator, for one stored as history is not",
			hotline.HistoryPath, e.Ticket, hotline.ComplaintsPath)
	}
	return fmt.Sprintf("webhook-id was first delivered to %s, with work order %s: it is stored as the hotline's and handled, and this delivery to %s changes nothing (it is not stored as history). "+
		"A retry goes to the endpoint of its first delivery; backfill history under webhook-ids of its own",
		hotline.ComplaintsPath, e.Ticket, hotline.HistoryPath)
}

// reason is the label under which the intake counts it (otherEndpoint).
func (e OtherEndpointError) reason() string {
	if e.FirstHistory {
		return "delivery_first_history"
	}
	return "delivery_first_live"
}

// otherEndpointDetail is the Detail of a duplicate of a ticket stored by
// the other endpoint, under a webhook-id of its own (history the history
// of the duplicate, stored that of the stored complaint, which stays as
// stored), and the reason it is counted under; "" for one of the same.
func otherEndpointDetail(history, stored bool) (detail, reason string) {
	switch {
	case stored && !history:
		return "a work order with this ticket_id is stored as history, loaded by the bureau's operator as one the hotline closed before this system knew of it: it is closed and not handled (no case is opened for it, and the hotline is not called back about it), and this one changes nothing. " +
			"If the hotline is to have it handled, tell the bureau's operator", "ticket_stored_as_history"
	case !stored && history:
		return "a work order with this ticket_id was delivered by the hotline and is handled as the hotline's: it is not stored as history, and this one changes nothing", "ticket_stored_live"
	}
	return "", ""
}

// commit stores a batch and answers every submission. The insert is one
// statement outside any explicit transaction: pgx reads its result to the
// server's ReadyForQuery, which follows the commit, so no work order is
// answered before it is durable.
func (s *Service) commit(ctx context.Context, batch []*submission) {
	commitSize.Observe(float64(len(batch)))
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	results, err := s.store(ctx, batch)
	if err != nil {
		// The error may quote a value of a work order, its caller's among
		// them: it is logged masked, with the callers' names of the batch.
		var names []string
		for _, sub := range batch {
			if sub.c.Caller != nil {
				names = append(names, sub.c.Caller.Name)
			}
		}
		fields := []zap.Field{zap.Int("batch", len(batch)), logging.Error(err, names...)}
		if len(batch) == 1 {
			// Alone, it is the work order to find: by the hotline's
			// ticket and delivery, never by its caller.
			fields = append(fields, zap.String("ticket_id", batch[0].c.TicketID), zap.String("webhook_id", batch[0].webhookID))
		}
		s.storeLog.Fail(zapcore.ErrorLevel, storeFailure(batch, err), "store complaints", fields...)
		if len(batch) > 1 && !errors.Is(err, context.DeadlineExceeded) {
			// One bad row must not fail its neighbours: retry one by one.
			for _, sub := range batch {
				s.commit(ctx, []*submission{sub})
			}
			return
		}
		for _, sub := range batch {
			sub.done <- result{err: err}
		}
		return
	}
	s.storeLog.OK(storeFailed)
	for i, sub := range batch {
		sub.done <- results[i]
	}
}

// storeFailed is the key of the intake's store failures that are the
// database's, not a work order's (storeFailure).
const storeFailed = "store"

// storeFailure is the key under which a failed commit is logged, at most
// once every 30 seconds a key (logging.Throttle): PostgreSQL unreachable,
// every request of the hotline fails alike, and was logged one line each,
// 909 lines in 100 s. A work order PostgreSQL refuses for what it holds
// (SQLSTATE classes 22, 23, 54: its data, a constraint, a limit) is a key
// of its own, its ticket, so that each such work order is logged with its
// ids as it fails, and the hotline's retries of it are not; the batches
// such work orders fail, retried one by one, share a key.
func storeFailure(batch []*submission, err error) string {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	if !ok || len(pgErr.Code) < 2 {
		return storeFailed
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
	default:
		return storeFailed
	}
	if len(batch) > 1 {
		return "refused batch"
	}
	return "refused " + batch[0].c.TicketID
}

// store writes the batch and gives each submission its answer.
func (s *Service) store(ctx context.Context, batch []*submission) ([]result, error) {
	cols := newColumns(len(batch))
	for i, sub := range batch {
		cols.set(i, sub)
	}
	rows, err := s.pool.Query(ctx, insertSQL, cols.args()...)
	if err != nil {
		return nil, err
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	results := make([]result, len(batch))
	if len(inserted) == len(batch) {
		for i, sub := range batch {
			results[i] = accepted(sub.id, sub.c.TicketID, sub.history)
		}
		return results, nil
	}
	fresh := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	var k conflictArgs
	var conflicts []int
	for i, sub := range batch {
		if fresh[sub.id] {
			results[i] = accepted(sub.id, sub.c.TicketID, sub.history)
			continue
		}
		conflicts = append(conflicts, i)
		k.add(cols, i, sub)
	}
	// A conflict is a ticket seen before (answer: duplicate), a delivery
	// retried (the same webhook-id and contents; answer: the original
	// answer) or a webhook-id of another ticket's (refused). The same
	// webhook-id with other contents is no retry: a correction sent under
	// the id of the first delivery (the hotline may use its ticket as the
	// id) is answered as the duplicate that differs it is, not as stored;
	// nor is one whose stored caller was erased, which it cannot be
	// compared with. Nor is a delivery sent to the endpoint it was not
	// first delivered to (OtherEndpointError); a ticket stored by the
	// other endpoint under a webhook-id of its own is a duplicate that
	// says so.
	rows, err = s.pool.Query(ctx, conflictSQL, k.args()...)
	if err != nil {
		return nil, err
	}
	found := 0
	var n int
	var id, ticket string
	var sameTicket, sameDelivery, callerErased, storedHistory bool
	var fields []string
	var erasedDesc, erasedAddr *string
	_, err = pgx.ForEachRow(rows, []any{&n, &id, &ticket, &sameTicket, &sameDelivery, &fields, &callerErased, &storedHistory,
		&erasedDesc, &erasedAddr}, func() error {
		if n < 1 || n > len(conflicts) {
			return fmt.Errorf("conflict lookup answered for work order %d of %d", n, len(conflicts))
		}
		i := conflicts[n-1]
		history := batch[i].history
		fields = recompareErased(fields, batch[i].c, erasedDesc, erasedAddr)
		switch {
		case !sameTicket:
			results[i] = result{err: WebhookReusedError{OtherTicket: ticket}}
		case sameDelivery && storedHistory != history:
			results[i] = result{err: OtherEndpointError{Ticket: ticket, FirstHistory: storedHistory}}
		case sameDelivery && len(fields) == 0 && !callerErased:
			results[i] = accepted(id, ticket, storedHistory)
		default:
			ans := Answer{ComplaintID: id, TicketID: ticket, Status: "duplicate", History: storedHistory}
			ans.Differs, ans.Detail = len(fields) > 0, duplicateDetail(fields, callerErased)
			other, reason := otherEndpointDetail(history, storedHistory)
			if other != "" {
				if ans.Detail != "" {
					other += ". Besides, " + ans.Detail
				}
				ans.Detail = other
			}
			results[i] = result{ans: ans, status: http.StatusOK, otherEndpoint: reason}
		}
		found++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found != len(conflicts) {
		return nil, fmt.Errorf("%d of %d skipped work orders conflict with no stored complaint", len(conflicts)-found, len(conflicts))
	}
	return results, nil
}

// conflictArgs holds the skipped work orders of a batch column by
// column, for conflictSQL's unnest.
type conflictArgs struct {
	tickets, webhooks, descs, addrs, cats, subs, hcats, channels, names, phones, maskedDescs, maskedAddrs []string
	crss                                                                                                  []*string
	at                                                                                                    []time.Time
	lons, lats                                                                                            []*float64
}

// add appends the batch's work order i, with its words and address
// masked as the retention job masks a stored one's (retention.masked):
// the phone numbers, and the name of the work order's own caller.
func (k *conflictArgs) add(cols *columns, i int, sub *submission) {
	k.tickets, k.webhooks = append(k.tickets, cols.tickets[i]), append(k.webhooks, cols.webhooks[i])
	k.descs, k.addrs, k.at = append(k.descs, cols.descs[i]), append(k.addrs, cols.addrs[i]), append(k.at, cols.at[i])
	k.lons, k.lats, k.crss = append(k.lons, cols.lons[i]), append(k.lats, cols.lats[i]), append(k.crss, cols.crss[i])
	k.cats, k.subs, k.hcats = append(k.cats, cols.cats[i]), append(k.subs, cols.subs[i]), append(k.hcats, cols.hcats[i])
	k.channels, k.names, k.phones = append(k.channels, cols.channels[i]), append(k.names, cols.names[i]), append(k.phones, cols.phones[i])
	k.maskedDescs = append(k.maskedDescs, erasedForm(cols.descs[i], cols.names[i]))
	k.maskedAddrs = append(k.maskedAddrs, erasedForm(cols.addrs[i], cols.names[i]))
}

// recompareErased is fields without /description and /address where
// conflictSQL found them to differ from an erased complaint's (stored
// words desc, address addr; nil where it found them the same) only for
// the name masked in them (sameOnceErased).
func recompareErased(fields []string, c Complaint, desc, addr *string) []string {
	var caller string
	if c.Caller != nil {
		caller = c.Caller.Name
	}
	if desc != nil && sameOnceErased(*desc, c.Description, caller) {
		fields = slices.DeleteFunc(fields, func(f string) bool { return f == "/description" })
	}
	if addr != nil && sameOnceErased(*addr, c.Address, caller) {
		fields = slices.DeleteFunc(fields, func(f string) bool { return f == "/address" })
	}
	return fields
}

// sameOnceErased tells whether s, the words or address of a work order,
// are those stored, once the retention job has erased the stored caller:
// stored is them with the phone numbers masked and the caller's name
// masked (王小明 as 王**), and that name is gone. So the name is what can
// no longer be compared, and everything else still is: s is the same
// when masking it as the job did, with some name, gives stored. The name
// is this work order's caller's (conflictSQL tries it), none (the stored
// caller gave only a phone, or did not write the name in the words), or
// the stored caller's, which this work order need not carry (sent with
// no caller, or another): read from s where stored has it masked, the
// first run of characters stored has as stars and s has in full, after
// the first character both keep. Words that differ only in one name
// written in full where stored has it masked, with its first character
// and its length, are taken for the same, as the caller is taken for
// one that cannot be compared; any other difference is one.
func sameOnceErased(stored, s, caller string) bool {
	masked := erasedForm(s, "")
	if masked == stored {
		return true
	}
	st, ms := []rune(stored), []rune(masked)
	if len(st) != len(ms) {
		// A name masked keeps its length, as the phone numbers masked
		// alike on both sides do: s differs in more than a name.
		return false
	}
	i := 0
	for i < len(st) && st[i] == ms[i] {
		i++
	}
	if i == 0 || st[i] != '*' {
		return false
	}
	j := i
	for j < len(st) && st[j] == '*' && ms[j] != '*' {
		j++
	}
	name := string(ms[i-1 : j])
	return name != caller && erasedForm(s, name) == stored
}

// erasedForm is s as the retention job leaves it once it has erased the
// caller named name.
func erasedForm(s, name string) string {
	if s == "" {
		return s
	}
	if name != "" {
		s = pii.MaskNames(s, name)
	}
	return pii.MaskText(s)
}

// args are conflictSQL's parameters in order.
func (k *conflictArgs) args() []any {
	return []any{k.tickets, k.webhooks, k.descs, k.addrs, k.at, k.lons, k.lats, k.crss,
		k.cats, k.subs, k.hcats, k.channels, k.names, k.phones, k.maskedDescs, k.maskedAddrs}
}

func accepted(id, ticket string, history bool) result {
	return result{ans: Answer{ComplaintID: id, TicketID: ticket, Status: "accepted", History: history}, status: http.StatusAccepted}
}

// columns holds a batch column by column, for insertSQL's unnest.
type columns struct {
	ids, tickets, webhooks, descs, cats, subs, hcats, addrs, names, phones, channels, payloads []string
	at                                                                                         []time.Time
	lons, lats                                                                                 []*float64
	crss                                                                                       []*string
	history                                                                                    []bool
}

func newColumns(n int) *columns {
	str := func() []string { return make([]string, n) }
	return &columns{
		ids: str(), tickets: str(), webhooks: str(), descs: str(), cats: str(), subs: str(), hcats: str(), addrs: str(),
		names: str(), phones: str(), channels: str(), payloads: str(),
		at: make([]time.Time, n), lons: make([]*float64, n), lats: make([]*float64, n), crss: make([]*string, n),
		history: make([]bool, n),
	}
}

func (c *columns) set(i int, sub *submission) {
	w := sub.c
	c.ids[i], c.tickets[i], c.webhooks[i], c.at[i], c.descs[i] = sub.id, w.TicketID, sub.webhookID, w.ReceivedAt, w.Description
	c.cats[i], c.subs[i], c.hcats[i], c.addrs[i], c.channels[i] = w.Category, w.Subcategory, w.HotlineCategory, w.Address, w.Channel
	if w.Location != nil {
		c.lons[i], c.lats[i] = &w.Location.Lon, &w.Location.Lat
		crs := w.Location.CRS
		if crs == "" {
			crs = "gcj02"
		}
		c.crss[i] = &crs
	}
	if w.Caller != nil {
		c.names[i], c.phones[i] = w.Caller.Name, w.Caller.Phone
	}
	c.payloads[i] = string(sub.payload)
	c.history[i] = sub.history
}

// args are insertSQL's parameters in order.
func (c *columns) args() []any {
	return []any{c.ids, c.tickets, c.webhooks, c.at, c.descs, c.cats, c.subs, c.hcats, c.addrs,
		c.lons, c.lats, c.crss, c.names, c.phones, c.channels, c.payloads, c.history}
}
