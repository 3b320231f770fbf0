package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/deploy"
	"github.com/xiamen-eeb/nuisance/deploy/devcluster"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
)

const (
	modeAllInOne = "all-in-one"
	modeCluster  = "cluster"
)

func parseModes(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "":
			continue
		case modeAllInOne, modeCluster:
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		default:
			return nil, fmt.Errorf("unknown mode %q: want %s or %s", m, modeAllInOne, modeCluster)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no mode to measure")
	}
	return out, nil
}

// proc is a process of the pipeline whose usage the bench reads.
type proc struct {
	Name string
	Pid  int
}

// procStat is a process's share of a run.
type procStat struct {
	Name string
	// CPU is the CPU time spent from the first post to the drain, in
	// seconds; PeakRSS the process's high-water mark since it started.
	CPU     float64
	PeakRSS int64
}

// result is one deployment's run.
type result struct {
	Mode                        string
	Accepted, Duplicate, Failed int
	Rejected                    int
	Stored, Assigned, Unlocated int
	Cases                       int
	Callbacks                   int64
	Drained                     bool
	PostRate                    float64 // accepted per second of posting
	Throughput                  float64 // assigned per second, first post to last assignment
	Span                        time.Duration
	P50, P90, P99, P999, Max    time.Duration
	TellP50, TellP99            time.Duration // received → the hotline told of the assignment
	Procs                       []procStat
	PGCPU                       float64
	BenchCPU                    float64
	RawJS                       rawJS
	RawPG                       float64
	Replicas                    int
}

// callbackSink is the hotline's end of the callbacks, answering at once
// so that it costs the machine as little as it can.
type callbackSink struct{ n atomic.Int64 }

