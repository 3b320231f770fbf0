package retention_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// complaint stores a work order with its caller, the phone written into
// its words too, in a case of status that ended (resolved or closed)
// endedAgo ago; caseStatus "" leaves it in no case, on its way through
// the pipeline (onTriage puts it on the triage list).
func complaint(t *testing.T, pool *pgxpool.Pool, id, caseStatus string, receivedAgo, endedAgo time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, created_at)
		VALUES ($1, 'T-' || $1, now() - $2::interval, '楼下KTV每晚唱到两点，请回电13812345678', '湖滨南路88号 联系电话 0592-5123456',
			'王小明', '13812345678', now() - $2::interval)`, id, receivedAgo.String())
	if caseStatus == "" {
		return
	}
	exec(t, pool, `INSERT INTO cases (id, category, district, team, status, opened_at, resolved_at, closed_at)
		VALUES ('K-' || $1, 'noise', 'siming', 'siming-police', $2, now() - $3::interval,
			CASE WHEN $2 IN ('resolved', 'closed') THEN now() - $4::interval END,
			CASE WHEN $2 = 'closed' THEN now() - $4::interval END)`, id, caseStatus, receivedAgo.String(), endedAgo.String())
	exec(t, pool, `INSERT INTO case_complaints (complaint_id, case_id, joined_at) VALUES ($1, 'K-' || $1, now() - $2::interval)`, id, receivedAgo.String())
}

type held struct {
	name, phone, description, address *string
	erased                            bool
}

func callerOf(t *testing.T, pool *pgxpool.Pool, id string) held {
	t.Helper()
	var h held
	if err := pool.QueryRow(context.Background(), `SELECT caller_name, caller_phone, description, address, pii_erased_at IS NOT NULL
		FROM complaints WHERE id = $1`, id).Scan(&h.name, &h.phone, &h.description, &h.address, &h.erased); err != nil {
		t.Fatal(err)
	}
	return h
}

// With NUISANCE_PII_RETENTION at 180 days, the callers of complaints
// whose case was closed or resolved more than 180 days ago are erased,
// and the phone numbers in their words and address masked, as are those
// of a complaint in no case, on no list and on no dead letter stored 500
// days ago, whose event was lost; the callers of a case that ended
// within the period and of a case still open however old stay. The
// hotline's status look-up answers the erased work order as before.
func TestErasesCallersOfCasesEndedLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day, Complaints: 2})
	complaint(t, pool, "closed-long-ago", "closed", 400*day, 200*day)
	complaint(t, pool, "resolved-long-ago", "resolved", 300*day, 190*day)
	complaint(t, pool, "closed-lately", "closed", 400*day, 170*day)
	complaint(t, pool, "open-for-long", "assigned", 500*day, 0)
	complaint(t, pool, "lost", "", 500*day, 0)
	for i := range 5 { // more than one batch of erasures
		complaint(t, pool, "closed-"+string(rune('a'+i)), "closed", 365*day, 300*day)
	}
	lookup := func(ticket string) string {
		var s string
		if err := pool.QueryRow(context.Background(), `SELECT concat_ws('|', ticket_id, complaint_id, status, case_id, team, updated_at)
			FROM complaint_lookup WHERE ticket_id = $1`, ticket).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := lookup("T-closed-long-ago")

	res := pass(t, job)
	if res.Erased != 8 {
		t.Errorf("erased %d complaints, want 8", res.Erased)
	}
	for _, id := range []string{"closed-long-ago", "resolved-long-ago", "closed-a", "closed-e", "lost"} {
		h := callerOf(t, pool, id)
		if h.name != nil || h.phone != nil || !h.erased {
			t.Errorf("%s: caller still held (name %v, phone %v, erased %v)", id, h.name != nil, h.phone != nil, h.erased)
		}
		if strings.Contains(*h.description, "13812345678") || !strings.Contains(*h.description, "138****5678") {
			t.Errorf("%s: the phone in the words is not masked: %q", id, *h.description)
		}
		if strings.Contains(*h.address, "5123456") || !strings.HasPrefix(*h.address, "湖滨南路88号") {
			t.Errorf("%s: the address is %q, want its phone masked and the rest kept", id, *h.address)
		}
	}
	for _, id := range []string{"closed-lately", "open-for-long"} {
		h := callerOf(t, pool, id)
		if h.name == nil || *h.name != "王小明" || h.phone == nil || *h.phone != "13812345678" || h.erased ||
			!strings.Contains(*h.description, "13812345678") || !strings.Contains(*h.address, "0592-5123456") {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if after := lookup("T-closed-long-ago"); after != before {
		t.Errorf("the status look-up changed: %s, was %s", after, before)
	}
	if again := pass(t, job); again.Erased != 0 {
		t.Errorf("a second pass erased %d more", again.Erased)
	}
}

// Without a retention period (the default) the callers stay, however old.
func TestKeepsCallersWithoutARetention(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.DefaultConfig())
	complaint(t, pool, "closed-years-ago", "closed", 5*365*day, 4*365*day)
	if res := pass(t, job); res.Erased != 0 {
		t.Errorf("erased %d complaints with no retention set", res.Erased)
	}
	if h := callerOf(t, pool, "closed-years-ago"); h.erased || h.phone == nil {
		t.Error("the caller was erased with no retention set")
	}
}

// A work order loaded as history (nuisance replay -history) was closed by
// the hotline before it was stored, and no case ever holds it: once it
// has been stored longer than the retention period its caller is erased
// like that of any case closed that long ago; a complaint stored as long
// ago, not history, whose event is still on its way (in the outbox),
// keeps its caller. (Taken for a complaint in triage, it kept its caller
// for ever, and every pass read it again.)
func TestErasesCallersOfHistoryLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	complaint(t, pool, "history-long-ago", "", 400*day, 0)
	complaint(t, pool, "history-lately", "", 170*day, 0)
	exec(t, pool, `UPDATE complaints SET history = true WHERE id LIKE 'history-%'`)
	complaint(t, pool, "on-its-way", "", 500*day, 0)
	outboxed(t, pool, "on-its-way.received", "complaint.received", 500*day, 0)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	if h := callerOf(t, pool, "history-long-ago"); h.name != nil || h.phone != nil || !h.erased ||
		strings.Contains(*h.description, "13812345678") {
		t.Errorf("history stored 400 days ago: caller still held (name %v, phone %v, erased %v)", h.name != nil, h.phone != nil, h.erased)
	}
	for _, id := range []string{"history-lately", "on-its-way"} {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
}

// The job records whether there was a caller to erase: a work order that
// came with neither name nor phone is swept like the others (the phones in
// its words masked, and it leaves the job's index, so no pass reads it
// again) but is not counted, nor marked, as a caller erased; one with a
// name alone or a phone alone is.
func TestMarksCallerErasedOnlyWhereThereWasOne(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	complaint(t, pool, "with-caller", "closed", 400*day, 200*day)
	complaint(t, pool, "name-only", "closed", 400*day, 200*day)
	complaint(t, pool, "no-caller", "closed", 400*day, 200*day)
	exec(t, pool, `UPDATE complaints SET caller_phone = NULL WHERE id = 'name-only'`)
	exec(t, pool, `UPDATE complaints SET caller_name = NULL, caller_phone = NULL WHERE id = 'no-caller'`)

	if res := pass(t, job); res.Erased != 2 {
		t.Errorf("erased %d callers, want 2", res.Erased)
	}
	marked := func(id string) (swept bool, callerErased *bool) {
		t.Helper()
		if err := pool.QueryRow(context.Background(), `SELECT pii_erased_at IS NOT NULL, caller_erased FROM complaints WHERE id = $1`,
			id).Scan(&swept, &callerErased); err != nil {
			t.Fatal(err)
		}
		return swept, callerErased
	}
	for _, id := range []string{"with-caller", "name-only"} {
		if swept, ce := marked(id); !swept || ce == nil || !*ce {
			t.Errorf("%s: swept %v, caller erased %v; want both", id, swept, ce)
		}
	}
	if swept, ce := marked("no-caller"); !swept || ce == nil || *ce {
		t.Errorf("no-caller: swept %v, caller erased %v; want swept, and no caller erased", swept, ce)
	}
	if h := callerOf(t, pool, "no-caller"); strings.Contains(*h.description, "13812345678") {
		t.Errorf("no-caller: the phone in its words is not masked: %q", *h.description)
	}
	if n := count(t, pool, `SELECT count(*) FROM complaints WHERE pii_erased_at IS NULL`); n != 0 {
		t.Errorf("%d complaints left for the next pass to read again", n)
	}
}

// onTriage puts complaint id on the triage list, waiting since waitedAgo
// ago; resolvedAgo > 0 marks it corrected that long ago.
func onTriage(t *testing.T, pool *pgxpool.Pool, id, kind string, waitedAgo, resolvedAgo time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO triage (complaint_id, reason, kind, created_at, resolved_at, resolved_by)
		VALUES ($1, 'test', $2, now() - $3::interval, CASE WHEN $4 THEN now() - $5::interval END, CASE WHEN $4 THEN 'sup' END)`,
		id, kind, waitedAgo.String(), resolvedAgo > 0, resolvedAgo.String())
}

