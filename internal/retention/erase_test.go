package retention_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/retention"
)

// complaint stores a work order with its caller, the phone written into
// its words too, in a case of status that ended (resolved or closed)
// endedAgo ago; caseStatus "" leaves it in no case (triage).
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
// and the phone numbers in their words and address masked; the callers
// of a case that ended within the period, of a case still open however
// old, and of a complaint in no case (triage) stay. The hotline's status
// look-up answers the erased work order as before.
func TestErasesCallersOfCasesEndedLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day, Complaints: 2})
	complaint(t, pool, "closed-long-ago", "closed", 400*day, 200*day)
	complaint(t, pool, "resolved-long-ago", "resolved", 300*day, 190*day)
	complaint(t, pool, "closed-lately", "closed", 400*day, 170*day)
	complaint(t, pool, "open-for-long", "assigned", 500*day, 0)
	complaint(t, pool, "in-triage", "", 500*day, 0)
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
	if res.Erased != 7 {
		t.Errorf("erased %d complaints, want 7", res.Erased)
	}
	for _, id := range []string{"closed-long-ago", "resolved-long-ago", "closed-a", "closed-e"} {
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
	for _, id := range []string{"closed-lately", "open-for-long", "in-triage"} {
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
// like that of any case closed that long ago. (Taken for a complaint in
// triage, it kept its caller for ever, and every pass read it again.)
func TestErasesCallersOfHistoryLongAgo(t *testing.T) {
	t.Parallel()
	pool, job := setup(t, retention.Config{PII: 180 * day})
	complaint(t, pool, "history-long-ago", "", 400*day, 0)
	complaint(t, pool, "history-lately", "", 170*day, 0)
	exec(t, pool, `UPDATE complaints SET history = true WHERE id LIKE 'history-%'`)
	complaint(t, pool, "in-triage", "", 500*day, 0)

	if res := pass(t, job); res.Erased != 1 {
		t.Errorf("erased %d complaints, want 1", res.Erased)
	}
	if h := callerOf(t, pool, "history-long-ago"); h.name != nil || h.phone != nil || !h.erased ||
		strings.Contains(*h.description, "13812345678") {
		t.Errorf("history stored 400 days ago: caller still held (name %v, phone %v, erased %v)", h.name != nil, h.phone != nil, h.erased)
	}
	for _, id := range []string{"history-lately", "in-triage"} {
		if h := callerOf(t, pool, id); h.erased || h.phone == nil {
			t.Errorf("%s: personal data it must keep was erased", id)
		}
	}
}
