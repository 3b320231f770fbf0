package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// pruneLettersSQL deletes, in a range of pages, the dead letters settled
// before $3: their consumer has handled their event since (sent again
// and taken, or taken by another way, as the second dead letter of an
// event given up on twice), and nothing happened to them after $3 (no
// retry asked for or sent, no handling). The rest stay, however old,
// for an operator to see: a dead letter not sent again, sent and not
// handled, the relay's (no retry can send it), and one with no event id.
// Their idempotency records, kept while a retry could come (see
// pruneProcessedSQL), go with them once past the window.
const pruneLettersSQL = `DELETE FROM dead_letters d
WHERE d.ctid >= $1::tid AND d.ctid < $2::tid
  AND GREATEST(d.created_at, d.retry_requested_at, d.retried_at) < now() - $3::interval
  AND EXISTS (SELECT FROM processed_events p WHERE p.consumer = d.consumer AND p.event_id = d.event_id
    AND p.processed_at < now() - $3::interval)`

// pruneLetters deletes the dead letters settled longer ago than
// DeadLetters, or than ProcessedWindow if that is longer: a retry
// publishes the event again, to every consumer of its subject, and
// until the window has passed from then their records of it must stay,
// which only the dead letter keeps.
func (j *Job) pruneLetters(ctx context.Context, c querier) (int64, error) {
	return j.walk(ctx, c, "dead_letters", pruneLettersSQL, interval(max(j.cfg.DeadLetters, ProcessedWindow())))
}

// pickLettersSQL reads, in a range of pages, the dead letters written
// before $3 whose payload has not been swept.
const pickLettersSQL = `SELECT id, payload, reason FROM dead_letters
WHERE ctid >= $1::tid AND ctid < $2::tid AND pii_erased_at IS NULL AND created_at < now() - $3::interval`

// heldNamesSQL reads the callers' names the complaints $1 still hold.
const heldNamesSQL = `SELECT id, caller_name FROM complaints WHERE id = ANY($1) AND caller_name IS NOT NULL`

// sweepLettersSQL writes the payloads $2 and reasons $3 of the dead
// letters $1 (NULL: unchanged) and marks them swept.
const sweepLettersSQL = `UPDATE dead_letters d SET payload = COALESCE(u.payload, d.payload), reason = COALESCE(u.reason, d.reason),
	pii_erased_at = now()
FROM unnest($1::bigint[], $2::bytea[], $3::text[]) AS u(id, payload, reason)
WHERE d.id = u.id AND d.pii_erased_at IS NULL`

// eraseLetters erases, Pages heap pages of dead_letters at a time, the
// callers' data in the payloads of the dead letters written more than PII
// ago (see erasePayload), whether sent again or not, and in their reasons
// (see eraseReason), and answers how many dead letters it changed. The
// row stays as it was otherwise: an operator still sees what gave up on
// which event, and why, and may send it again. It runs before the complaints' erasure, so that a complaint
// erased in the same pass still gives its caller's name.
func (j *Job) eraseLetters(ctx context.Context, c querier) (int64, error) {
	n, err := pages(ctx, c, "dead_letters")
	if err != nil {
		return 0, err
	}
	ret := interval(j.cfg.PII)
	var total int64
	for p := int64(0); p < n; p += int64(j.cfg.Pages) {
		rows, err := c.Query(ctx, pickLettersSQL, tid(p), tid(p+int64(j.cfg.Pages)), ret)
		if err != nil {
			return total, fmt.Errorf("erase dead letters: %w", err)
		}
		var ids []int64
		var payloads [][]byte
		var reasons []string
		for rows.Next() {
			var id int64
			var payload []byte
			var reason string
			if err := rows.Scan(&id, &payload, &reason); err != nil {
				rows.Close()
				return total, fmt.Errorf("erase dead letters: %w", err)
			}
			ids, payloads, reasons = append(ids, id), append(payloads, payload), append(reasons, reason)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("erase dead letters: %w", err)
		}
		if len(ids) == 0 {
			continue
		}
		held, err := heldNames(ctx, c, payloads)
		if err != nil {
			return total, err
		}
		out := make([][]byte, len(payloads))
		outReasons := make([]*string, len(reasons))
		var changed int64
		for i, payload := range payloads {
			e, ok := erasePayload(payload, held)
			if ok {
				out[i] = e
			}
			if r, rok := eraseReason(reasons[i], payload, held); rok {
				outReasons[i] = &r
				ok = true
			}
			if ok {
				changed++
			}
		}
		if _, err := c.Exec(ctx, sweepLettersSQL, ids, out, outReasons); err != nil {
			return total, fmt.Errorf("erase dead letters: %w", err)
		}
		total += changed
		erasedLetters.Add(float64(changed))
	}
	return total, nil
}

