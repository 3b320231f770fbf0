package callbacks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
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
