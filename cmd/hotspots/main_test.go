package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// syncBuffer is the process's stdout, written by the logger while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRunClustersAndServesUntilCancelled(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	n := testenv.StartNATS(t)
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL":       dsn,
		"NATS_URL":           n.Server.URL(),
		"NUISANCE_HTTP_ADDR": addr,
		"NUISANCE_DATA_DIR":  t.TempDir(),
		"LOG_LEVEL":          "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-districts", "siming"}, func(k string) string { return env[k] }, out)
	}()
	testenv.Eventually(t, 30*time.Second, "/readyz answers 200", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	at := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		id := fmt.Sprintf("c%d", i+1)
		if _, err := pool.Exec(context.Background(), `INSERT INTO complaints (id, ticket_id, received_at, description)
			VALUES ($1, 'T-' || $1, $2, '工地夜间施工噪音')`, id, at); err != nil {
			t.Fatal(err)
		}
		lon, lat := 118.0894+float64(i)*0.0001, 24.4798
		ev := event.ComplaintLocated{EventID: id + ".located", ComplaintID: id, TicketID: "T-" + id, ReceivedAt: at.Add(time.Duration(i) * time.Hour),
			District: "siming", Lon: &lon, Lat: &lat, Method: "coordinates", Confidence: 1, Category: "noise", Subcategory: "construction"}
		b, _ := json.Marshal(ev)
		m := nats.NewMsg("complaint.located.siming.noise")
		m.Data = b
		m.Header.Set(jetstream.MsgIDHeader, ev.EventID)
		if _, err := n.JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 20*time.Second, "the hotspot stored and c3.clustered relayed", func() bool {
		var sent bool
		err := pool.QueryRow(context.Background(), `SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = 'c3.clustered'`).Scan(&sent)
		return err == nil && sent
	})

	_, token, err := auth.NewStore(pool, 0).Add(context.Background(), auth.NewOfficer{Name: "督导", District: "siming", Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {token, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/hotspots", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var fc struct {
			Features []struct {
				Properties struct {
					ComplaintCount int `json:"complaint_count"`
				} `json:"properties"`
			} `json:"features"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&fc)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /api/v1/hotspots with token %v: %d, want %d", tc.token != "", resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && (len(fc.Features) != 1 || fc.Features[0].Properties.ComplaintCount != 3) {
			t.Errorf("hotspots %+v, want one of 3 complaints", fc)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, output:\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of shutdown")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LOG_LEVEL": "loud", "NUISANCE_DATA_DIR": t.TempDir()}
	if err := run(context.Background(), nil, func(k string) string { return env[k] }, &syncBuffer{}); err == nil {
		t.Fatal("run accepted LOG_LEVEL=loud")
	}
	if err := run(context.Background(), []string{"-batch=x"}, func(string) string { return "" }, &syncBuffer{}); err == nil {
		t.Fatal("run accepted -batch=x")
	}
}
