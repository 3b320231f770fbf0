package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// privateDataDir is a data directory holding a private cluster, created
// as nuisance up creates it and left stopped; the cluster's account can
// reach it (t.TempDir is private to root). The cluster is stopped and the
// directory removed afterwards.
func privateDataDir(t *testing.T) string {
	t.Helper()
	dataDir, err := os.MkdirTemp("", "nuisance-db-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pgDir := filepath.Join(dataDir, "pg")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgcluster.StopDir(ctx, pgDir, nil); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
		os.RemoveAll(dataDir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.EnsureWith(ctx, pgcluster.Options{Dir: pgDir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return dataDir
}

// postmasterPID is the content of the cluster's postmaster.pid, empty
// when no server runs (or it shut down cleanly).
func postmasterPID(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "pg", "data", "postmaster.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return first
}

// With nuisance up running (here a stand-in holding the data directory's
// lock as it does) and its private PostgreSQL stopped, an operator
// command refuses, saying so, and leaves the cluster stopped: starting
// it would hide nuisance up's outage and its stop would cut nuisance up's
// sessions. With the cluster running it works and leaves it running.
// Without nuisance up the command starts the cluster and stops it again.
func TestDBLeavesTheClusterOfARunningUpAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := privateDataDir(t)
	env := map[string]string{"NUISANCE_DATA_DIR": dataDir}
	getenv := func(k string) string { return env[k] }
	officersList := func() (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"officers", "list"}, getenv, &out, &errOut)
		return out.String() + errOut.String(), err
	}

	t.Run("up holds it, cluster stopped", func(t *testing.T) {
		up, err := pgcluster.HoldUse(ctx, filepath.Join(dataDir, upLockName))
		if err != nil {
			t.Fatal(err)
		}
		defer up.Release()
		out, err := officersList()
		if err == nil || !strings.Contains(err.Error(), "is not running") || !strings.Contains(err.Error(), "nuisance up") {
			t.Errorf("officers list: %v, want a refusal saying nuisance up's PostgreSQL is not running\n%s", err, out)
		}
		if pid := postmasterPID(t, dataDir); pid != "" {
			t.Errorf("the command started the cluster of a running nuisance up (postmaster.pid names %s)", pid)
		}
		if _, err := pgcluster.Attach(ctx, filepath.Join(dataDir, "pg"), nil); !errors.Is(err, pgcluster.ErrNotRunning) {
			t.Errorf("after the refusal: %v, want the cluster still stopped", err)
		}
		if b, err := os.ReadFile(filepath.Join(dataDir, "pg", "log", "pg_ctl.log")); err != nil || strings.Count(string(b), " pg_ctl start ") != 1 {
			t.Errorf("pg_ctl.log records %d starts (%v), want only the one that created the cluster", strings.Count(string(b), " pg_ctl start "), err)
		}
	})

	t.Run("up holds it, cluster running", func(t *testing.T) {
		up, err := pgcluster.HoldUse(ctx, filepath.Join(dataDir, upLockName))
		if err != nil {
			t.Fatal(err)
		}
		defer up.Release()
		if _, err := pgcluster.Ensure(ctx, filepath.Join(dataDir, "pg"), nil); err != nil {
			t.Fatal(err)
		}
		before := postmasterPID(t, dataDir)
		if out, err := officersList(); err != nil {
			t.Fatalf("officers list with nuisance up's cluster running: %v\n%s", err, out)
		}
		if after := postmasterPID(t, dataDir); after != before {
			t.Errorf("postmaster %q after the command, want the running %q left alone", after, before)
		}
		if err := pgcluster.StopDir(ctx, filepath.Join(dataDir, "pg"), nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no up", func(t *testing.T) {
		if out, err := officersList(); err != nil {
			t.Fatalf("officers list without nuisance up: %v\n%s", err, out)
		}
		if pid := postmasterPID(t, dataDir); pid != "" {
			t.Errorf("the cluster the command started still runs (postmaster.pid names %s)", pid)
		}
		b, err := os.ReadFile(filepath.Join(dataDir, "pg", "log", "pg_ctl.log"))
		if err != nil {
			t.Fatal(err)
		}
		// Created, started by the test above, started by this command.
		if n := strings.Count(string(b), " pg_ctl start "); n != 3 {
			t.Errorf("pg_ctl.log records %d starts, want 3", n)
		}
	})

	// A nuisance up started while the command worked reuses the cluster
	// the command started: the command's close leaves it running.
	t.Run("up started meanwhile", func(t *testing.T) {
		c, err := pgcluster.Ensure(ctx, filepath.Join(dataDir, "pg"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Started {
			t.Fatal("the cluster was running already")
		}
		up, err := pgcluster.HoldUse(ctx, filepath.Join(dataDir, upLockName))
		if err != nil {
			t.Fatal(err)
		}
		defer up.Release()
		before := postmasterPID(t, dataDir)
		var errOut bytes.Buffer
		stopStarted(ctx, dataDir, c, &errOut)
		if after := postmasterPID(t, dataDir); after == "" || after != before {
			t.Errorf("postmaster %q after the command's close, want nuisance up's %q left running", after, before)
		}
		if !strings.Contains(errOut.String(), "left running") {
			t.Errorf("the close said %q, want that it left the cluster running", errOut.String())
		}
	})
}

// nuisance up holds its data directory for its whole life: an operator
// command finds it held while up runs, a second nuisance up on the same
// directory is refused, and a kill -9 leaves nothing held.
func TestUpHoldsTheDataDirectory(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dataDir := t.TempDir()
	p := startUp(t, bin, pgtest.DSN(t), dataDir, testenv.FreeAddr(t))
	lock := filepath.Join(dataDir, upLockName)
	if l, err := pgcluster.ShareUse(lock); !errors.Is(err, pgcluster.ErrInUse) {
		if l != nil {
			l.Release()
		}
		t.Fatalf("share the lock of a running nuisance up: %v, want ErrInUse", err)
	}
	env := map[string]string{"NUISANCE_DATA_DIR": dataDir, "DATABASE_URL": pgtest.DSN(t), "HOTLINE_SECRET": e2eSecret,
		"NUISANCE_HTTP_ADDR": testenv.FreeAddr(t)}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runUp(ctx, nil, func(k string) string { return env[k] }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "another nuisance up") {
		t.Errorf("a second nuisance up on the same data directory: %v, want a refusal", err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	l, err := pgcluster.ShareUse(lock)
	if err != nil {
		t.Fatalf("the lock after nuisance up was killed: %v", err)
	}
	l.Release()
}
