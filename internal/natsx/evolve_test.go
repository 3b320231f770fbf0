package natsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A rolling upgrade: the new intake already writes a value the old
// schema's enum does not list (a new coordinate system), and an old
// geocoder replica takes the event first, then is replaced by a new one.
// The old replica must leave the event to be delivered again, not dead-
// letter it at its first sight: a dead letter is final (the sweeper
// counts it as dealt with), so the complaint would wait for an operator's
// `deadletters retry` although the new replica handles it.
func TestAnEventFromANewerProducerIsLeftForANewerReplica(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	spec := natsx.ConsumerSpec{Stream: "COMPLAINTS", Durable: "test", Filters: []string{"complaint.received"},
		Schema: "complaint.received.v1", MaxDeliver: 8, AckWait: 5 * time.Second}
	oldCtx, stopOld := context.WithCancel(context.Background())
	old, err := natsx.NewConsumer(oldCtx, s.n.JS, s.pool, testenv.Log(t), spec, record)
	if err != nil {
		t.Fatal(err)
	}
	oldDone := make(chan struct{})
	go func() { _ = old.Run(oldCtx); close(oldDone) }()
	s.publish(t, "n1", []byte(`{"event_id":"n1","complaint_id":"c1","ticket_id":"t1","received_at":"2024-03-11T22:00:00Z","description":"夜间施工噪声","location":{"lon":118.1,"lat":24.5,"crs":"cgcs2000"}}`))
	time.Sleep(1500 * time.Millisecond) // the old replica has seen it
	stopOld()
	<-oldDone

	// The new replica: its schema lists the new value (here: no enum).
	spec.Schema = ""
	newCtx, stopNew := context.WithCancel(context.Background())
	defer stopNew()
	nw, err := natsx.NewConsumer(newCtx, s.n.JS, s.pool, testenv.Log(t), spec, record)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = nw.Run(newCtx) }()
	testenv.Eventually(t, 20*time.Second, "the new replica handles the event", func() bool {
		return s.count(t, `SELECT count(*) FROM effects WHERE event_id = 'n1'`) == 1
	})
	if n := s.count(t, `SELECT count(*) FROM dead_letters WHERE event_id = 'n1'`); n != 0 {
		t.Fatalf("the old replica dead-lettered an event a newer replica handles (%d dead letters)", n)
	}
}
