package outbox_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// PostgreSQL unreachable, the relay's pass fails at each poll and its
// redrive at each of its rounds: each warned every time, once a second
// and every 5 s in production. Each is logged at its first failure, the
// others counted, and the relay's first pass that succeeds again says it
// recovered, with how many failed.
func TestRelayLogsAnOutageAtABoundedRate(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	n := testenv.StartNATS(t)
	pool, outage := testenv.Cuttable(t, db, true)
	core, logs := observer.New(zap.InfoLevel)
	r := &outbox.Relay{Pool: pool, JS: n.JS, Log: zap.New(core), Poll: 5 * time.Millisecond, RedriveEvery: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 20*time.Second, "100 connections refused", func() bool { return outage.Refused() >= 100 })
	outage.Down(false)
	addEvents(t, db, 1, "back")
	testenv.Eventually(t, 20*time.Second, "an event relayed once PostgreSQL is back", func() bool { return streamMsgs(t, n) == 1 })
	if n := logs.FilterMessage("outbox relay").Len(); n != 1 {
		t.Errorf("%d warnings \"outbox relay\" in an outage of %d failed connections, want 1", n, outage.Refused())
	}
	if n := logs.FilterMessage("send dead letters again").Len(); n != 1 {
		t.Errorf("%d warnings \"send dead letters again\" in an outage, want 1", n)
	}
	testenv.Eventually(t, 5*time.Second, "the relay says it recovered", func() bool {
		return logs.FilterMessage("outbox relay: recovered").Len() > 0
	})
	back := logs.FilterMessage("outbox relay: recovered").All()[0].ContextMap()
	if f, _ := back["failures"].(int64); f < 20 {
		t.Errorf("the recovery counts %v failures, want the outage's (20 or more): %v", back["failures"], back)
	}
}