// A complaint that has waited on the triage list longer than the
// retention period, in no case, loses its caller like one whose case
// ended that long ago: nobody could place, classify or route it, and if a
// supervisor corrects it now its case is worked without the number (the
// hotline, which keeps its own record of the caller, can call back). One
// that has waited less, one a supervisor corrected and sent back into
// the pipeline, one on its way there (no triage entry, no case, its
// complaint.located still in the outbox) and one
// whose case no team would take (unrouted, its case still open) keep
// theirs. (The job erased ended cases and history alone: a complaint
// left on triage kept its caller for ever, and every pass read it again.)
func TestErasesCallersWaitingOnTriageLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	complaint(t, pool, "triage-long-ago", "", 400*day, 0)
	onTriage(t, pool, "triage-long-ago", "unlocated", 400*day, 0)
	complaint(t, pool, "triage-lately", "", 400*day, 0)
	onTriage(t, pool, "triage-lately", "unrouted", 170*day, 0)
	complaint(t, pool, "triage-corrected", "", 400*day, 0)
	onTriage(t, pool, "triage-corrected", "unclassified", 400*day, day)
	complaint(t, pool, "on-its-way", "", 500*day, 0)
	outboxed(t, pool, "on-its-way.located", "complaint.located.siming.noise", 500*day, 0)
	complaint(t, pool, "unrouted-in-case", "returned", 400*day, 0)
	onTriage(t, pool, "unrouted-in-case", "unrouted", 400*day, 0)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	if h := callerOf(t, pool, "triage-long-ago"); h.name != nil || h.phone != nil || !h.erased ||
		strings.Contains(*h.description, "13812345678") || strings.Contains(*h.address, "5123456") {
		t.Errorf("on triage for 400 days: caller still held (name %v, phone %v, erased %v)", h.name != nil, h.phone != nil, h.erased)
	}
	for _, id := range []string{"triage-lately", "triage-corrected", "on-its-way", "unrouted-in-case"} {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil || h.name == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM triage WHERE complaint_id = 'triage-long-ago' AND resolved_at IS NULL`); n != 1 {
		t.Error("the erased complaint left the triage list: a supervisor may still correct it")
	}
}

// deadLetter stores consumer's dead letter of event, written ago ago.
func deadLetter(t *testing.T, pool *pgxpool.Pool, consumer, event string, ago time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at)
		VALUES ($1, 'complaint.x', $2, $2, 8, 'max deliveries reached: boom', '\x7b7d', now() - $3::interval)`, consumer, event, ago.String())
}

