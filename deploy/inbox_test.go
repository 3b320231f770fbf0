package deploy

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// TestServiceUsersCannotReadOtherUsersInboxes: JetStream delivers what a
// consumer pulls (and answers API calls) on the puller's inbox. A service
// user must not be able to subscribe to the inboxes of another user, or it
// reads every event that user pulls: here the intake, which consumes
// nothing, reads the complaints the geocoder pulls, and the dead letters
// the operator lists.
func TestServiceUsersCannotReadOtherUsersInboxes(t *testing.T) {
	t.Parallel()
	url, pw := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op := connect(t, url, OperatorUser, pw[OperatorUser])
	if err := natsx.DeclareStreams(ctx, op.js, 1); err != nil {
		t.Fatal(err)
	}
	spy := connect(t, url, "intake", pw["intake"])
	var mu sync.Mutex
	var seen [][]byte
	for _, subj := range []string{"_INBOX.>", "_INBOX_geocoder.>", "_INBOX_operator.>"} {
		// Refused subscriptions are reported asynchronously; what matters
		// is that nothing arrives.
		_, _ = spy.nc.Subscribe(subj, func(m *nats.Msg) {
			mu.Lock()
			seen = append(seen, m.Data)
			mu.Unlock()
		})
	}
	_ = spy.nc.Flush()

	secret := []byte(`{"event_id":"c1.received","description":"邻居装修 电话13812345678"}`)
	if _, err := op.js.Publish(ctx, "complaint.received", secret); err != nil {
		t.Fatal(err)
	}
	geo := connect(t, url, "geocoder", pw["geocoder"])
	cons, err := geo.js.CreateOrUpdateConsumer(ctx, "COMPLAINTS", jetstream.ConsumerConfig{
		Durable: "geocoder", FilterSubject: "complaint.received", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		got++
		_ = m.Ack()
	}
	if got != 1 {
		t.Fatalf("the geocoder fetched %d complaints, want 1", got)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, d := range seen {
		if bytes.Contains(d, []byte("13812345678")) {
			t.Fatalf("the intake's user read a complaint the geocoder pulled, through its inbox: %s", d)
		}
	}
}

// TestServiceUsersCannotRepublishStreams: a service user that may update
// any stream can add a RePublish to it, which copies every message the
// stream stores onto a subject of the user's choosing, such as its own
// inbox: the intake would read the dead letters, or every case event.
// Services declare the streams; only the operator changes them.
func TestServiceUsersCannotRepublishStreams(t *testing.T) {
	t.Parallel()
	url, pw := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op := connect(t, url, OperatorUser, pw[OperatorUser])
	if err := natsx.DeclareStreams(ctx, op.js, 1); err != nil {
		t.Fatal(err)
	}
	spy := connect(t, url, "intake", pw["intake"])
	// A service still declares the streams at start.
	if err := natsx.DeclareStreams(ctx, spy.js, 1); err != nil {
		t.Fatalf("the intake cannot declare the streams any more: %v", err)
	}
	got := make(chan []byte, 16)
	if _, err := spy.nc.Subscribe(natsx.InboxPrefix("intake")+".>", func(m *nats.Msg) { got <- m.Data }); err != nil {
		t.Fatal(err)
	}
	st, err := op.js.Stream(ctx, "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.RePublish = &jetstream.RePublish{Source: ">", Destination: natsx.InboxPrefix("intake") + ".stolen.>"}
	uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = spy.js.UpdateStream(uctx, cfg)
	ucancel()
	if _, err := op.js.Publish(ctx, "dlq.geocoder", []byte(`{"original":"电话13812345678"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Second)
	for {
		select {
		case d := <-got:
			if bytes.Contains(d, []byte("13812345678")) {
				t.Fatalf("the intake's user re-published the DLQ stream to itself and read a dead letter: %s", d)
			}
		case <-deadline:
			return
		}
	}
}
