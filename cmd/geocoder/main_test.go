package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func TestRunGeocodesUntilCancelled(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	p := testenv.StartProcess(t, n, run, nil, nil)
	dsn, addr := p.DSN, p.Addr

	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO complaints (id, ticket_id, received_at, description, address)
		VALUES ('c1', 'T1', now(), '楼下KTV半夜唱歌', '湖里区江头街道')`); err != nil {
		t.Fatal(err)
	}
	ev := event.ComplaintReceived{EventID: "c1.received", ComplaintID: "c1", TicketID: "T1", ReceivedAt: time.Now(),
		Description: "楼下KTV半夜唱歌", Address: "湖里区江头街道"}
	b, _ := json.Marshal(ev)
	m := nats.NewMsg(event.SubjComplaintReceived)
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, ev.EventID)
	if _, err := n.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the complaint located", func() bool {
		var district string
		err := pool.QueryRow(context.Background(), `SELECT district FROM locations WHERE complaint_id = 'c1'`).Scan(&district)
		return err == nil && district == "huli"
	})

	p.Stop(t)
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LOG_LEVEL": "loud", "NUISANCE_DATA_DIR": t.TempDir()}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &testenv.SyncBuffer{})
	if err == nil {
		t.Fatal("run accepted LOG_LEVEL=loud")
	}
	if err := run(context.Background(), []string{"-batch=x"}, func(string) string { return "" }, &testenv.SyncBuffer{}); err == nil {
		t.Fatal("run accepted -batch=x")
	}
}