// A complaint whose event a stage gave up on (a dead letter) is in no
// case and on no list: nothing moves it on until an operator sends the
// dead letter again. Once the dead letter has waited longer than the
// retention period, unsent or sent and never handled, the complaint
// loses its caller like one that has waited on triage that long; a
// retry then carries it on without the number. One whose dead letter is
// younger, was sent again within the period, or was handled since (the
// complaint moved on, its complaint.clustered in the outbox), one in a case (a stage off its path gave up), one
// on the triage list (the list's own period), one a supervisor corrected
// within the period, and one on its way with no dead letter (its
// complaint.clustered still in the outbox) keep theirs.
// (Each of these kept its caller for ever: only a case, triage and
// history were read.)
func TestErasesCallersOfComplaintsStoppedOnADeadLetter(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day, Complaints: 3})
	erasedIDs := []string{"stopped-received", "stopped-clustered", "stopped-after-correction", "stopped-twice"}
	for _, id := range erasedIDs {
		complaint(t, pool, id, "", 400*day, 0)
	}
	deadLetter(t, pool, "geocoder", "stopped-received.received", 400*day)
	deadLetter(t, pool, "router", "stopped-clustered.clustered", 390*day)
	onTriage(t, pool, "stopped-after-correction", "unlocated", 400*day, 300*day)
	deadLetter(t, pool, "router", "stopped-after-correction.clustered.c1", 299*day)
	// Sent again 200 days ago, and given up on again.
	deadLetter(t, pool, "geocoder", "stopped-twice.received", 400*day)
	exec(t, pool, `UPDATE dead_letters SET retry_requested_at = now() - interval '200 days', retried_at = now() - interval '200 days'
		WHERE event_id = 'stopped-twice.received'`)

	kept := []string{"dead-lettered-lately", "sent-again-lately", "handled-since", "in-a-case", "on-the-list",
		"corrected-lately", "on-its-way", "neighbour"}
	for _, id := range kept {
		if id != "in-a-case" {
			complaint(t, pool, id, "", 400*day, 0)
		}
	}
	deadLetter(t, pool, "geocoder", "dead-lettered-lately.received", 170*day)
	deadLetter(t, pool, "geocoder", "sent-again-lately.received", 400*day)
	exec(t, pool, `UPDATE dead_letters SET retry_requested_at = now() - interval '1 day' WHERE event_id = 'sent-again-lately.received'`)
	deadLetter(t, pool, "hotspots", "handled-since.located", 400*day)
	exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('hotspots', 'handled-since.located', now() - interval '300 days')`)
	complaint(t, pool, "in-a-case", "assigned", 400*day, 0)
	deadLetter(t, pool, "reporter", "in-a-case.located", 400*day)
	onTriage(t, pool, "on-the-list", "unlocated", 100*day, 0)
	deadLetter(t, pool, "officers", "on-the-list.unlocated", 400*day)
	onTriage(t, pool, "corrected-lately", "unlocated", 400*day, 10*day)
	deadLetter(t, pool, "hotspots", "corrected-lately.located", 400*day)
	// A dead letter of another complaint whose id begins with this one's.
	deadLetter(t, pool, "geocoder", "neighbour-2.received", 400*day)
	for _, id := range []string{"on-its-way", "neighbour", "handled-since"} {
		outboxed(t, pool, id+".clustered", "complaint.clustered.siming.noise", 400*day, day)
	}

	if res := pass(t, job); res.Erased != int64(len(erasedIDs)) {
		t.Errorf("erased %d complaints, want %d", res.Erased, len(erasedIDs))
	}
	for _, id := range erasedIDs {
		if h := callerOf(t, pool, id); h.name != nil || h.phone != nil || !h.erased ||
			strings.Contains(*h.description, "13812345678") || strings.Contains(*h.address, "5123456") {
			t.Errorf("%s: caller still held (name %v, phone %v, erased %v)", id, h.name != nil, h.phone != nil, h.erased)
		}
	}
	for _, id := range kept {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil || h.name == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM dead_letters`); n != 11 {
		t.Errorf("%d dead letters left, want all 11: an operator must still see them", n)
	}
	if again := pass(t, job); again.Erased != 0 {
		t.Errorf("a second pass erased %d more", again.Erased)
	}
}

// dlqCopy stores a dead letter of event, ago, and its copy on the DLQ
// stream, recorded as the consumer records it (the sequence with the
// stream's creation); it returns the dead letter's id and the copy's
// sequence.
func dlqCopy(t *testing.T, js jetstream.JetStream, pool *pgxpool.Pool, event, reason string, payload []byte, ago time.Duration) (int64, uint64) {
	t.Helper()
	ctx := context.Background()
	m := nats.NewMsg("dlq.geocoder")
	m.Data = payload
	m.Header.Set("Nuisance-Reason", reason)
	m.Header.Set(jetstream.MsgIDHeader, "dlq:geocoder:"+event)
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	id := letter(t, pool, "geocoder", "complaint.received", event, reason, payload, ago)
	created := st.CachedInfo().Created
	recordCopy(t, pool, id, ack.Sequence, &created, ago)
	return id, ack.Sequence
}