func (s *callbackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.n.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func benchAllInOne(ctx context.Context, o options, pg *pgcluster.Cluster, feed simulate.Feed, progress func(string, ...any)) (result, error) {
	bin := filepath.Join(o.dir, "bin")
	progress("%s: building nuisance", modeAllInOne)
	if err := devcluster.Build(ctx, o.repo, bin, []string{"nuisance"}); err != nil {
		return result{}, err
	}
	dsn, err := freshDatabase(ctx, pg, "pipebench_aio")
	if err != nil {
		return result{}, err
	}
	sink := &callbackSink{}
	hl := httptest.NewServer(sink)
	defer hl.Close()
	addr, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	data := filepath.Join(o.dir, "all-in-one")
	if err := os.RemoveAll(data); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return result{}, err
	}
	logf, err := os.Create(filepath.Join(o.dir, "all-in-one.log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "nuisance"), "up")
	cmd.Env = append(withoutKeys(os.Environ(), "NATS_URL", "DATABASE_URL", "NUISANCE_DATA_DIR", "NUISANCE_HTTP_ADDR",
		"HOTLINE_SECRET", "HOTLINE_CALLBACK_URL", "LOG_LEVEL", "NUISANCE_STREAM_REPLICAS"),
		"DATABASE_URL="+dsn, "NUISANCE_DATA_DIR="+data, "NUISANCE_HTTP_ADDR="+addr,
		"HOTLINE_SECRET="+secret, "HOTLINE_CALLBACK_URL="+hl.URL, "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start nuisance up: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	if err := waitReady(ctx, "http://"+addr+"/readyz", exited, 2*time.Minute); err != nil {
		return result{}, fmt.Errorf("nuisance up: %w (log: %s)", err, logf.Name())
	}
	res, err := drive(ctx, o, dsn, "http://"+addr, feed, []proc{{"nuisance up", cmd.Process.Pid}}, pg, sink, progress)
	if err != nil {
		return res, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	res.Mode, res.Replicas = modeAllInOne, 1

	// The bare rates, on an in-process JetStream like the all-in-one's
	// and on the same PostgreSQL.
	emb, err := natsx.StartEmbedded(filepath.Join(o.dir, "raw-nats"), 0)
	if err != nil {
		return res, err
	}
	defer emb.Shutdown()
	if res.RawJS, err = rawJetStreamAt(ctx, emb.URL(), o.raw, 1); err != nil {
		return res, err
	}
	if res.RawPG, err = rawPostgresAt(ctx, dsn, o.raw); err != nil {
		return res, err
	}
	return res, nil
}

func benchCluster(ctx context.Context, o options, pg *pgcluster.Cluster, feed simulate.Feed, progress func(string, ...any)) (result, error) {
	bin := filepath.Join(o.dir, "bin")
	services := devcluster.Available(o.repo)
	progress("%s: building nats-server and %v", modeCluster, services)
	if err := devcluster.Build(ctx, o.repo, bin, services); err != nil {
		return result{}, err
	}
	dsn, err := freshDatabase(ctx, pg, "pipebench_cluster")
	if err != nil {
		return result{}, err
	}
	sink := &callbackSink{}
	hl := httptest.NewServer(sink)
	defer hl.Close()
	dir := filepath.Join(o.dir, "cluster")
	if err := os.RemoveAll(dir); err != nil {
		return result{}, err
	}
	c, err := devcluster.Start(ctx, devcluster.Config{
		Repo: o.repo, Dir: dir, Bin: bin, DatabaseURL: dsn, Services: services,
		Env: []string{"HOTLINE_SECRET=" + secret, "HOTLINE_CALLBACK_URL=" + hl.URL, "LOG_LEVEL=warn"},
	})
	if err != nil {
		return result{}, err
	}
	defer c.Stop()
	intake := c.Service("intake")
	if intake == nil {
		return result{}, errors.New("the cluster runs no intake")
	}
	var procs []proc
	for _, p := range append(slices.Clone(c.NATS), c.Services...) {
		procs = append(procs, proc{p.Name, p.Pid()})
	}
	res, err := drive(ctx, o, dsn, "http://"+intake.Addr, feed, procs, pg, sink, progress)
	if err != nil {
		return res, fmt.Errorf("%w (logs: %s)", err, dir)
	}
	res.Mode, res.Replicas = modeCluster, devcluster.Nodes
	if res.RawJS, err = rawJetStreamAt(ctx, c.NATSURL(deploy.OperatorUser), o.raw, devcluster.Nodes); err != nil {
		return res, err
	}
	if res.RawPG, err = rawPostgresAt(ctx, dsn, o.raw); err != nil {
		return res, err
	}
	return res, nil
}

func rawJetStreamAt(ctx context.Context, url string, n, replicas int) (rawJS, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return rawJS{}, fmt.Errorf("raw jetstream: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rawJS{}, fmt.Errorf("raw jetstream: %w", err)
	}
	return measureJetStream(ctx, js, n, replicas)
}

func rawPostgresAt(ctx context.Context, dsn string, n int) (float64, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("raw insert: %w", err)
	}
	defer pool.Close()
	return measurePostgres(ctx, pool, n)
}

// drive replays the feed through the intake at url, waits until the
// pipeline has drained, and measures the run.
func drive(ctx context.Context, o options, dsn, url string, feed simulate.Feed, procs []proc, pg *pgcluster.Cluster,
	sink *callbackSink, progress func(string, ...any)) (result, error) {
	var res result
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	var body bytes.Buffer
	if err := feed.WriteNDJSON(&body); err != nil {
		return res, err
	}
	client, err := hotline.New(url, secret)
	if err != nil {
		return res, err
	}
	client.HTTP.Timeout = 30 * time.Second

	before := make([]usage, len(procs))
	for i, p := range procs {
		if before[i], err = readUsage(p.Pid); err != nil {
			return res, err
		}
	}
	pgPID, err := postmasterPID(pg.DataDir)
	if err != nil {
		return res, err
	}
	pgBefore, err := treeCPU(pgPID)
	if err != nil {
		return res, err
	}
	self, err := readUsage(os.Getpid())
	if err != nil {
		return res, err
	}

	stmts := startStatements(ctx, pool)
	wal := startWAL(ctx, pool)
	start := time.Now()
	step := max(o.n/10, 1)
	sum, err := client.Replay(ctx, &body, hotline.ReplayOptions{Concurrency: o.concurrency, Rate: o.rate, Retries: 30, Progress: func(done int) {
		if done%step == 0 {
			progress("posted %d of %d", done, o.n)
		}
	}})
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	res.Accepted, res.Duplicate, res.Rejected, res.Failed = sum.Accepted, sum.Duplicate, sum.Rejected, sum.Failed
	res.PostRate = float64(sum.Accepted) / sum.Elapsed.Seconds()
	if sum.Rejected+sum.Failed > 0 {
		progress("replay: %s", sum)
	}

	deadline := time.Now().Add(o.timeout)
	var state drainState
	for {
		if state, err = readDrain(ctx, pool); err != nil {
			return res, err
		}
		if state.done(sum.Accepted + sum.Duplicate) {
			res.Drained = true
			break
		}
		if time.Now().After(deadline) {
			progress("not drained after %s: %+v", o.timeout, state)
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		// The counts scan the pipeline's tables: polling often would load
		// the server it measures. The figures come from the rows' own
		// timestamps, not from when the drain was noticed. Large runs
		// poll less often: the counts grow with the tables.
		case <-time.After(2*time.Second + time.Duration(o.n/20)*time.Millisecond):
		}
	}
	res.Stored, res.Unlocated = state.Stored, state.Stored-state.Located
	logStatements(ctx, stmts, state.Stored, progress)
	logEvents(ctx, pool, state.Stored, progress)
	wal.log(ctx, pool, state.Stored, progress)

	for i, p := range procs {
		after, err := readUsage(p.Pid)
		if err != nil {
			return res, err
		}
		res.Procs = append(res.Procs, procStat{Name: p.Name, CPU: after.CPU - before[i].CPU, PeakRSS: after.PeakRSS})
	}
	pgAfter, err := treeCPU(pgPID)
	if err != nil {
		return res, err
	}
	res.PGCPU = pgAfter - pgBefore
	selfAfter, err := readUsage(os.Getpid())
	if err != nil {
		return res, err
	}
	res.BenchCPU = selfAfter.CPU - self.CPU

	lat, err := readLatency(ctx, pool)
	if err != nil {
		return res, err
	}
	res.Assigned, res.Cases = lat.Assigned, lat.Cases
	res.P50, res.P90, res.P99, res.P999, res.Max = lat.P50, lat.P90, lat.P99, lat.P999, lat.Max
	if lat.Assigned > 0 {
		res.Span = lat.Last.Sub(start)
		res.Throughput = float64(lat.Assigned) / res.Span.Seconds()
	}
	// The callbacks are retried until delivered; give the last ones a
	// moment rather than count them short.
	for wait := time.Now().Add(30 * time.Second); sink.n.Load() < int64(lat.Assigned) && time.Now().Before(wait); {
		time.Sleep(200 * time.Millisecond)
	}
	res.Callbacks = sink.n.Load()
	if res.TellP50, res.TellP99, err = readTellLatency(ctx, pool); err != nil {
		return res, err
	}
	return res, nil
}

// readTellLatency is received → told: from the intake's commit of a
// complaint to the delivery of its work order's first callback (the
// assignment, or the merge into an assigned case), at p50 and p99.
func readTellLatency(ctx context.Context, pool *pgxpool.Pool) (p50, p99 time.Duration, err error) {
	var p []float64
	err = pool.QueryRow(ctx, `/* pipebench */ WITH told AS (
			SELECT ticket_id, min(delivered_at) AS at FROM callbacks WHERE delivered_at IS NOT NULL GROUP BY ticket_id
		)
		SELECT coalesce(percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM t.at - c.created_at)), '{}')
		FROM told t JOIN complaints c ON c.ticket_id = t.ticket_id`).Scan(&p)
	if err != nil {
		return 0, 0, fmt.Errorf("callback latency: %w", err)
	}
	if len(p) == 2 {
		p50, p99 = time.Duration(p[0]*float64(time.Second)), time.Duration(p[1]*float64(time.Second))
	}
	return p50, p99, nil
}

// drainState is how far the pipeline has carried the stored complaints.
type drainState struct {
	Stored, Located, Seen, Caseless, Unsent int
}

// done reports whether every posted complaint is stored, has passed the
// geocoder, and every located one is in a case with nothing left to send.
func (s drainState) done(posted int) bool {
	return s.Stored >= posted && s.Seen == s.Stored && s.Caseless == 0 && s.Unsent == 0
}

func readDrain(ctx context.Context, pool *pgxpool.Pool) (drainState, error) {
	var s drainState
	err := pool.QueryRow(ctx, `SELECT /* pipebench */
		(SELECT count(*) FROM complaints),
		(SELECT count(*) FROM locations WHERE located),
		(SELECT count(*) FROM locations),
		(SELECT count(*) FROM locations l WHERE l.located AND l.category IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.complaint_id = l.complaint_id)),
		(SELECT count(*) FROM outbox WHERE sent_at IS NULL)`).Scan(&s.Stored, &s.Located, &s.Seen, &s.Caseless, &s.Unsent)
	if err != nil {
		return s, fmt.Errorf("drain state: %w", err)
	}
	return s, nil
}

// latency is received → assigned over every complaint in a case: from
// the intake's commit (complaints.created_at) to the later of the case's
// first assignment and the complaint joining the case (a repeat complaint
// merged into a case already assigned is assigned when it joins).
type latency struct {
	Assigned, Cases          int
	Last                     time.Time
	P50, P90, P99, P999, Max time.Duration
}

func readLatency(ctx context.Context, pool *pgxpool.Pool) (latency, error) {
	var l latency
	var last *time.Time
	var p []float64
	var mx *float64
	err := pool.QueryRow(ctx, `/* pipebench */ WITH first AS (
			SELECT case_id, min(assigned_at) AS at FROM assignments GROUP BY case_id
		), d AS (
			SELECT greatest(cc.joined_at, f.at) AS assigned, c.created_at
			FROM case_complaints cc
			JOIN complaints c ON c.id = cc.complaint_id
			JOIN first f ON f.case_id = cc.case_id
		)
		SELECT count(*), (SELECT count(*) FROM cases), max(assigned),
			coalesce(percentile_cont(ARRAY[0.5, 0.9, 0.99, 0.999]) WITHIN GROUP (ORDER BY extract(epoch FROM assigned - created_at)), '{}'),
			max(extract(epoch FROM assigned - created_at))::float8
		FROM d`).Scan(&l.Assigned, &l.Cases, &last, &p, &mx)
	if err != nil {
		return l, fmt.Errorf("latency: %w", err)
	}
	if last != nil {
		l.Last = *last
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	if len(p) == 4 {
		l.P50, l.P90, l.P99, l.P999 = sec(p[0]), sec(p[1]), sec(p[2]), sec(p[3])
	}
	if mx != nil {
		l.Max = sec(*mx)
	}
	return l, nil
}

func waitReady(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	client := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// withoutKeys drops the variables the bench sets from env.
func withoutKeys(env []string, keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(keys, k)
	})
}
