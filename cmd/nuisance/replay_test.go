package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// countingIntake answers 202 to every post and counts them.
func countingIntake(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"complaint_id":"c","ticket_id":"t","status":"accepted"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func replayEnv(k string) string {
	return map[string]string{"HOTLINE_SECRET": e2eSecret}[k]
}

// TestReplayHoldsBackHistoryWhenAsked: the pipeline has no notion of a
// work order already handled, so a work order posted long after it was
// received opens a case whose deadlines passed long ago, escalated at
// once, and calls the hotline back. With -max-age, work orders older than
// it are not sent, and are named by line; without, every one is sent (the
// README's examples and the simulator's feeds are of 2024).
func TestReplayHoldsBackHistoryWhenAsked(t *testing.T) {
	t.Parallel()
	url, posted := countingIntake(t)
	file := filepath.Join(t.TempDir(), "history.ndjson")
	old := time.Now().AddDate(0, -6, 0).Format(time.RFC3339)
	recent := time.Now().Add(-time.Hour).Format(time.RFC3339)
	feed := fmt.Sprintf(`{"ticket_id":"A","received_at":%q,"address":"x","description":"d"}`+"\n"+
		`{"ticket_id":"B","received_at":%q,"address":"x","description":"d"}`+"\n", old, recent)
	if err := os.WriteFile(file, []byte(feed), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := runReplay(context.Background(), []string{"-q", "-max-age", "168h", "-url", url, file}, replayEnv, &out, &errb)
	if posted.Load() != 1 {
		t.Fatalf("%d work orders posted, want only the recent one; err %v\n%s", posted.Load(), err, out.String())
	}
	if err == nil || !strings.Contains(out.String(), "line 1") {
		t.Fatalf("the old work order is not reported by its line (err %v):\n%s", err, out.String())
	}
	posted.Store(0)
	out.Reset()
	if err := runReplay(context.Background(), []string{"-q", "-url", url, file}, replayEnv, &out, &errb); err != nil || posted.Load() != 2 {
		t.Fatalf("without -max-age %d of 2 posted: %v\n%s", posted.Load(), err, out.String())
	}
}

// TestReplayStreamsTheFile: a year's export is hundreds of megabytes;
// replay held it three times over (os.ReadFile, then two string copies).
// It must read it as it posts.
func TestReplayStreamsTheFile(t *testing.T) {
	url, _ := countingIntake(t)
	file := filepath.Join(t.TempDir(), "big.ndjson")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	// 64 MiB of blank padding lines (not posted) around a few work orders.
	pad := strings.Repeat(" ", 1023) + "\n"
	for i := range 64 << 10 {
		if i%16384 == 0 {
			fmt.Fprintf(f, `{"ticket_id":"T-%d"}`+"\n", i)
			continue
		}
		f.WriteString(pad)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var out, errb bytes.Buffer
	if err := runReplay(context.Background(), []string{"-q", "-url", url, file}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Fatalf("replaying a 64 MiB file allocated %d MiB", alloc>>20)
	}
}

// TestDemoTicketsAreNotTheHotlines: `make run` replays a simulated week
// (the last full week) on every start, into whatever database
// NUISANCE_DATA_DIR or DATABASE_URL names. Its work orders were numbered
// as the hotline numbers real ones (12345-YYYYMMDD-NNNNNN, a few hundred a
// day), so the go-live backfill of that week found them "duplicate": the
// real complaint was dropped and the simulated one stood in its place.
func TestDemoTicketsAreNotTheHotlines(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var tickets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wo struct {
			TicketID string `json:"ticket_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&wo)
		mu.Lock()
		tickets = append(tickets, wo.TicketID)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"complaint_id":"c","ticket_id":"t","status":"accepted"}`)
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := runDemo(context.Background(), srv.URL, e2eSecret, 50, &out); err != nil {
		t.Fatal(err)
	}
	real := regexp.MustCompile(`^12345-\d{8}-\d{6}$`)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range tickets {
		if real.MatchString(id) {
			t.Fatalf("the demo posts work order %s, a number the hotline gives real work orders of that week", id)
		}
	}
}

// The demo week goes into a trial database only: not beside the hotline's
// own work orders, and not where a callback URL would tell the hotline of
// simulated ones.
func TestTheDemoStaysOutOfARealSystem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	for _, tc := range []struct {
		ticket, callback string
		refused          bool
	}{
		{"", "", false},
		{"DEMO-12345-20261201-000001", "", false},
		{"DEMO-12345-20261201-000001", "https://12345.example/callbacks", true},
		{"12345-20261201-000002", "", true},
	} {
		if tc.ticket != "" {
			if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ($1, $1, now(), 'x') ON CONFLICT DO NOTHING`, tc.ticket); err != nil {
				t.Fatal(err)
			}
		}
		why, err := demoRefused(ctx, pool, tc.callback)
		if err != nil || (why != "") != tc.refused {
			t.Errorf("with %q and callback %q: %q, %v; want refused %v", tc.ticket, tc.callback, why, err, tc.refused)
		}
	}
}