// letter stores a dead letter of event with payload, written ago ago,
// and returns its id.
func letter(t *testing.T, pool *pgxpool.Pool, consumer, subject, event, reason string, payload []byte, ago time.Duration) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at)
		VALUES ($1, $2, $3, $3, 8, $4, $5, now() - $6::interval) RETURNING id`, consumer, subject, event, reason, payload, ago.String()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

type kept struct {
	consumer, subject, event, msgID, reason string
	deliveries                              int
	at                                      time.Time
	payload                                 []byte
}

func letterOf(t *testing.T, pool *pgxpool.Pool, id int64) kept {
	t.Helper()
	var k kept
	if err := pool.QueryRow(context.Background(), `SELECT consumer, subject, event_id, msg_id, reason, deliveries, created_at, payload
		FROM dead_letters WHERE id = $1`, id).Scan(&k.consumer, &k.subject, &k.event, &k.msgID, &k.reason, &k.deliveries, &k.at, &k.payload); err != nil {
		t.Fatal(err)
	}
	return k
}

// A dead letter keeps the original a stage gave up on, and what it gave
// up on may carry a caller: an event from a producer that put the
// caller in (which the schema refuses: that is why it was given up on),
// a citizen's number or name in the words or an officer's note. Once a
// dead letter is older than NUISANCE_PII_RETENTION its payload loses
// them, whether or not it was ever sent again: a caller field goes, and
// every text but the ids has its phone numbers masked as the officers'
// console shows them, and the names of the callers it held, or its
// complaint still holds, masked too. The dead letter stays, with its
// consumer, subject, event, reason and ids, for an operator to see and
// send again; a complaint.received that the schema refused for its
// caller is, erased, one the geocoder takes. A payload that is not JSON,
// whose fields cannot be told apart, is emptied. A younger dead letter,
// and one with nothing personal, is left byte for byte. (Dead letters
// were never read: their payloads kept the callers for ever.)
func TestErasesCallersInDeadLettersLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day, Complaints: 2})
	received := func(id, extra string) []byte {
		return []byte(`{"event_id": "` + id + `.received", "complaint_id": "` + id + `", "ticket_id": "13812345678",
			"received_at": "2024-03-15T22:30:00+08:00", "description": "楼下KTV每晚唱到两点，请回电13812345678，联系人王小明",
			"address": "湖滨南路88号 联系电话 0592-5123456", "category": "noise"` + extra + `}`)
	}
	withCaller := letter(t, pool, "geocoder", "complaint.received", "dl-caller.received",
		"schema complaint.received.v1: /caller must not be present", received("dl-caller", `, "caller": {"name": "王小明", "phone": "13812345678"}`), 400*day)
	flat := letter(t, pool, "geocoder", "complaint.received", "dl-flat.received",
		"schema complaint.received.v1: /caller_name", received("dl-flat", `, "caller_name": "王小明", "caller_phone": "13812345678"`), 400*day)
	// The complaint, stopped on this dead letter, is erased in the same
	// pass: its caller's name is masked in the payload first.
	complaint(t, pool, "dl-named", "", 400*day, 0)
	named := letter(t, pool, "geocoder", "complaint.received", "dl-named.received",
		"max deliveries reached: geocode: timeout", received("dl-named", ""), 400*day)
	note := letter(t, pool, "callbacks", "case.resolved", "K1.resolved.2", "max deliveries reached: boom",
		[]byte(`{"event_id":"K1.resolved.2","case_id":"K1","kind":"resolved","status":"resolved","category":"noise","district":"siming","actor":"officer:7","note":"已电话联系13812345678，答复满意","tickets":["13812345678"],"at":"2024-03-16T10:00:00+08:00"}`), 300*day)
	notJSON := letter(t, pool, "geocoder", "complaint.received", "", "not JSON: invalid character", []byte("王小明 13812345678 湖滨南路88号"), 400*day)
	clean := []byte(`{"event_id":"K2.assigned.1","case_id":"K2","kind":"assigned","status":"assigned","team":"siming-police","category":"noise","district":"siming","actor":"service:router","tickets":["13812345678"],"at":"2024-03-16T10:00:00+08:00"}`)
	nothing := letter(t, pool, "callbacks", "case.assigned.siming-police", "K2.assigned.1", "max deliveries reached: boom", clean, 400*day)
	young := letter(t, pool, "geocoder", "complaint.received", "dl-young.received",
		"schema complaint.received.v1: /caller must not be present", received("dl-young", `, "caller": {"name": "王小明", "phone": "13812345678"}`), 170*day)
	before := map[int64]kept{}
	for _, id := range []int64{withCaller, flat, named, note, notJSON, nothing, young} {
		before[id] = letterOf(t, pool, id)
	}

	pass(t, job)
	fields := func(id int64) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(letterOf(t, pool, id).payload, &m); err != nil {
			t.Fatalf("dead letter %d: the erased payload is not JSON: %v", id, err)
		}
		return m
	}
	for _, id := range []int64{withCaller, flat, named, note, notJSON, nothing, young} {
		b, a := before[id], letterOf(t, pool, id)
		if a.consumer != b.consumer || a.subject != b.subject || a.event != b.event || a.msgID != b.msgID ||
			a.reason != b.reason || a.deliveries != b.deliveries || !a.at.Equal(b.at) {
			t.Errorf("dead letter %d (%s): what an operator reads changed: %+v, was %+v", id, b.event, a, b)
		}
	}
	// The work order's number, 13812345678 here, is an id and stays; no
	// other copy of the number does.
	for id, ids := range map[int64]int{withCaller: 1, flat: 1, named: 1, note: 1, notJSON: 0} {
		if p := letterOf(t, pool, id).payload; bytes.Count(p, []byte("13812345678")) != ids || bytes.Contains(p, []byte("5123456")) {
			t.Errorf("dead letter %d (%s): a phone number is left: %s", id, before[id].event, p)
		}
	}
	for _, id := range []int64{withCaller, flat, named} {
		m := fields(id)
		if _, ok := m["caller"]; ok {
			t.Errorf("dead letter %d: the caller is still there", id)
		}
		if _, ok := m["caller_name"]; ok {
			t.Errorf("dead letter %d: caller_name is still there", id)
		}
		if _, ok := m["caller_phone"]; ok {
			t.Errorf("dead letter %d: caller_phone is still there", id)
		}
		if d := m["description"].(string); d != "楼下KTV每晚唱到两点，请回电138****5678，联系人王**" {
			t.Errorf("dead letter %d: the words are %q, want the number and the caller's name masked", id, d)
		}
		if a := m["address"].(string); strings.Contains(a, "5123456") || !strings.HasPrefix(a, "湖滨南路88号") {
			t.Errorf("dead letter %d: the address is %q", id, a)
		}
		for k, v := range map[string]string{"event_id": before[id].event, "ticket_id": "13812345678", "received_at": "2024-03-15T22:30:00+08:00", "category": "noise"} {
			if m[k] != v {
				t.Errorf("dead letter %d: %s is %v, want %s as it was", id, k, m[k], v)
			}
		}
	}
	sch, err := schemas.Get("complaint.received.v1")
	if err != nil {
		t.Fatal(err)
	}
	if fe, err := schemas.Validate(sch, letterOf(t, pool, withCaller).payload); err != nil || len(fe) > 0 {
		t.Errorf("the erased complaint.received is no valid event, which a retry would send: %v %v", fe, err)
	}
	if h := callerOf(t, pool, "dl-named"); !h.erased || h.name != nil {
		t.Error("the complaint stopped on the dead letter kept its caller")
	}
	if m := fields(note); m["note"] != "已电话联系138****5678，答复满意" || m["case_id"] != "K1" {
		t.Errorf("the note is %q", m["note"])
	}
	if p := letterOf(t, pool, notJSON).payload; len(p) != 0 {
		t.Errorf("a payload that is not JSON is kept: %q", p)
	}
	for _, id := range []int64{nothing, young} {
		if p := letterOf(t, pool, id).payload; !bytes.Equal(p, before[id].payload) {
			t.Errorf("dead letter %d (%s) changed: %s", id, before[id].event, p)
		}
	}
	erased := map[int64][]byte{}
	for _, id := range []int64{withCaller, flat, named, note} {
		erased[id] = letterOf(t, pool, id).payload
	}
	pass(t, job)
	for id, p := range erased {
		if got := letterOf(t, pool, id).payload; !bytes.Equal(got, p) {
			t.Errorf("a second pass rewrote dead letter %d: %s", id, got)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM dead_letters`); n != 7 {
		t.Errorf("%d dead letters left, want all 7", n)
	}
}

// A citizen often writes the name to call back in the words or the
// address (联系人：王小明), where the caller's name column is not: the
// erasure masks that name there too (王**), as the officers' console
// shows it, with the phone numbers, and leaves the rest. (The name was
// erased from the caller's columns alone, and stayed in the words and
// the address for ever.)
func TestErasesTheCallersNameInTheWordsAndAddress(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	complaint(t, pool, "named", "closed", 400*day, 200*day)
	exec(t, pool, `UPDATE complaints SET description = '楼下KTV每晚唱到两点，联系人王小明，请回电', address = '湖滨南路88号 联系人：王小明' WHERE id = 'named'`)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	h := callerOf(t, pool, "named")
	if *h.description != "楼下KTV每晚唱到两点，联系人王**，请回电" {
		t.Errorf("the words are %q, want the caller's name masked", *h.description)
	}
	if *h.address != "湖滨南路88号 联系人：王**" {
		t.Errorf("the address is %q, want the caller's name masked", *h.address)
	}
}

