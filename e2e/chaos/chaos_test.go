// Package chaos is the bounded chaos test of the distributed topology:
// under a steady signed feed, every kind of service is killed with -9 and
// restarted, a NATS node is restarted, PostgreSQL is restarted in
// immediate mode (crash recovery) and the whole NATS cluster is stopped
// for 20 s. Then the pipeline's invariants are checked in PostgreSQL, and
// the logs and stream contents are searched for the callers' phones.
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/deploy"
	"github.com/xiamen-eeb/nuisance/deploy/devcluster"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const secret = "whsec_Y2hhb3MtdGVzdC1zZWNyZXQtZm9yLXRoZS1pbnRha2U="

// rate is the feed's pace in complaints per second.
const rate = 50

// maxFeed bounds the generated feed; the faults end well before it runs
// out at rate.
const maxFeed = rate * 240

// killed is every kind of service, in the order they are killed.
var killed = []string{"intake", "geocoder", "hotspots", "router", "officers", "callbacks", "reporter"}

// receiver is the hotline's end of the callbacks: it verifies every
// signature and records the statuses each ticket was told.
type receiver struct {
	hook     *standardwebhooks.Webhook
	mu       sync.Mutex
	statuses map[string][]string
	bad      int
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.hook.Verify(body, r.Header); err != nil {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var cb struct {
		TicketID string `json:"ticket_id"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal(body, &cb); err != nil || cb.TicketID == "" {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.statuses[cb.TicketID] = append(h.statuses[cb.TicketID], cb.Status)
	w.WriteHeader(http.StatusNoContent)
}

// told reports whether ticket was told status.
func (h *receiver) told(ticket, status string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.statuses[ticket], status)
}

// feeder posts the feed through the signed intake at a fixed pace and
// records which tickets were acknowledged, with the complaint id answered.
type feeder struct {
	client *hotline.Client
	feed   []simulate.Complaint

	posted  atomic.Int64 // complaints handed to a poster
	dropped atomic.Int64 // ticks with every poster busy
	mu      sync.Mutex
	acked   map[string]string // ticket -> complaint id
}

func (f *feeder) ackedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked)
}

// run posts until ctx ends or the feed runs out. Each complaint is posted
// once: one not acknowledged is the hotline's to retry, and the test only
// holds the pipeline to what it acknowledged.
func (f *feeder) run(ctx context.Context) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f.post(ctx, i)
			}
		}()
	}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	defer wg.Wait()
	defer close(work)
	for i := 0; i < len(f.feed); {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case work <- i:
			f.posted.Add(1)
			i++
		default:
			f.dropped.Add(1)
		}
	}
}

func (f *feeder) post(ctx context.Context, i int) {
	c := f.feed[i]
	body, err := json.Marshal(c)
	if err != nil {
		return
	}
	resp, err := f.client.Post(ctx, "chaos-"+c.TicketID, body)
	if err != nil || (resp.Status != http.StatusAccepted && resp.Status != http.StatusOK) {
		return
	}
	var a struct {
		ComplaintID string `json:"complaint_id"`
	}
	if resp.Decode(&a) != nil || a.ComplaintID == "" {
		return
	}
	f.mu.Lock()
	f.acked[c.TicketID] = a.ComplaintID
	f.mu.Unlock()
}

func TestPipelineKeepsItsInvariantsThroughFaults(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	services := devcluster.Available(repo)
	for _, s := range killed {
		if !slices.Contains(services, s) {
			t.Fatalf("the deployment has no %s command; services: %v", s, services)
		}
	}
	bin := filepath.Join(t.TempDir(), "bin")
	// The build is bounded only against a hang: on a cold cache, with the
	// other packages' tests sharing the cores, it has taken over 5 minutes.
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancelBuild()
	if err := devcluster.Build(buildCtx, repo, bin, services); err != nil {
		t.Fatal(err)
	}
	// The faults take about a minute and a half and the drain under a
	// minute; the bound leaves room for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg := startPostgres(ctx, t)
	dsn := pg.DSN(pgcluster.DefaultDatabase)

	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{hook: hook, statuses: map[string][]string{}}
	hl := httptest.NewServer(rcv)
	t.Cleanup(hl.Close)

	start := time.Now()
	c, err := devcluster.Start(ctx, devcluster.Config{
		Repo: repo, Dir: t.TempDir(), Bin: bin, DatabaseURL: dsn, Services: services,
		Env: []string{"HOTLINE_SECRET=" + secret, "HOTLINE_CALLBACK_URL=" + hl.URL, "NUISANCE_SWEEP_AFTER=3s", "LOG_LEVEL=info"},
		Log: testenv.Log(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, p := range append(slices.Clone(c.NATS), c.Services...) {
				if b, err := os.ReadFile(p.LogFile()); err == nil {
					t.Logf("--- %s (last 2000 bytes)\n%s", p.Name, tail(b, 2000))
				}
			}
		}
	})
	t.Logf("cluster of %d NATS nodes and %v up in %s", len(c.NATS), services, time.Since(start).Round(time.Millisecond))

	gen, err := simulate.Generate(simulate.Config{Seed: 88, Count: maxFeed})
	if err != nil {
		t.Fatal(err)
	}
	client, err := hotline.New("http://"+c.Service("intake").Addr, secret)
	if err != nil {
		t.Fatal(err)
	}
	client.HTTP.Timeout = 5 * time.Second
	f := &feeder{client: client, feed: gen.Complaints, acked: map[string]string{}}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); f.run(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()

	// progress waits until the feed has been acknowledged n more times:
	// the pipeline takes complaints again after a fault.
	progress := func(what string, n int) {
		t.Helper()
		target := f.ackedCount() + n
		testenv.Eventually(t, 90*time.Second, "the intake acknowledging again after "+what, func() bool {
			return f.ackedCount() >= target
		})
	}
	progress("start", rate)

	for _, name := range killed {
		p := c.Service(name)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		hold(ctx, time.Second)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx, p, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		progress(name+" killed", rate)
		t.Logf("%s killed with SIGKILL and restarted; %d acknowledged", name, f.ackedCount())
	}

	node := c.NATS[1]
	if err := node.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNATS(ctx, 1, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	progress(node.Name+" restarted", rate)
	t.Logf("%s restarted; %d acknowledged", node.Name, f.ackedCount())

	if err := pg.Restart(ctx, "immediate"); err != nil {
		t.Fatal(err)
	}
	progress("postgresql restarted", rate)
	t.Logf("postgresql restarted in immediate mode; %d acknowledged", f.ackedCount())

	var wg sync.WaitGroup
	for _, n := range c.NATS {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.Stop(30 * time.Second) }()
	}
	wg.Wait()
	for _, n := range c.NATS {
		if n.Running() {
			t.Fatalf("%s still running after stop", n.Name)
		}
	}
	down := f.ackedCount()
	hold(ctx, 20*time.Second)
	t.Logf("NATS stopped for 20 s; %d acknowledged meanwhile", f.ackedCount()-down)
	for _, n := range c.NATS {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.NATS {
		if err := c.WaitNATS(ctx, i, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitJetStream(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	progress("NATS started again", rate)
	stopFeed()
	<-feedDone
	t.Logf("feed stopped after %s: %d posted, %d acknowledged, %d ticks skipped with every poster busy",
		time.Since(start).Round(time.Second), f.posted.Load(), f.ackedCount(), f.dropped.Load())

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	checkInvariants(ctx, t, pool, f, rcv)
	checkNoPhones(ctx, t, c, pg, gen.Complaints[:f.posted.Load()])
	t.Logf("all invariants hold %s after start", time.Since(start).Round(time.Second))
}

// startPostgres starts a private PostgreSQL cluster of the test's own, so
// that restarting it in immediate mode disturbs no other test. Its
// directory must be searchable by the account PostgreSQL runs as.
func startPostgres(ctx context.Context, t *testing.T) *pgcluster.Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pg, err := pgcluster.EnsureWith(ctx, pgcluster.Options{Dir: dir, Log: testenv.Log(t)})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.Background()); err != nil {
			t.Logf("stop postgresql: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return pg
}

// hold keeps a fault in place for d.
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func checkInvariants(ctx context.Context, t *testing.T, pool *pgxpool.Pool, f *feeder, rcv *receiver) {
	t.Helper()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	// Every acknowledged ticket is stored exactly once, under the id the
	// intake answered.
	f.mu.Lock()
	acked := make(map[string]string, len(f.acked))
	for k, v := range f.acked {
		acked[k] = v
	}
	f.mu.Unlock()
	tickets := make([]string, 0, len(acked))
	for k := range acked {
		tickets = append(tickets, k)
	}
	rows, err := pool.Query(ctx, `SELECT ticket_id, id FROM complaints WHERE ticket_id = ANY($1)`, tickets)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]string{}
	for rows.Next() {
		var ticket, id string
		if err := rows.Scan(&ticket, &id); err != nil {
			t.Fatal(err)
		}
		stored[ticket] = append(stored[ticket], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for ticket, id := range acked {
		if got := stored[ticket]; len(got) != 1 || got[0] != id {
			t.Fatalf("acknowledged ticket %s stored as %v, answered %s", ticket, got, id)
		}
	}

	// The pipeline drains: every stored complaint reaches the geocoder,
	// every located one a case, every event leaves the outbox and every
	// callback is delivered.
	const (
		unlocatedQ = `SELECT count(*) FROM complaints c WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.complaint_id = c.id)`
		caselessQ  = `SELECT count(*) FROM locations l WHERE l.located AND l.category IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.complaint_id = l.complaint_id)`
		outboxQ    = `SELECT count(*) FROM outbox WHERE sent_at IS NULL`
		callbacksQ = `SELECT count(*) FROM callbacks WHERE delivered_at IS NULL AND dead_at IS NULL`
	)
	var last string
	deadline := time.Now().Add(150 * time.Second)
	for {
		a, b, o, cb := count(unlocatedQ), count(caselessQ), count(outboxQ), count(callbacksQ)
		untold := untoldTickets(ctx, t, pool, rcv)
		last = fmt.Sprintf("%d complaints not past the geocoder, %d located in no case, %d events unpublished, %d callbacks undelivered, %d assigned tickets not told",
			a, b, o, cb, len(untold))
		if a+b+o+cb+len(untold) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if len(untold) > 0 {
				t.Logf("e.g. ticket %s was never told it was assigned", untold[0])
			}
			t.Fatalf("the pipeline did not drain: %s", last)
		}
		hold(ctx, 500*time.Millisecond)
	}

	// Every located complaint is in exactly one case.
	if n := count(`SELECT count(*) FROM (SELECT complaint_id FROM case_complaints GROUP BY 1 HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d complaints in several cases", n)
	}
	// No case has more than one active assignment; every assigned case has one.
	if n := count(`SELECT count(*) FROM (SELECT case_id FROM assignments WHERE status = 'active' GROUP BY 1 HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d cases with several active assignments", n)
	}
	if n := count(`SELECT count(*) FROM cases k WHERE k.status = 'assigned'
		AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = k.id AND a.status = 'active')`); n != 0 {
		t.Fatalf("%d assigned cases without an active assignment", n)
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d callbacks with a bad signature", bad)
	}
	// Nothing is dead-lettered: every input was valid.
	if n := count(`SELECT count(*) FROM dead_letters`); n != 0 {
		var consumer, reason string
		_ = pool.QueryRow(ctx, `SELECT consumer, reason FROM dead_letters ORDER BY id LIMIT 1`).Scan(&consumer, &reason)
		t.Fatalf("%d dead letters for valid input, the first by %s: %s", n, consumer, reason)
	}
	assigned := count(`SELECT count(*) FROM case_complaints`)
	if assigned == 0 {
		t.Fatal("no complaint reached a case")
	}
	t.Logf("%d acknowledged, %d stored, %d in %d cases, %d hotspots, %d tickets called back",
		len(acked), count(`SELECT count(*) FROM complaints`), assigned, count(`SELECT count(*) FROM cases`),
		count(`SELECT count(*) FROM hotspots`), len(rcv.statuses))
}

// untoldTickets lists the tickets of complaints in a case that the
// receiver has not been told "assigned".
func untoldTickets(ctx context.Context, t *testing.T, pool *pgxpool.Pool, rcv *receiver) []string {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT c.ticket_id FROM case_complaints cc JOIN complaints c ON c.id = cc.complaint_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ticket string
		if err := rows.Scan(&ticket); err != nil {
			t.Fatal(err)
		}
		if !rcv.told(ticket, "assigned") {
			out = append(out, ticket)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkNoPhones searches every process's log, PostgreSQL's log and every
// message of every stream for the phones of the posted feed.
func checkNoPhones(ctx context.Context, t *testing.T, c *devcluster.Cluster, pg *pgcluster.Cluster, posted []simulate.Complaint) {
	t.Helper()
	phones := newPhoneSet()
	for _, cpl := range posted {
		if cpl.Caller != nil {
			phones.add(cpl.Caller.Phone)
		}
	}
	if phones.empty() {
		t.Fatal("the feed carries no caller phone to look for")
	}
	var files []string
	for _, p := range append(slices.Clone(c.NATS), c.Services...) {
		files = append(files, p.LogFile())
	}
	pgLogs, _ := filepath.Glob(filepath.Join(pg.Dir, "log", "*"))
	files = append(files, pgLogs...)
	var scanned int64
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read log: %v", err)
		}
		scanned += int64(len(b))
		if len(b) == 0 && !strings.Contains(path, "nats-") && !strings.HasPrefix(filepath.Base(path), "postgres") {
			t.Logf("%s is empty", filepath.Base(path))
		}
		if phones.foundIn(b) {
			t.Fatalf("a caller's phone appears in %s", filepath.Base(path))
		}
	}

	nc, err := nats.Connect(c.NATSURL(deploy.OperatorUser))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var msgs int
	for _, sc := range natsx.Streams(devcluster.Nodes) {
		n, err := scanStream(ctx, js, sc.Name, phones)
		if err != nil {
			t.Fatalf("stream %s: %v", sc.Name, err)
		}
		msgs += n
	}
	if msgs == 0 {
		t.Fatal("the streams hold no message to search")
	}
	t.Logf("no caller phone in %d bytes of logs of %d files, nor in %d stream messages", scanned, len(files), msgs)
}

// scanStream reads every message of the stream by sequence, as the
// operator, and fails on the first that carries a phone in its data or
// headers.
func scanStream(ctx context.Context, js jetstream.JetStream, name string, phones *phoneSet) (int, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("message %d: %w", seq, err)
		}
		n++
		if phones.foundIn(m.Data) {
			return n, fmt.Errorf("message %d (%s) carries a caller's phone", seq, m.Subject)
		}
		for k, vs := range m.Header {
			for _, v := range vs {
				if phones.foundIn([]byte(k + ":" + v)) {
					return n, fmt.Errorf("a header of message %d (%s) carries a caller's phone", seq, m.Subject)
				}
			}
		}
	}
	if uint64(n) != info.State.Msgs {
		return n, fmt.Errorf("read %d of %d messages", n, info.State.Msgs)
	}
	return n, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
