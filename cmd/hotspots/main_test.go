package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

func TestRunClustersAndServesUntilCancelled(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	p := testenv.StartProcess(t, n, run, []string{"-districts", "siming"}, nil)
	dsn, addr := p.DSN, p.Addr

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

	p.Stop(t)
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LOG_LEVEL": "loud", "NUISANCE_DATA_DIR": t.TempDir()}
	if err := run(context.Background(), nil, func(k string) string { return env[k] }, &testenv.SyncBuffer{}); err == nil {
		t.Fatal("run accepted LOG_LEVEL=loud")
	}
	if err := run(context.Background(), []string{"-batch=x"}, func(string) string { return "" }, &testenv.SyncBuffer{}); err == nil {
		t.Fatal("run accepted -batch=x")
	}
}