// A dead letter's reason is the error its stage gave up with, and errors
// quote the value they failed on: PostgreSQL's (invalid input syntax, out
// of range), Go's JSON decoder's, a stage's own. Once the dead letter is
// older than NUISANCE_PII_RETENTION its reason loses, with its payload,
// the phone numbers and the callers' names it quotes (the payload's
// caller, or the name its complaint still holds), and keeps the kind of
// error it was; a reason with nothing personal, and a younger dead
// letter's, stay as they were. (The reason was never read: it kept the
// number and the name for ever, in what `nuisance deadletters list`
// shows.)
func TestErasesCallersInDeadLetterReasons(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	ctx := context.Background()
	// The errors, as the database and the decoder give them.
	_, dateErr := pool.Exec(ctx, `SELECT $1::text::date`, "王小明 13812345678")
	_, rangeErr := pool.Exec(ctx, `SELECT $1::text::int`, "13812345678")
	var v struct {
		N int32 `json:"n"`
	}
	jsonErr := json.Unmarshal([]byte(`{"n": 13812345678}`), &v)
	if dateErr == nil || rangeErr == nil || jsonErr == nil ||
		!strings.Contains(dateErr.Error(), "13812345678") || !strings.Contains(rangeErr.Error(), "13812345678") || !strings.Contains(jsonErr.Error(), "13812345678") {
		t.Fatalf("the errors do not quote the value: %v / %v / %v", dateErr, rangeErr, jsonErr)
	}
	withCaller := []byte(`{"event_id":"dr-1.received","complaint_id":"dr-1","ticket_id":"T1","description":"噪声","caller":{"name":"王小明","phone":"13812345678"}}`)
	plain := []byte(`{"event_id":"dr-2.received","complaint_id":"dr-2","ticket_id":"T2","description":"噪声"}`)
	complaint(t, pool, "dr-2", "assigned", 10*day, 0) // holds 王小明, in an open case
	dated := letter(t, pool, "geocoder", "complaint.received", "dr-1.received", "max deliveries reached: store: "+dateErr.Error(), withCaller, 400*day)
	ranged := letter(t, pool, "geocoder", "complaint.received", "dr-2.received", "max deliveries reached: "+rangeErr.Error()+" (王小明)", plain, 400*day)
	decoded := letter(t, pool, "router", "complaint.clustered.c1", "dr-3.clustered.c1", "decode: "+jsonErr.Error(), []byte(`{"n": 13812345678}`), 400*day)
	clean := letter(t, pool, "geocoder", "complaint.received", "dr-4.received", "max deliveries reached: geocode: timeout", plain, 400*day)
	young := letter(t, pool, "geocoder", "complaint.received", "dr-5.received", "max deliveries reached: store: "+dateErr.Error(), withCaller, 170*day)
	before := map[int64]string{}
	for _, id := range []int64{dated, ranged, decoded, clean, young} {
		before[id] = letterOf(t, pool, id).reason
	}

	res := pass(t, job)
	want := map[int64]string{
		dated:   `max deliveries reached: store: ERROR: invalid input syntax for type date: "王** 138****5678" (SQLSTATE 22007)`,
		ranged:  `max deliveries reached: ERROR: value "138****5678" is out of range for type integer (SQLSTATE 22003) (王**)`,
		decoded: `decode: json: cannot unmarshal number 138****5678 into Go struct field .n of type int32`,
		clean:   before[clean],
		young:   before[young],
	}
	for id, w := range want {
		if got := letterOf(t, pool, id).reason; got != w {
			t.Errorf("dead letter %d: the reason is %q, want %q", id, got, w)
		}
	}
	if res.ErasedLetters != 3 {
		t.Errorf("%d dead letters erased, want 3 (the caller's payload, and two reasons alone)", res.ErasedLetters)
	}
	if again := pass(t, job); again.ErasedLetters != 0 {
		t.Errorf("a second pass erased %d more", again.ErasedLetters)
	}
}

// recordCopy records, as the consumer does, the copy seq of dead letter
// id on the DLQ stream created at stream (nil: not recorded), recorded
// ago ago.
func recordCopy(t *testing.T, pool *pgxpool.Pool, id int64, seq uint64, stream *time.Time, ago time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO dead_letter_copies (dead_letter_id, seq, stream_created, created_at) VALUES ($1, $2, $3, now() - $4::interval)`,
		id, int64(seq), stream, ago.String())
}

// copiesOf is the sequences of the copies recorded of the dead letters
// ids, in order.
func copiesOf(t *testing.T, pool *pgxpool.Pool, ids ...int64) []uint64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT seq FROM dead_letter_copies WHERE dead_letter_id = ANY($1) ORDER BY seq`, ids)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[uint64])
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// The consumers copy each dead letter to the DLQ stream (payload and
// reason), which keeps it 30 days: with NUISANCE_PII_RETENTION shorter,
// the copy kept the callers the dead letter's row had lost. A pass
// deletes the copy of every dead letter older than the period, by the
// sequence its publication was acknowledged with, and forgets it; a
// copy gone already (an operator's, the stream's MaxAge) is no error,
// and a younger dead letter's stays. (The copies were left to the
// stream's 30 days whatever the period.)
func TestDeletesTheDLQCopiesOfDeadLettersLongAgo(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	pool, job := setup(t, retention.Config{PII: 10 * day, DLQ: n.JS})
	ctx := context.Background()
	payload := []byte(`{"event_id":"x.received","complaint_id":"x","ticket_id":"T","description":"请回电13812345678","caller":{"name":"王小明","phone":"13812345678"}}`)
	copyOf := func(event string, ago time.Duration) (int64, uint64) {
		t.Helper()
		return dlqCopy(t, n.JS, pool, event, "schema complaint.received.v1: / 'not' failed", payload, ago)
	}
	oldID, oldSeq := copyOf("old.received", 20*day)
	youngID, youngSeq := copyOf("young.received", 5*day)
	goneID, goneSeq := copyOf("gone.received", 20*day)
	letter(t, pool, "geocoder", "complaint.received", "nocopy.received", "boom", payload, 20*day)
	st, err := n.JS.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, goneSeq); err != nil {
		t.Fatal(err)
	}

	res := pass(t, job)
	if res.DLQDeleted != 1 {
		t.Errorf("%d copies deleted, want 1", res.DLQDeleted)
	}
	if _, err := st.GetMsg(ctx, oldSeq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the copy of the dead letter 20 days old is still on the DLQ stream (%v)", err)
	}
	if m, err := st.GetMsg(ctx, youngSeq); err != nil || !bytes.Equal(m.Data, payload) {
		t.Errorf("the copy of the dead letter 5 days old is gone or changed: %v", err)
	}
	if got := copiesOf(t, pool, oldID, goneID); len(got) != 0 {
		t.Errorf("the copies %v are kept recorded, deleted or gone", got)
	}
	if got := copiesOf(t, pool, youngID); !slices.Equal(got, []uint64{youngSeq}) {
		t.Errorf("the young dead letter's copies recorded are %v, want [%d]", got, youngSeq)
	}
	if again := pass(t, job); again.DLQDeleted != 0 {
		t.Errorf("a second pass deleted %d more", again.DLQDeleted)
	}
	if c := count(t, pool, `SELECT count(*) FROM dead_letters`); c != 4 {
		t.Errorf("%d dead letters left, want all 4", c)
	}
}

