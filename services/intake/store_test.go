package intake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func storeSetup(t *testing.T) *Service {
	t.Helper()
	s, err := New(DefaultConfig(benchSecret), testenv.DB(t), testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Service) submission(t *testing.T, ticket, webhookID, description string) *submission {
	t.Helper()
	body := strings.Replace(string(benchBody(ticket)), "工地夜间打桩噪声扰民，已经连续三天", description, 1)
	c, fields, err := s.parser.Parse([]byte(body))
	if err != nil || len(fields) > 0 {
		t.Fatalf("parse %s: %v %v", body, err, fields)
	}
	sub, err := s.prepare(c, webhookID, false)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func answers(batch []*submission) []result {
	out := make([]result, len(batch))
	for i, sub := range batch {
		out[i] = <-sub.done
	}
	return out
}

func (s *Service) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// One group commit holds new work orders, a duplicate ticket and a retried
// delivery, of each other and of work orders stored before: each gets its
// own answer, and each ticket is stored once with one event.
func TestGroupCommitAnswersEachWorkOrder(t *testing.T) {
	t.Parallel()
	s := storeSetup(t)
	ctx := context.Background()
	first := []*submission{s.submission(t, "T-old", "w-old", "吵")}
	s.commit(ctx, first)
	old := answers(first)[0]
	if old.err != nil || old.status != http.StatusAccepted {
		t.Fatalf("first commit answered %+v", old)
	}
	batch := []*submission{
		s.submission(t, "T-a", "w-a", "吵"),
		s.submission(t, "T-a", "w-a2", "吵"), // the same ticket in a new delivery
		s.submission(t, "T-b", "w-b", "吵"),
		s.submission(t, "T-b", "w-b", "吵"),      // the same delivery twice
		s.submission(t, "T-old", "w-old2", "吵"), // a ticket stored before
		s.submission(t, "T-old", "w-old", "吵"),  // a delivery stored before
		s.submission(t, "T-old", "w-b", "吵"),    // a ticket stored before, under another's delivery id
		s.submission(t, "T-c", "w-old", "吵"),    // another work order under a stored delivery's id
		s.submission(t, "T-d", "w-a", "吵"),      // another work order under the id of one in the batch
	}
	s.commit(ctx, batch)
	got := answers(batch)
	for i, r := range got[:7] {
		if r.err != nil {
			t.Fatalf("answer %d: %v", i, r.err)
		}
	}
	// A reused webhook-id is not a retry: taken for one, the work order
	// would be answered as the other and never stored.
	for i, other := range map[int]string{7: "T-old", 8: "T-a"} {
		var reused WebhookReusedError
		if !errors.As(got[i].err, &reused) || reused.OtherTicket != other {
			t.Errorf("work order %d, under %s's webhook-id, answered %d %+v (%v); want it refused as a reused id", i, other, got[i].status, got[i].ans, got[i].err)
		}
	}
	want := []struct {
		status int
		kind   string
		sameAs Answer
	}{
		{http.StatusAccepted, "accepted", got[0].ans},
		{http.StatusOK, "duplicate", got[0].ans},
		{http.StatusAccepted, "accepted", got[2].ans},
		{http.StatusAccepted, "accepted", got[2].ans},
		{http.StatusOK, "duplicate", old.ans},
		{http.StatusAccepted, "accepted", old.ans},
		{http.StatusOK, "duplicate", old.ans},
	}
	for i, w := range want {
		r := got[i]
		if r.status != w.status || r.ans.Status != w.kind || r.ans.ComplaintID != w.sameAs.ComplaintID || r.ans.TicketID != w.sameAs.TicketID {
			t.Errorf("work order %d answered %d %+v, want %d %s of %+v", i, r.status, r.ans, w.status, w.kind, w.sameAs)
		}
	}
	if got[0].ans.ComplaintID != batch[0].id || got[2].ans.ComplaintID != batch[2].id {
		t.Errorf("new work orders answered with %s and %s, not their own ids", got[0].ans.ComplaintID, got[2].ans.ComplaintID)
	}
	if n := s.count(t, `SELECT count(*) FROM complaints`); n != 3 {
		t.Errorf("%d complaints stored, want 3", n)
	}
	if n := s.count(t, `SELECT count(*) FROM outbox o JOIN complaints c ON o.event_id = c.id || '.received'`); n != 3 {
		t.Errorf("%d complaint.received events for the stored complaints, want 3", n)
	}
	if n := s.count(t, `SELECT count(*) FROM outbox`); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}

// A work order PostgreSQL refuses fails alone: the rest of its group
// commit is stored and accepted.
func TestGroupCommitBadWorkOrderFailsAlone(t *testing.T) {
	t.Parallel()
	s := storeSetup(t)
	ctx := context.Background()
	batch := []*submission{
		s.submission(t, "T-1", "w-1", "吵"),
		s.submission(t, "T-2", "w-2", "吵"),
		s.submission(t, "T-3", "w-3", "吵"),
	}
	// The decoder refuses U+0000; a work order PostgreSQL refuses for
	// some other reason fails the same way.
	batch[1].c.Description = "NUL \x00 in text"
	s.commit(ctx, batch)
	got := answers(batch)
	if got[0].status != http.StatusAccepted || got[2].status != http.StatusAccepted {
		t.Fatalf("neighbours of a bad work order answered %+v and %+v", got[0], got[2])
	}
	if got[1].err == nil {
		t.Fatalf("the bad work order answered %+v", got[1])
	}
	if n := s.count(t, `SELECT count(*) FROM complaints WHERE ticket_id IN ('T-1', 'T-3')`); n != 2 {
		t.Fatalf("%d of the good work orders stored", n)
	}
	if n := s.count(t, `SELECT count(*) FROM outbox`); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}

// The work order PostgreSQL refuses alone is logged with its ticket and
// delivery ids, which the operator needs to find it in the hotline's
// records (the hotline is answered 503 and retries it): the log said only
// "store complaints" and the batch's size.
func TestAWorkOrderRefusedAloneIsLoggedWithItsTicket(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	s, err := New(DefaultConfig(benchSecret), testenv.DB(t), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	batch := []*submission{
		s.submission(t, "T-1", "w-1", "吵"),
		s.submission(t, "T-2", "w-2", "吵"),
		s.submission(t, "T-3", "w-3", "吵"),
	}
	batch[1].c.Description = "NUL \x00 in text"
	s.commit(context.Background(), batch)
	answers(batch)
	var alone []observer.LoggedEntry
	for _, e := range logs.FilterMessage("store complaints").All() {
		if e.ContextMap()["batch"] == int64(1) {
			alone = append(alone, e)
		}
	}
	if len(alone) != 1 {
		t.Fatalf("%d failures of a work order alone logged, want 1: %v", len(alone), logs.All())
	}
	if f := alone[0].ContextMap(); f["ticket_id"] != "T-2" || f["webhook_id"] != "w-2" {
		t.Errorf("the failure is logged with ticket_id %v and webhook_id %v, want T-2 and w-2", f["ticket_id"], f["webhook_id"])
	}
}

// PostgreSQL unreachable, every request of the hotline fails its commit
// alike: the intake logged one "store complaints" error each, 909 lines in
// 100 s of an outage. The first is logged at once, the others counted
// (at most one line every 30 s says how many), and the commit that
// succeeds again logs one line with the count. A work order PostgreSQL
// refuses for what it holds, meanwhile, is still logged with its ticket.
func TestAnOutageIsLoggedAtABoundedRate(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	// The pool connects to a port nothing listens on while down: the
	// refusal is the operating system's, as in an outage.
	pool, outage := testenv.Cuttable(t, db, false)
	core, logs := observer.New(zap.InfoLevel)
	s, err := New(DefaultConfig(benchSecret), pool, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	outage.Down(true)
	pool.Reset()
	failures := 0
	for i := range 100 {
		sub := []*submission{s.submission(t, fmt.Sprintf("T-out-%d", i), fmt.Sprintf("w-out-%d", i), "吵")}
		s.commit(ctx, sub)
		if answers(sub)[0].err == nil {
			t.Fatal("a work order was stored with PostgreSQL unreachable")
		}
		failures++
	}
	batch := []*submission{s.submission(t, "T-b1", "w-b1", "吵"), s.submission(t, "T-b2", "w-b2", "吵")}
	s.commit(ctx, batch) // fails, and fails again one by one
	answers(batch)
	failures += 3
	if n := logs.FilterMessage("store complaints").Len(); n != 1 {
		t.Errorf("%d lines \"store complaints\" for %d failed commits in an outage, want 1", n, failures)
	}
	outage.Down(false)
	ok := []*submission{s.submission(t, "T-back", "w-back", "吵")}
	s.commit(ctx, ok)
	if a := answers(ok)[0]; a.err != nil {
		t.Fatalf("PostgreSQL back, the work order answered %+v", a)
	}
	back := logs.FilterMessage("store complaints: recovered").All()
	if len(back) != 1 || back[0].ContextMap()["failures"] != int64(failures) || back[0].ContextMap()["suppressed"] != int64(failures-1) {
		t.Errorf("recovery logged %v, want one line counting %d failures, %d not logged", back, failures, failures-1)
	}
	bad := []*submission{s.submission(t, "T-nul", "w-nul", "吵")}
	bad[0].c.Description = "NUL \x00 in text"
	s.commit(ctx, bad)
	answers(bad)
	if refused := logs.FilterField(zap.String("ticket_id", "T-nul")).Len(); refused != 1 {
		t.Errorf("the work order refused after the outage logged %d times with its ticket, want 1", refused)
	}
}

// One group commit holding the same delivery for both endpoints stores
// it once, by the endpoint of the first in the batch, and refuses the
// other as delivered to the other endpoint; a retry of each on its own
// endpoint in the same commit is answered as a retry.
func TestGroupCommitRefusesADeliveryToTheOtherEndpoint(t *testing.T) {
	t.Parallel()
	s := storeSetup(t)
	ctx := context.Background()
	asHistory := func(sub *submission) *submission {
		t.Helper()
		h, err := s.prepare(sub.c, sub.webhookID, true)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	batch := []*submission{
		asHistory(s.submission(t, "T-h", "w-h", "吵")),
		s.submission(t, "T-h", "w-h", "吵"), // the history's delivery, as the hotline's
		asHistory(s.submission(t, "T-h", "w-h", "吵")),
		s.submission(t, "T-l", "w-l", "吵"),
		asHistory(s.submission(t, "T-l", "w-l", "吵")), // the hotline's delivery, as history
	}
	s.commit(ctx, batch)
	got := answers(batch)
	for i, firstHistory := range map[int]bool{1: true, 4: false} {
		var other OtherEndpointError
		if !errors.As(got[i].err, &other) || other.FirstHistory != firstHistory {
			t.Errorf("work order %d, the same delivery to the other endpoint, answered %d %+v (%v); want it refused", i, got[i].status, got[i].ans, got[i].err)
		}
	}
	if r := got[2]; r.err != nil || r.status != http.StatusAccepted || r.ans != got[0].ans {
		t.Errorf("a retry of the history on its endpoint answered %d %+v (%v); want %+v", r.status, r.ans, r.err, got[0].ans)
	}
	if n := s.count(t, `SELECT count(*) FROM complaints WHERE (ticket_id = 'T-h' AND history) OR (ticket_id = 'T-l' AND NOT history)`); n != 2 {
		t.Errorf("%d of T-h (history) and T-l (the hotline's) stored as first delivered, want 2", n)
	}
}
