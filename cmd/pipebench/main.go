// Command pipebench replays simulated complaints through the whole
// pipeline, signed intake to assigned case and hotline callback, once on
// the all-in-one `nuisance up` and once on the multi-process cluster of
// deploy/devcluster, and prints a markdown table for BENCHMARKS.md:
// throughput from the first post to the last assignment, latency from
// received to assigned, CPU and peak memory of every process, and the
// bare JetStream and PostgreSQL rates of the same servers as ratios.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
)

const secret = "whsec_cGlwZWJlbmNoLXNlY3JldC1mb3ItdGhlLXBpcGVsaW5l"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pipebench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n           int
	modes       string
	concurrency int
	rate        float64
	days        int
	planted     int
	raw         int
	seed        int64
	start       string
	dir         string
	out         string
	timeout     time.Duration
	repo        string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pipebench", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.n, "n", 50000, "complaints to replay")
	fs.StringVar(&o.modes, "modes", "all-in-one,cluster", "deployments to measure: all-in-one, cluster or both")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent posts to the intake")
	fs.Float64Var(&o.rate, "rate", 0, "offered load in complaints a second, a steady feed (default: as fast as the intake takes them)")
	fs.IntVar(&o.raw, "raw", 50000, "messages and rows for the bare JetStream and PostgreSQL rates")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the simulated feed")
	fs.IntVar(&o.days, "days", 1, "days the feed's complaints are spread over, ending on -start (more than one replays history: deadlines already past escalate)")
	fs.IntVar(&o.planted, "planted", 0, "repeat-complaint sites planted in the feed (default: the simulator's, one per 20 repeat complaints; a large feed over a small city needs fewer, larger sites)")
	fs.StringVar(&o.start, "start", "", "last day the feed is received, YYYY-MM-DD in Asia/Shanghai (default: yesterday, the last whole day before now: recent, so deadlines are not all past due, and never ahead of the intake's clock, which refuses a work order more than an hour ahead)")
	fs.StringVar(&o.dir, "dir", "", "working directory: binaries, NATS data, logs and the private PostgreSQL (default: a temporary directory)")
	fs.StringVar(&o.out, "o", "", "also write the markdown table to this file")
	fs.DurationVar(&o.timeout, "drain-timeout", 0, "how long to wait for the pipeline to drain after the last post (default: 2 minutes plus 5 ms a complaint)")
	fs.StringVar(&o.repo, "repo", ".", "the module's root directory, to build the commands from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.n <= 0 || o.concurrency <= 0 || o.raw <= 0 || o.rate < 0 || o.days <= 0 || o.planted < 0 {
		return errors.New("-n, -concurrency, -raw and -days must be positive, -rate and -planted not negative")
	}
	if o.timeout == 0 {
		o.timeout = 2*time.Minute + time.Duration(o.n)*5*time.Millisecond
	}
	modes, err := parseModes(o.modes)
	if err != nil {
		return err
	}
	if o.repo, err = filepath.Abs(o.repo); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.repo, "go.mod")); err != nil {
		return fmt.Errorf("-repo %s is not the module's root: %w", o.repo, err)
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "pipebench-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	// PostgreSQL runs as an unprivileged account when the caller is root:
	// it must reach its directory.
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(o.dir, 0o755); err != nil {
		return err
	}
	progress := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	_ = getenv // every setting is a flag: the bench builds each process's environment itself

	day := time.Now().In(simulate.Shanghai).AddDate(0, 0, -1)
	if o.start != "" {
		if day, err = time.ParseInLocation(time.DateOnly, o.start, simulate.Shanghai); err != nil {
			return fmt.Errorf("-start: %w", err)
		}
	}
	first := day.AddDate(0, 0, 1-o.days)
	progress("generating %d complaints received from %s to %s (seed %d)", o.n, first.Format(time.DateOnly), day.Format(time.DateOnly), o.seed)
	// By default one day's complaints: a replayed month would put every
	// case past its deadline at once and measure the escalation timers,
	// not the flow.
	feed, err := simulate.Generate(simulate.Config{Seed: o.seed, Count: o.n, Start: first, Days: o.days, Planted: o.planted})
	if err != nil {
		return err
	}
	pg, err := pgcluster.EnsureWith(ctx, pgcluster.Options{Dir: filepath.Join(o.dir, "pg"), Log: zap.NewNop()})
	if err != nil {
		return err
	}
	defer pg.Stop(context.Background()) //nolint:errcheck

	rep := report{N: o.n, Cores: runtime.NumCPU(), Concurrency: o.concurrency, Rate: o.rate, Raw: o.raw}
	for _, m := range modes {
		progress("%s: starting", m)
		var res result
		switch m {
		case modeAllInOne:
			res, err = benchAllInOne(ctx, o, pg, feed, progress)
		case modeCluster:
			res, err = benchCluster(ctx, o, pg, feed, progress)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		rep.Results = append(rep.Results, res)
		progress("%s: %.0f complaints/s, p99 %s", m, res.Throughput, fmtDur(res.P99))
	}
	table := rep.Markdown()
	fmt.Fprint(stdout, table)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(table), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
	}
	return nil
}

// freshDatabase drops and recreates db on the bench's server, so every
// run starts from an empty pipeline, and returns its DSN.
func freshDatabase(ctx context.Context, pg *pgcluster.Cluster, db string) (string, error) {
	admin, err := pgxpool.New(ctx, pg.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("database %s: %w", db, err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`); err != nil {
		return "", fmt.Errorf("drop database %s: %w", db, err)
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+db); err != nil {
		return "", fmt.Errorf("create database %s: %w", db, err)
	}
	return pg.DSN(db), nil
}