// NATS lost its data and the DLQ stream was declared again (the stream
// keeper, an operator): its messages are numbered from 1 again, and the
// sequences recorded for the copies on the stream lost are those of
// other dead letters' copies on the new one. A pass deletes none of
// them: the copies of the dead letters 20 days old went with their
// stream, recorded with its creation or, recorded before it was, written
// before the new stream was created; the new copies stay, and the old
// dead letters' are forgotten.
func TestKeepsTheCopiesOfAStreamDeclaredAgain(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	pool, job := setup(t, retention.Config{PII: 10 * day, DLQ: n.JS})
	ctx := context.Background()
	payload := []byte(`{"event_id":"x.received","complaint_id":"x","ticket_id":"T"}`)
	publish := func(event string) (uint64, time.Time) {
		t.Helper()
		m := nats.NewMsg("dlq.geocoder")
		m.Data = payload
		m.Header.Set(jetstream.MsgIDHeader, "dlq:geocoder:"+event)
		ack, err := n.JS.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		st, err := n.JS.Stream(ctx, "DLQ")
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence, st.CachedInfo().Created
	}
	recordedSeq, lost := publish("recorded.received")
	recorded := letter(t, pool, "geocoder", "complaint.received", "recorded.received", "boom", payload, 20*day)
	recordCopy(t, pool, recorded, recordedSeq, &lost, 20*day)
	olderSeq, _ := publish("older.received")
	older := letter(t, pool, "geocoder", "complaint.received", "older.received", "boom", payload, 20*day)
	recordCopy(t, pool, older, olderSeq, nil, 20*day)

	if err := n.JS.DeleteStream(ctx, "DLQ"); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range natsx.Streams(1) {
		if cfg.Name == "DLQ" {
			if _, err := n.JS.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	s1, _ := publish("new1.received")
	s2, _ := publish("new2.received")
	if s1 != recordedSeq || s2 != olderSeq {
		t.Fatalf("the new stream numbered its copies %d, %d; want %d, %d as the lost one did", s1, s2, recordedSeq, olderSeq)
	}

	res := pass(t, job)
	if res.DLQDeleted != 0 {
		t.Errorf("%d copies deleted, want none", res.DLQDeleted)
	}
	st, err := n.JS.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{s1, s2} {
		if _, err := st.GetMsg(ctx, seq); err != nil {
			t.Errorf("the new stream's copy %d is gone: %v", seq, err)
		}
	}
	if c := count(t, pool, `SELECT count(*) FROM dead_letter_copies`); c != 0 {
		t.Errorf("%d dead letters keep the sequence of a copy on the stream lost", c)
	}
}

// NATS unreachable, or the service's NATS user not allowed to delete from
// the DLQ stream (a deployment whose permissions were not updated): the
// pass still erases the callers in PostgreSQL and counts as made, so
// that NuisanceRetentionNotRunning stays quiet about a job that erases;
// the copies' failure is counted apart, said in the pass's error, and
// their sequences kept for the next pass. (The whole pass failed, and
// its last completion stayed where it was.) NATS reachable again, the
// next pass deletes them and counts its deletion done, which clears
// NuisanceRetentionDLQCopiesKept. Not parallel: it reads the process's
// metrics.
func TestErasesWhenTheDLQCannotBeReached(t *testing.T) {
	n := testenv.StartNATS(t)
	pool, job := setup(t, retention.Config{PII: 10 * day, DLQ: n.JS})
	ctx := context.Background()
	payload := []byte(`{"event_id":"y.received","complaint_id":"y","ticket_id":"T","description":"请回电13812345678","caller":{"name":"王小明","phone":"13812345678"}}`)
	id, seq := dlqCopy(t, n.JS, pool, "unreached.received", "boom", payload, 20*day)
	n.NC.Close()

	failures := metric(t, "nuisance_retention_dlq_delete_failures_total")
	done := metric(t, "nuisance_retention_dlq_deletions_done_total")
	before := time.Now().Add(-time.Second)
	res, err := job.RunOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "DLQ") {
		t.Errorf("the pass says %v, want the DLQ copies not deleted", err)
	}
	if res.ErasedLetters != 1 {
		t.Errorf("%d dead letters erased, want 1: the erasure in PostgreSQL waited on NATS", res.ErasedLetters)
	}
	if got := metric(t, "nuisance_retention_last_pass_timestamp_seconds"); got < float64(before.Unix()) {
		t.Errorf("the last pass is at %v, before this one: the pass did not count as made", time.Unix(int64(got), 0))
	}
	if got := metric(t, "nuisance_retention_dlq_delete_failures_total"); got != failures+1 {
		t.Errorf("nuisance_retention_dlq_delete_failures_total went from %v to %v, want one more", failures, got)
	}
	if got := copiesOf(t, pool, id); !slices.Equal(got, []uint64{seq}) {
		t.Errorf("the copies recorded are %v, want [%d] kept for the next pass", got, seq)
	}
	if got := metric(t, "nuisance_retention_dlq_deletions_done_total"); got != done {
		t.Errorf("nuisance_retention_dlq_deletions_done_total went from %v to %v on a pass that deleted nothing", done, got)
	}

	nc, err := natsx.Connect(n.Server.URL(), t.Name(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := retention.New(retention.Config{PII: 10 * day, DLQ: js, Pages: 2}, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := again.RunOnce(ctx); err != nil || res.DLQDeleted != 1 {
		t.Errorf("NATS reachable again, the pass deleted %d copies (%v), want 1", res.DLQDeleted, err)
	}
	if got := metric(t, "nuisance_retention_dlq_deletions_done_total"); got != done+1 {
		t.Errorf("nuisance_retention_dlq_deletions_done_total went from %v to %v, want one more", done, got)
	}
	if got := metric(t, "nuisance_retention_dlq_delete_failures_total"); got != failures+1 {
		t.Errorf("nuisance_retention_dlq_delete_failures_total went from %v to %v over both passes, want one more", failures, got)
	}
}

// metric is the value of the process's metric name (one series, no labels).
func metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// outboxed writes event to the outbox, unsent, or sent sentAgo ago when
// sentAgo > 0.
func outboxed(t *testing.T, pool *pgxpool.Pool, event, subject string, writtenAgo, sentAgo time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO outbox (event_id, subject, payload, created_at, sent_at)
		VALUES ($1, $2, '{}', now() - $3::interval, CASE WHEN $4 THEN now() - $5::interval END)`,
		event, subject, writtenAgo.String(), sentAgo > 0, sentAgo.String())
}

// A complaint whose event was lost (published and never handled, no
// stage giving up on it) is in no case, on no list and on no dead
// letter: nothing moves it on once the outbox has dropped its events and
// the streams their messages. It loses its caller once it was stored
// longer ago than the retention period and the idempotency window (37
// days), after which neither the outbox's sweeper nor JetStream can
// bring its event back. With a period of 10 days, one stored 50 days ago
// is erased; one stored 20 days ago (within the window), one whose
// complaint.received is still unsent in the outbox (the relay down that
// long) and one whose complaint.located the outbox still holds, sent 3
// days ago (the sweeper may publish it again), keep theirs, as do one of
// an open case and one on triage within the period. (Such a complaint
// kept its caller for ever: only a case, triage, a dead letter and
// history were read.)
func TestErasesCallersOfComplaintsWhoseEventWasLost(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 10 * day})
	complaint(t, pool, "lost-long-ago", "", 50*day, 0)
	complaint(t, pool, "lost-lately", "", 20*day, 0)
	complaint(t, pool, "received-unsent", "", 50*day, 0)
	outboxed(t, pool, "received-unsent.received", "complaint.received", 50*day, 0)
	complaint(t, pool, "located-in-outbox", "", 50*day, 0)
	outboxed(t, pool, "located-in-outbox.located", "complaint.located.siming.noise", 50*day, 3*day)
	complaint(t, pool, "open-case", "assigned", 50*day, 0)
	complaint(t, pool, "on-the-list", "", 50*day, 0)
	onTriage(t, pool, "on-the-list", "unlocated", 5*day, 0)
	// Another complaint's event, whose id begins with this one's.
	complaint(t, pool, "lost", "", 50*day, 0)
	outboxed(t, pool, "lost-2.received", "complaint.received", 50*day, 0)

	if res := pass(t, job); res.Erased != 2 {
		t.Errorf("erased %d complaints, want 2", res.Erased)
	}
	for _, id := range []string{"lost-long-ago", "lost"} {
		if h := callerOf(t, pool, id); h.name != nil || h.phone != nil || !h.erased ||
			strings.Contains(*h.description, "13812345678") || strings.Contains(*h.address, "5123456") {
			t.Errorf("%s: caller still held (name %v, phone %v, erased %v)", id, h.name != nil, h.phone != nil, h.erased)
		}
	}
	for _, id := range []string{"lost-lately", "received-unsent", "located-in-outbox", "open-case", "on-the-list"} {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil || h.name == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if again := pass(t, job); again.Erased != 0 {
		t.Errorf("a second pass erased %d more", again.Erased)
	}
}

// corrected records correction n of complaint id, made ago ago, applied.
func corrected(t *testing.T, pool *pgxpool.Pool, id string, n int, ago time.Duration) {
	t.Helper()
	exec(t, pool, `INSERT INTO triage_corrections (complaint_id, n, officer_id, at, kind, district, category, subcategory, event_id, applied_at)
		VALUES ($1, $2::int, 'sup', now() - $3::interval, 'unlocated', 'siming', 'noise', 'social_life', $1 || '.triage.corrected.' || $2::int, now() - $3::interval)`,
		id, n, ago.String())
}

// A complaint a supervisor corrected on triage is back in the pipeline,
// its correction's events (triage.corrected, complaint.located.c<n>,
// complaint.clustered.c<n>) carrying it on; one of them lost, it stays
// in no case with its entry corrected. With a period of 10 days, one
// stored 60 days ago and corrected 50 days ago, none of its correction's
// events in the outbox, is erased like a complaint never triaged whose
// event was lost. One corrected 20 days ago (within the 37 days), one
// whose complaint.located.c1 the outbox still holds, one whose
// triage.corrected the relay has not sent, one whose second correction's
// complaint.clustered.c2 is there, and one back on the list (the router
// could not route it again) keep theirs. (A corrected complaint whose
// later event was lost kept its caller for ever: any triage entry held
// it.)
func TestErasesCallersOfCorrectedComplaintsWhoseEventWasLost(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 10 * day})
	ids := []string{"corrected-lost", "corrected-lately", "located-in-outbox", "correction-unsent", "second-in-outbox", "back-on-the-list"}
	for _, id := range ids {
		complaint(t, pool, id, "", 60*day, 0)
	}
	onTriage(t, pool, "corrected-lost", "unlocated", 60*day, 50*day)
	corrected(t, pool, "corrected-lost", 1, 50*day)
	onTriage(t, pool, "corrected-lately", "unlocated", 60*day, 20*day)
	corrected(t, pool, "corrected-lately", 1, 20*day)
	onTriage(t, pool, "located-in-outbox", "unclassified", 60*day, 50*day)
	corrected(t, pool, "located-in-outbox", 1, 50*day)
	outboxed(t, pool, "located-in-outbox.located.c1", "complaint.located.siming.noise", 50*day, 3*day)
	onTriage(t, pool, "correction-unsent", "unlocated", 60*day, 50*day)
	corrected(t, pool, "correction-unsent", 1, 50*day)
	outboxed(t, pool, "correction-unsent.triage.corrected.1", "triage.corrected", 50*day, 0)
	onTriage(t, pool, "second-in-outbox", "unrouted", 60*day, 45*day)
	corrected(t, pool, "second-in-outbox", 1, 55*day)
	corrected(t, pool, "second-in-outbox", 2, 45*day)
	outboxed(t, pool, "second-in-outbox.clustered.c2", "complaint.clustered.siming.noise", 45*day, 2*day)
	onTriage(t, pool, "back-on-the-list", "unrouted", 5*day, 0)
	corrected(t, pool, "back-on-the-list", 1, 50*day)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	if h := callerOf(t, pool, "corrected-lost"); h.name != nil || h.phone != nil || !h.erased ||
		strings.Contains(*h.description, "13812345678") || strings.Contains(*h.address, "5123456") {
		t.Errorf("corrected 50 days ago, its event lost: caller still held (name %v, phone %v, erased %v)", h.name != nil, h.phone != nil, h.erased)
	}
	for _, id := range ids[1:] {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil || h.name == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if again := pass(t, job); again.Erased != 0 {
		t.Errorf("a second pass erased %d more", again.Erased)
	}
}

// A complaint whose dead letter was handled since (sent again and taken)
// moved on, and one whose later event was then lost stops as one never
// dead-lettered does: with a period of 10 days, one stored 60 days ago
// whose complaint.received was dead-lettered 59 days ago and handled 58
// days ago, nothing of it in the outbox, is erased, its dead letter kept
// for the operator (NUISANCE_DEAD_LETTER_RETENTION off). One whose dead
// letter is not handled (written 5 days ago, within the period a dead
// letter stops it), one with a handled dead letter beside one not
// handled, one whose handled dead letter was sent again 20 days ago
// (within the 37 days), one whose retry an operator asked for and the
// relay has not sent, and one whose next event the outbox still holds
// keep theirs. (A handled dead letter held the complaint until its row
// was deleted: for ever, with NUISANCE_DEAD_LETTER_RETENTION off.)
func TestErasesCallersOfComplaintsWhoseEventWasLostAfterAHandledDeadLetter(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 10 * day})
	ids := []string{"handled-then-lost", "not-handled", "one-of-two-handled", "sent-again-lately", "retry-waiting", "next-in-outbox"}
	for _, id := range ids {
		complaint(t, pool, id, "", 60*day, 0)
	}
	handled := func(consumer, event string, ago time.Duration) {
		t.Helper()
		exec(t, pool, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, now() - $3::interval)`, consumer, event, ago.String())
	}
	deadLetter(t, pool, "geocoder", "handled-then-lost.received", 59*day)
	handled("geocoder", "handled-then-lost.received", 58*day)
	deadLetter(t, pool, "hotspots", "not-handled.located", 5*day)
	deadLetter(t, pool, "geocoder", "one-of-two-handled.received", 59*day)
	handled("geocoder", "one-of-two-handled.received", 58*day)
	deadLetter(t, pool, "router", "one-of-two-handled.clustered", 5*day)
	deadLetter(t, pool, "geocoder", "sent-again-lately.received", 59*day)
	exec(t, pool, `UPDATE dead_letters SET retry_requested_at = now() - interval '20 days', retried_at = now() - interval '20 days'
		WHERE event_id = 'sent-again-lately.received'`)
	handled("geocoder", "sent-again-lately.received", 20*day)
	deadLetter(t, pool, "geocoder", "retry-waiting.received", 59*day)
	handled("geocoder", "retry-waiting.received", 58*day)
	exec(t, pool, `UPDATE dead_letters SET retry_requested_at = now() - interval '50 days' WHERE event_id = 'retry-waiting.received'`)
	deadLetter(t, pool, "geocoder", "next-in-outbox.received", 59*day)
	handled("geocoder", "next-in-outbox.received", 58*day)
	outboxed(t, pool, "next-in-outbox.located", "complaint.located.siming.noise", 58*day, 3*day)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	if h := callerOf(t, pool, "handled-then-lost"); h.name != nil || h.phone != nil || !h.erased ||
		strings.Contains(*h.description, "13812345678") || strings.Contains(*h.address, "5123456") {
		t.Errorf("dead letter handled, later event lost: caller still held (name %v, phone %v, erased %v)", h.name != nil, h.phone != nil, h.erased)
	}
	for _, id := range ids[1:] {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil || h.name == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM dead_letters`); n != 7 {
		t.Errorf("%d dead letters left, want all 7: an operator must still see them", n)
	}
	if again := pass(t, job); again.Erased != 0 {
		t.Errorf("a second pass erased %d more", again.Erased)
	}
}

// A message dead-lettered again past the DLQ stream's duplicate window
// (2 minutes: its termination was lost and it came back) is copied to
// the stream again, under a sequence of its own. A pass deletes both
// copies of the dead letter, as the consumer of a version before
// dead_letter_copies recorded them too (dlq_seq, written over by the
// second): the database keeps each. (The first copy stayed the stream's
// 30 days, the payload whole.)
func TestDeletesEveryDLQCopyOfADeadLetter(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	pool, job := setup(t, retention.Config{PII: 10 * day, DLQ: n.JS})
	ctx := context.Background()
	payload := []byte(`{"event_id":"z.received","complaint_id":"z","ticket_id":"T","description":"请回电13812345678","caller":{"name":"王小明","phone":"13812345678"}}`)
	id := letter(t, pool, "geocoder", "complaint.received", "twice.received", "boom", payload, 20*day)
	st, err := n.JS.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for i := range 2 {
		m := nats.NewMsg("dlq.geocoder")
		m.Data = payload
		// One Nats-Msg-Id past the window is no duplicate; two stand for it.
		m.Header.Set(jetstream.MsgIDHeader, "dlq:geocoder:COMPLAINTS:7:"+strconv.Itoa(i))
		ack, err := n.JS.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Sequence)
		exec(t, pool, `UPDATE dead_letters SET dlq_seq = $2, dlq_stream_created = $3 WHERE id = $1`, id, int64(ack.Sequence), st.CachedInfo().Created)
	}

	if res := pass(t, job); res.DLQDeleted != 2 {
		t.Errorf("%d copies deleted, want both", res.DLQDeleted)
	}
	for _, seq := range seqs {
		if _, err := st.GetMsg(ctx, seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("the copy %d of the dead letter 20 days old is still on the DLQ stream (%v)", seq, err)
		}
	}
	if c := count(t, pool, `SELECT count(*) FROM dead_letters`); c != 1 {
		t.Errorf("%d dead letters left, want the one", c)
	}
	if again := pass(t, job); again.DLQDeleted != 0 {
		t.Errorf("a second pass deleted %d more", again.DLQDeleted)
	}
}

// PostgreSQL failing in the pass's DLQ step (here, as the deleted copy
// is forgotten) fails the pass as it does in any other step: the pass is
// not counted as made, and it is no DLQ deletion failure, which
// NuisanceRetentionDLQCopiesKept would blame on NATS and its
// permissions. (It was counted in
// nuisance_retention_dlq_delete_failures_total, the pass made.) Not
// parallel: it reads the process's metrics.
func TestAPostgreSQLFailureInTheDLQStepFailsThePass(t *testing.T) {
	n := testenv.StartNATS(t)
	pool, job := setup(t, retention.Config{PII: 10 * day, DLQ: n.JS})
	ctx := context.Background()
	payload := []byte(`{"event_id":"w.received","complaint_id":"w","ticket_id":"T"}`)
	id, seq := dlqCopy(t, n.JS, pool, "pgfails.received", "boom", payload, 20*day)
	exec(t, pool, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
	exec(t, pool, `CREATE TRIGGER refuse BEFORE DELETE ON dead_letter_copies FOR EACH ROW EXECUTE FUNCTION refuse()`)

	failures := metric(t, "nuisance_retention_dlq_delete_failures_total")
	done := metric(t, "nuisance_retention_dlq_deletions_done_total")
	last := metric(t, "nuisance_retention_last_pass_timestamp_seconds")
	if _, err := job.RunOnce(ctx); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("the pass says %v, want PostgreSQL's error", err)
	}
	if got := metric(t, "nuisance_retention_dlq_delete_failures_total"); got != failures {
		t.Errorf("nuisance_retention_dlq_delete_failures_total went from %v to %v on PostgreSQL's failure", failures, got)
	}
	if got := metric(t, "nuisance_retention_dlq_deletions_done_total"); got != done {
		t.Errorf("nuisance_retention_dlq_deletions_done_total went from %v to %v on a failed pass", done, got)
	}
	if got := metric(t, "nuisance_retention_last_pass_timestamp_seconds"); got != last {
		t.Errorf("the last pass moved from %v to %v: a pass PostgreSQL failed counted as made", last, got)
	}
	if got := copiesOf(t, pool, id); !slices.Equal(got, []uint64{seq}) {
		t.Errorf("the copies recorded are %v, want [%d] kept", got, seq)
	}
}