// heldNames reads the callers' names still held by the complaints the
// payloads name (complaint_id), by complaint.
func heldNames(ctx context.Context, c querier, payloads [][]byte) (map[string]string, error) {
	var ids []string
	for _, p := range payloads {
		var v struct {
			ComplaintID string `json:"complaint_id"`
		}
		if json.Unmarshal(p, &v) == nil && v.ComplaintID != "" {
			ids = append(ids, v.ComplaintID)
		}
	}
	held := map[string]string{}
	if len(ids) == 0 {
		return held, nil
	}
	rows, err := c.Query(ctx, heldNamesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("erase dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("erase dead letters: %w", err)
		}
		held[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("erase dead letters: %w", err)
	}
	return held, nil
}

// erasePayload is payload without the callers' data it may carry, and
// whether that changed it: the fields caller, caller_name and
// caller_phone, at any depth, go; every other text has its phone and
// ID-card numbers masked (pii.MaskText) and the callers' names masked
// (pii.MaskNames: those of the caller fields, and the one its complaint
// still holds, held[complaint_id]), except the ids (id, *_id, tickets,
// transition, merged_from), which stay as they were, for an operator to
// find the complaint, case or event by. A payload that is not JSON,
// whose fields cannot be told apart, is emptied: no stage could take it
// anyway.
func erasePayload(payload []byte, held map[string]string) ([]byte, bool) {
	if len(payload) == 0 {
		return nil, false
	}
	if !json.Valid(payload) {
		return []byte{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte{}, true
	}
	names := pii.CallerNames(v)
	if m, ok := v.(map[string]any); ok {
		if id, ok := m["complaint_id"].(string); ok && held[id] != "" {
			names = append(names, held[id])
		}
	}
	e, changed := erase(v, "", names)
	if !changed {
		return nil, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return []byte{}, true
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// eraseReason is reason, the error a stage gave up on payload with,
// without the callers' data it may quote, and whether that changed it.
// A reason is an error's text, and many quote the value they failed on:
// PostgreSQL's (invalid input syntax for type date: "王小明
// 13812345678"; value "13812345678" is out of range for type integer),
// Go's JSON decoder's (cannot unmarshal number 13812345678 into ... of
// type int32), a stage's own (unknown category "..."). Its phone and
// ID-card numbers and the callers' names the payload carries, or its
// complaint still holds, are masked (pii.MaskError), as in the payload;
// the rest, what kind of error it was, stays.
func eraseReason(reason string, payload []byte, held map[string]string) (string, bool) {
	var names []string
	var v any
	if json.Unmarshal(payload, &v) == nil {
		names = pii.CallerNames(v)
		if m, ok := v.(map[string]any); ok {
			if id, ok := m["complaint_id"].(string); ok && held[id] != "" {
				names = append(names, held[id])
			}
		}
	}
	m := pii.MaskError(reason, names...)
	return m, m != reason
}

// callerField says whether a field of an object is a caller's.
func callerField(k string) bool {
	return k == "caller" || k == "caller_name" || k == "caller_phone"
}

// idField says whether a field of an object holds ids.
func idField(k string) bool {
	return k == "id" || strings.HasSuffix(k, "_id") || k == "tickets" || k == "transition" || k == "merged_from"
}

// erase is v, the value of field key, erased as erasePayload says.
func erase(v any, key string, names []string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		changed := false
		for k, f := range x {
			if callerField(k) {
				delete(x, k)
				changed = true
				continue
			}
			e, c := erase(f, k, names)
			x[k] = e
			changed = changed || c
		}
		return x, changed
	case []any:
		changed := false
		for i, f := range x {
			e, c := erase(f, key, names)
			x[i] = e
			changed = changed || c
		}
		return x, changed
	case string:
		if idField(key) {
			return x, false
		}
		m := pii.MaskText(pii.MaskNames(x, names...))
		return m, m != x
	}
	return v, false
}
