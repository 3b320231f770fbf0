// Package cluster tests the distributed topology end to end: three
// clustered NATS nodes, PostgreSQL and one process per service, with a
// service killed and a NATS node restarted in the middle of the feed,
// and the officers' console served through the gateway.
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/deploy/devcluster"
	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
	"github.com/xiamen-eeb/nuisance/services/router"
)

const secret = "whsec_Y2x1c3Rlci1lMmUtc2VjcmV0LWZvci10aGUtaW50YWtl"

// feedSize is the number of complaints posted through the intake.
const feedSize = 200

func TestClusterKeepsEveryComplaintThroughCrashes(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	services := devcluster.Available(repo)
	bin := filepath.Join(t.TempDir(), "bin")
	if err := devcluster.Build(context.Background(), repo, bin, append(slices.Clone(services), devcluster.GatewayCommand)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	start := time.Now()
	c, err := devcluster.Start(ctx, devcluster.Config{
		Repo: repo, Dir: dir, Bin: bin, DatabaseURL: dsn, Services: services,
		Env:     []string{"HOTLINE_SECRET=" + secret, "NUISANCE_SWEEP_AFTER=3s", "LOG_LEVEL=warn"},
		Gateway: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			procs := slices.Concat(c.NATS, c.Services)
			if c.Gateway != nil {
				procs = append(procs, c.Gateway)
			}
			for _, p := range procs {
				if b, err := os.ReadFile(p.LogFile()); err == nil {
					t.Logf("--- %s (last 3000 bytes)\n%s", p.Name, tail(b, 3000))
				}
			}
		}
	})
	t.Logf("cluster of %d NATS nodes and %v up in %s", len(c.NATS), services, time.Since(start).Round(time.Millisecond))
	intake := c.Service("intake")
	geocoder := c.Service("geocoder")
	if intake == nil || geocoder == nil {
		t.Fatalf("the cluster runs %v, want at least intake and geocoder", services)
	}

	feed, err := simulate.Generate(simulate.Config{Seed: 8, Count: feedSize})
	if err != nil {
		t.Fatal(err)
	}
	client, err := hotline.New("http://"+intake.Addr, secret)
	if err != nil {
		t.Fatal(err)
	}
	client.HTTP.Timeout = 10 * time.Second

	// The feed goes in at a steady pace while processes fail under it.
	var posted sync.WaitGroup
	progress := make(chan int, feedSize)
	posted.Add(1)
	go func() {
		defer posted.Done()
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for i, cpl := range feed.Complaints {
			<-tick.C
			var body bytes.Buffer
			if err := json.NewEncoder(&body).Encode(cpl); err != nil {
				t.Error(err)
				return
			}
			sum, err := client.Replay(ctx, &body, hotline.ReplayOptions{Concurrency: 1, Retries: 50})
			if err != nil || sum.Accepted+sum.Duplicate != 1 {
				t.Errorf("post %d: %v %s", i, err, sum)
				return
			}
			progress <- i + 1
		}
	}()
	waitPosted := func(n int) {
		t.Helper()
		for done := 0; done < n; {
			select {
			case done = <-progress:
			case <-ctx.Done():
				t.Fatalf("feed stalled before %d complaints", n)
			}
		}
	}

	waitPosted(feedSize / 4)
	if err := geocoder.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("geocoder killed with SIGKILL after %d complaints", feedSize/4)
	waitPosted(feedSize / 3)
	if err := geocoder.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, geocoder, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitPosted(feedSize / 2)
	node := c.NATS[1]
	if err := node.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNATS(ctx, 1, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s restarted after %d complaints", node.Name, feedSize/2)
	posted.Wait()
	if t.Failed() {
		t.FailNow()
	}

	pool := pgtest.Pool(t, dsn)
	tickets := make([]string, len(feed.Complaints))
	for i, cpl := range feed.Complaints {
		tickets[i] = cpl.TicketID
	}
	var stored, distinct int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT ticket_id) FROM complaints WHERE ticket_id = ANY($1)`, tickets).Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	if stored != feedSize || distinct != feedSize {
		t.Fatalf("%d complaints stored for %d distinct tickets, want each of %d once", stored, distinct, feedSize)
	}

	// Every complaint leaves intake and is located or sent to triage by
	// the geocoder; with the hotspot detector and the router running,
	// every located one reaches a team.
	var lookupErr error
	stage := func() (received, located, unlocated, assigned int) {
		lookupErr = pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'received'),
				count(*) FILTER (WHERE status = 'located'),
				count(*) FILTER (WHERE status = 'unlocated'),
				count(*) FILTER (WHERE case_id IS NOT NULL AND team IS NOT NULL)
			FROM complaint_lookup WHERE ticket_id = ANY($1)`, tickets).Scan(&received, &located, &unlocated, &assigned)
		if lookupErr != nil {
			received = -1
		}
		return
	}
	t.Cleanup(func() {
		if t.Failed() && lookupErr != nil {
			t.Logf("last complaint_lookup error: %v", lookupErr)
		}
	})
	eventually(t, pool, 90*time.Second, "every complaint past the geocoder", func() bool {
		received, _, _, _ := stage()
		return received == 0
	})
	if c.Service("hotspots") != nil && c.Service("router") != nil {
		eventually(t, pool, 90*time.Second, "every located complaint assigned to a team", func() bool {
			received, _, unlocated, assigned := stage()
			return received == 0 && assigned == feedSize-unlocated
		})
	}
	received, located, unlocated, assigned := stage()
	if unlocated > feedSize/5 {
		t.Fatalf("%d of %d complaints unlocated", unlocated, feedSize)
	}
	var deadLetters int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&deadLetters); err != nil {
		t.Fatal(err)
	}
	if deadLetters != 0 {
		t.Fatalf("%d dead letters for valid input", deadLetters)
	}
	if c.Service("hotspots") != nil && c.Service("router") != nil {
		redriveInCluster(t, ctx, pool)
	}
	if c.Service("officers") != nil && c.Service("hotspots") != nil && c.Service("reporter") != nil {
		consoleThroughGateway(t, ctx, c, pool, tickets)
	}
	t.Logf("%d complaints: %d received, %d located, %d unlocated, %d assigned, in %s", feedSize, received, located, unlocated, assigned, time.Since(start).Round(time.Millisecond))
}

