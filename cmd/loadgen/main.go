// Command loadgen measures the signed hotline intake under concurrent load,
// with the raw JetStream publish rate and the raw PostgreSQL insert rate
// measured in the same run for comparison. Figures go to BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

const secret = "whsec_bG9hZGdlbi1zZWNyZXQtZm9yLWJlbmNobWFya3M="

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	clients := fs.Int("clients", 64, "concurrent clients")
	dur := fs.Duration("duration", 15*time.Second, "how long to post")
	rawN := fs.Int("raw", 50000, "messages/rows for the raw JetStream and PostgreSQL rates")
	committers := fs.Int("committers", 0, "intake group-commit loops (0: the default)")
	maxWait := fs.Duration("max-wait", 0, "intake group-commit gathering time (0: the default)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the intake phase to this file")
	wipe := fs.Bool("wipe", false, "empty the database's complaints and outbox first when it holds work orders (refused without it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	if getenv("NUISANCE_DATA_DIR") == "" {
		dir, err := os.MkdirTemp("", "loadgen-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		cfg.DataDir = dir
	}
	cfg.HotlineSecret = secret
	if cfg.DatabaseURL == "" {
		// The private cluster of a data directory nuisance up runs on is
		// its, not a benchmark's to start, empty and stop.
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return err
		}
		use, err := pgcluster.HoldUse(ctx, filepath.Join(cfg.DataDir, pgcluster.UseLockFile))
		if err != nil {
			return fmt.Errorf("data directory %s: %w (nuisance up runs on it: give loadgen a directory of its own)", cfg.DataDir, err)
		}
		defer use.Release()
	}
	log := zap.NewNop()
	sys, err := app.Open(ctx, cfg, log, app.Options{Name: "loadgen", EmbedNATS: true, StopClusterOnClose: getenv("DATABASE_URL") == "", MaxConns: 40})
	if err != nil {
		return err
	}
	defer sys.Close()
	// The run starts from empty tables: on a database that holds work
	// orders (DATABASE_URL left set to the system's own), only when asked.
	var held int64
	if err := sys.Pool.QueryRow(ctx, `SELECT count(*) FROM complaints`).Scan(&held); err != nil {
		return err
	}
	if held > 0 && !*wipe {
		return fmt.Errorf("the database holds %d work orders, and loadgen empties the complaints and the outbox: run it on a database of its own (unset DATABASE_URL for a private one), or give -wipe", held)
	}
	if _, err := sys.Pool.Exec(ctx, `TRUNCATE complaints, outbox CASCADE`); err != nil {
		return err
	}
	icfg := intake.DefaultConfig(secret)
	if *committers > 0 {
		icfg.Committers = *committers
	}
	if *maxWait > 0 {
		icfg.MaxWait = *maxWait
	}
	in, err := intake.New(icfg, sys.Pool, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	in.Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	svcCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = in.Run(svcCtx) }()
	relay := &outbox.Relay{Pool: sys.Pool, JS: sys.JS, Log: log}
	go func() { defer wg.Done(); _ = relay.Run(svcCtx) }()
	defer func() { cancel(); wg.Wait() }()

	client, err := hotline.New("http://"+ln.Addr().String(), secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "intake: %d clients for %s, %d cores\n", *clients, *dur, nproc())
	var (
		seq      atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		accepted atomic.Int64
		failed   atomic.Int64
	)
	cost, err := startCost(ctx, sys)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(*dur)
	start := time.Now()
	var cw sync.WaitGroup
	for c := range *clients {
		cw.Add(1)
		go func() {
			defer cw.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				n := seq.Add(1)
				body := fmt.Appendf(nil, `{"ticket_id":"LG-%d-%d","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路","location":{"lon":118.1832,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"测试","phone":"13800000000"},"channel":"phone"}`, c, n)
				t0 := time.Now()
				resp, err := client.Post(ctx, fmt.Sprintf("lg-%d", n), body)
				d := time.Since(t0)
				if err != nil || resp.Status != http.StatusAccepted {
					failed.Add(1)
					continue
				}
				accepted.Add(1)
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	cw.Wait()
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	intakeRate := float64(accepted.Load()) / elapsed.Seconds()
	fmt.Fprintf(stdout, "intake: %d accepted, %d failed, %.0f complaints/s, p50 %s, p99 %s, max %s\n",
		accepted.Load(), failed.Load(), intakeRate, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(time.Millisecond))
	cancel()
	wg.Wait()
	if err := cost.report(ctx, stdout, accepted.Load()); err != nil {
		return err
	}

	jsRate, err := rawJetStream(ctx, sys.JS, *rawN)
	if err != nil {
		return err
	}
	pgBatch, pgSingle, err := rawPostgres(ctx, sys, *rawN)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "raw JetStream async publish (1 KiB, file store): %.0f msgs/s (intake is %.2f of it)\n", jsRate, intakeRate/jsRate)
	fmt.Fprintf(stdout, "raw PostgreSQL insert, 256 rows per commit: %.0f rows/s (intake is %.2f of it)\n", pgBatch, intakeRate/pgBatch)
	fmt.Fprintf(stdout, "raw PostgreSQL insert, one row per commit: %.0f rows/s\n", pgSingle)
	return nil
}

func nproc() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range splitLines(string(b)) {
		if len(line) > 9 && line[:9] == "processor" {
			n++
		}
	}
	return n
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func rawJetStream(ctx context.Context, js jetstream.JetStream, n int) (float64, error) {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "RAWBENCH", Subjects: []string{"rawbench.>"}, Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), "RAWBENCH") //nolint:errcheck
	payload := make([]byte, 1024)
	start := time.Now()
	for i := range n {
		m := nats.NewMsg("rawbench.x")
		m.Data = payload
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("raw-%d", i))
		if _, err := js.PublishMsgAsync(m); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("raw publish did not complete")
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func rawPostgres(ctx context.Context, sys *app.System, n int) (batched, single float64, err error) {
	conn, err := sys.Pool.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	if _, err = conn.Exec(ctx, `CREATE TEMP TABLE rawbench (id text PRIMARY KEY, ticket text, body jsonb, at timestamptz)`); err != nil {
		return
	}
	body := `{"description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路"}`
	start := time.Now()
	for i := 0; i < n; i += 256 {
		b := &pgx.Batch{}
		for j := i; j < i+256 && j < n; j++ {
			b.Queue(`INSERT INTO rawbench VALUES ($1, $2, $3, now())`, fmt.Sprintf("b-%d", j), fmt.Sprintf("T-%d", j), body)
		}
		if err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
			return
		}
	}
	batched = float64(n) / time.Since(start).Seconds()
	m := n / 10
	start = time.Now()
	for j := range m {
		if _, err = conn.Exec(ctx, `INSERT INTO rawbench VALUES ($1, $2, $3, now())`, fmt.Sprintf("s-%d", j), "T", body); err != nil {
			return
		}
	}
	single = float64(m) / time.Since(start).Seconds()
	return
}
