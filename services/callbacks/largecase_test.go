package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// A long-lived case (a site complained of every day, reopened within its
// 30-day window, for a year or two) holds thousands of work orders. Its
// resolution must still reach every one of them: no case event may exceed
// what NATS accepts (1 MiB), whatever the case's size.
//
// 15,700 work orders with the longest ticket_id the intake schema allows
// (64 characters) make a case.resolved event of just over 1 MiB.
func TestALargeCaseStillAnswersEveryTicket(t *testing.T) {
	const members = 15_700
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.ctx = ctx
	n := testenv.StartNATS(t)
	relayCtx, stopRelay := context.WithCancel(ctx)
	relay := &outbox.Relay{Pool: e.pool, JS: n.JS, Log: testenv.Log(t), Poll: 20 * time.Millisecond}
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = relay.Run(relayCtx) }()
	t.Cleanup(func() { stopRelay(); <-relayDone })
	svc := e.service(t, "", n.JS)
	e.run(t, svc)

	pad := func(i int) string { return fmt.Sprintf("XM12345-%056d", i) } // 64 characters
	first := e.complaint(t, pad(0))
	id := caseflow.IDFor(first)
	officer := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if _, _, err := caseflow.Open(ctx, tx, router, caseflow.NewCase{ID: id, ComplaintID: first, Category: "noise", District: "siming", OpenedAt: time.Now()}); err != nil {
			return err
		}
		_, err := caseflow.Assign(ctx, tx, id, router, caseflow.Assignment{Team: "siming-eco", Mode: routing.ModeOnSite, Priority: routing.PriorityNormal,
			SignDue: time.Now().Add(24 * time.Hour), ResolveDue: time.Now().Add(120 * time.Hour)})
		return err
	})
	// The repeat complaints of the case's life, joined as the router's
	// merges would have joined them (their merge callbacks are not what
	// this test is about).
	if _, err := e.pool.Exec(ctx, `WITH m AS (
			INSERT INTO complaints (id, ticket_id, received_at, description)
			SELECT 'cmp_big_' || g, 'XM12345-' || lpad(g::text, 56, '0'), now(), '夜间施工' FROM generate_series(1, $1::int) g
			RETURNING id)
		INSERT INTO case_complaints (complaint_id, case_id) SELECT id, $2 FROM m`, members-1, id); err != nil {
		t.Fatal(err)
	}
	e.tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, id, officer); err != nil {
			return err
		}
		_, err := caseflow.Resolve(ctx, tx, id, officer, caseflow.OutcomeRectified, "施工已停止")
		return err
	})
	var biggest int
	if err := e.pool.QueryRow(ctx, `SELECT max(octet_length(payload::text)) FROM outbox WHERE subject LIKE 'case.%'`).Scan(&biggest); err != nil {
		t.Fatal(err)
	}
	t.Logf("largest case event: %d bytes; NATS max payload %d", biggest, 1<<20)
	testenv.Eventually(t, 60*time.Second, "every work order has its resolution callback", func() bool {
		var got int
		err := e.pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE case_id = $1 AND status = 'resolved'`, id).Scan(&got)
		return err == nil && got == members
	})
}

// A case event of the version before paging names every work order of
// its case in one event, however many (up to NATS's 1 MiB: some 15,000).
// Such events are in JetStream and in the outbox when the new version
// starts, and the old replicas go on writing them during a rolling
// upgrade: the callbacks must still answer every work order of one, not
// refuse it by the new schema's bound and dead-letter it.
func TestAnUnpagedEventOfTheVersionBeforeIsAnswered(t *testing.T) {
	const members = 1_200
	e := setup(t)
	n := testenv.StartNATS(t)
	svc := e.service(t, "", n.JS, func(c *callbacks.Config) { c.MaxDeliver = 2 })
	e.run(t, svc)
	tickets := make([]string, members)
	for i := range tickets {
		tickets[i] = fmt.Sprintf("T-old-%05d", i)
	}
	ev := event.CaseChanged{EventID: "case_old.resolved.4", CaseID: "case_old", Kind: caseflow.KindResolved, Status: caseflow.StatusResolved,
		Team: "siming-eco", Category: "noise", District: "siming", Actor: "officer:o1", Tickets: tickets, At: time.Now().UTC()}
	bear(t, e.ctx, e.pool, ev)
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(caseflow.Subject(caseflow.KindResolved, ""))
	m.Data = data
	if _, err := n.JS.PublishMsg(e.ctx, m); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "every work order of the unpaged event has its callback", func() bool {
		var got, dead int
		_ = e.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM callbacks WHERE case_id = 'case_old'),
			(SELECT count(*) FROM dead_letters WHERE event_id = 'case_old.resolved.4')`).Scan(&got, &dead)
		if dead > 0 {
			t.Fatalf("the event was dead-lettered")
		}
		return got == members
	})
}