// redriveInCluster asks for a dead letter of the router to be sent again
// and checks that a process allowed to publish its subject (the hotspot
// detector's relay, under its own NATS user) does so, and that the
// router, which had handled the event, takes the copy for what it is.
func redriveInCluster(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, retry_requested_at)
		SELECT $1, subject, event_id, 'e2e:redrive', 8, 'max deliveries reached: e2e', convert_to(payload::text, 'UTF8'), now()
		FROM outbox WHERE subject LIKE 'complaint.clustered.%' ORDER BY seq LIMIT 1 RETURNING id`, router.DurableClustered).Scan(&id); err != nil {
		t.Fatalf("a dead letter of the router: %v", err)
	}
	eventually(t, pool, 30*time.Second, "the router's dead letter sent again", func() bool {
		var sent bool
		_ = pool.QueryRow(ctx, `SELECT retried_at IS NOT NULL FROM dead_letters WHERE id = $1`, id).Scan(&sent)
		return sent
	})
	time.Sleep(2 * time.Second) // the router's answer to the copy, if it were to fail
	var others int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE id <> $1`, id).Scan(&others); err != nil || others != 0 {
		t.Fatalf("%d dead letters after the redrive (%v), want none", others, err)
	}
}

// eventually is testenv.Eventually that, on timeout, says which events
// were never published, the usual reason a stage is not reached.
func eventually(t *testing.T, pool *pgxpool.Pool, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			rows, err := pool.Query(context.Background(), `SELECT split_part(subject, '.', 1) || '.' || split_part(subject, '.', 2), count(*)
				FROM outbox WHERE sent_at IS NULL GROUP BY 1 ORDER BY 1`)
			if err == nil {
				for rows.Next() {
					var subj string
					var n int
					if rows.Scan(&subj, &n) == nil {
						t.Logf("unpublished in the outbox: %d %s", n, subj)
					}
				}
				rows.Close()
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// consoleThroughGateway checks that the officers' console works at the
// gateway's address as it does in the all-in-one process: the console, the
// officers' API, the hotspots (served by the hotspots process) and the
// weekly reports (the reporter's) on the one origin it calls, and the live
// event stream delivered through it.
func consoleThroughGateway(t *testing.T, ctx context.Context, c *devcluster.Cluster, pool *pgxpool.Pool, tickets []string) {
	t.Helper()
	if c.Gateway == nil {
		t.Fatal("no gateway in front of the services")
	}
	base := "http://" + c.Gateway.Addr
	var district string
	if err := pool.QueryRow(ctx, `SELECT district FROM complaint_lookup WHERE ticket_id = ANY($1) AND case_id IS NOT NULL AND district IS NOT NULL
		GROUP BY district ORDER BY count(*) DESC LIMIT 1`, tickets).Scan(&district); err != nil {
		t.Fatalf("a district with cases: %v", err)
	}
	_, token, err := auth.NewStore(pool, 0).Add(ctx, auth.NewOfficer{Name: "e2e-supervisor", District: district, Role: auth.RoleSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tt := range []struct {
		path, wantType string
	}{
		{"/officer/", "text/html"},
		{"/api/v1/me", "json"},
		{"/api/v1/hotspots?status=emerging,active,escalated&limit=200", "json"},
		{"/reports/weekly/", "json"},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK || !strings.Contains(ct, tt.wantType) {
			t.Errorf("GET %s through the gateway: %d %s, want 200 %s: %s", tt.path, resp.StatusCode, ct, tt.wantType, tail(body, 300))
			continue
		}
		if tt.wantType == "json" && !json.Valid(body) {
			t.Errorf("GET %s through the gateway: not JSON: %s", tt.path, tail(body, 300))
		}
	}

	// The stream, opened as the console opens it (the token in the query),
	// from the start of the case stream: the district's case events come
	// through the gateway.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", base+"/api/v1/stream?heartbeat=event&access_token="+token, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stream through the gateway: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream through the gateway: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tail(b, 300))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: case" {
			return
		}
	}
	t.Fatalf("the stream through the gateway ended without a case event of %s: %v", district, sc.Err())
}
