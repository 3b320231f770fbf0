package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"
)

// clusterDir returns a fresh directory the cluster's account can reach
// (t.TempDir is private to root), and stops and removes the cluster
// afterwards.
func clusterDir(t *testing.T) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "pg")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := StopDir(ctx, dir, nil); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
		os.RemoveAll(parent)
	})
	return dir
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func postmaster(t *testing.T, c *Cluster) *postmasterPID {
	t.Helper()
	pid, err := readPostmasterPID(c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if pid == nil || !processAlive(pid.PID) {
		t.Fatalf("no live postmaster in %s (pid file %+v)", c.DataDir, pid)
	}
	return pid
}

func countValue(t *testing.T, ctx context.Context, c *Cluster) int {
	t.Helper()
	conn := connect(t, ctx, c.DSN(DefaultDatabase))
	var n int
	if err := conn.QueryRow(ctx, "SELECT sum(x) FROM kept").Scan(&n); err != nil {
		t.Fatalf("read table created before: %v", err)
	}
	return n
}

// uidOf returns the real uid a process runs as.
func uidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEnsureLifecycle walks one durable cluster, as `nuisance up` uses it,
// through creation, reuse, stop, kill -9 and an immediate restart, and
// checks the data survives each.
func TestEnsureLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := clusterDir(t)
	log := zaptest.NewLogger(t)

	c1, err := Ensure(ctx, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Port == 5432 || c1.Port == 0 {
		t.Fatalf("port %d", c1.Port)
	}
	first := postmaster(t, c1)
	if os.Geteuid() == 0 && uidOf(t, first.PID) == 0 {
		t.Fatal("postmaster runs as root")
	}
	conn := connect(t, ctx, c1.DSN(DefaultDatabase))
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (40), (2)"); err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "on" {
		t.Fatalf("fsync = %q (%v), want on for a durable cluster", fsync, err)
	}
	conn.Close(ctx)

	t.Run("reuse running", func(t *testing.T) {
		c2, err := Ensure(ctx, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		if c2.Port != c1.Port {
			t.Errorf("port %d, want the running server's %d", c2.Port, c1.Port)
		}
		if got := postmaster(t, c2); got.PID != first.PID {
			t.Errorf("postmaster pid %d, want the running %d", got.PID, first.PID)
		}
	})

	t.Run("stop then start", func(t *testing.T) {
		if err := c1.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if pid, _ := readPostmasterPID(c1.DataDir); pid != nil {
			t.Fatalf("postmaster.pid left after stop: %+v", pid)
		}
		if err := c1.Stop(ctx); err != nil {
			t.Fatalf("stop a stopped cluster: %v", err)
		}
		c3, err := Ensure(ctx, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		if c3.Port != c1.Port {
			t.Errorf("port %d, want the remembered %d", c3.Port, c1.Port)
		}
		if got := countValue(t, ctx, c3); got != 42 {
			t.Errorf("sum %d after restart, want 42", got)
		}
	})

	t.Run("recover after kill -9", func(t *testing.T) {
		c, err := Ensure(ctx, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		conn := connect(t, ctx, c.DSN(DefaultDatabase))
		if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES (100)"); err != nil {
			t.Fatal(err)
		}
		pid := postmaster(t, c)
		if err := syscall.Kill(pid.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid.PID)
		if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err != nil {
			t.Fatalf("kill -9 should leave postmaster.pid behind: %v", err)
		}
		c4, err := Ensure(ctx, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		if got := postmaster(t, c4); got.PID == pid.PID {
			t.Errorf("postmaster pid %d unchanged after kill", got.PID)
		}
		if got := countValue(t, ctx, c4); got != 142 {
			t.Errorf("sum %d after crash recovery, want 142", got)
		}
	})

	t.Run("restart immediate", func(t *testing.T) {
		c, err := Ensure(ctx, dir, log)
		if err != nil {
			t.Fatal(err)
		}
		before := postmaster(t, c)
		if err := c.Restart(ctx, "immediate"); err != nil {
			t.Fatal(err)
		}
		after := postmaster(t, c)
		if after.PID == before.PID || after.Port != before.Port {
			t.Errorf("after restart pid %d port %d, before pid %d port %d", after.PID, after.Port, before.PID, before.Port)
		}
		if got := countValue(t, ctx, c); got != 142 {
			t.Errorf("sum %d after restart, want 142", got)
		}
		if err := c.Restart(ctx, "abrupt"); err == nil {
			t.Error("unknown mode accepted")
		}
	})
}

// helperDirEnv makes the test binary act as a second process calling
// Ensure, to prove the lock works across processes and not only
// goroutines.
const helperDirEnv = "PGCLUSTER_TEST_HELPER_DIR"

func TestEnsureHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("run only as a helper process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := EnsureWith(ctx, Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PORT=%d\n", c.Port)
}

func TestEnsureConcurrentCreatesOneCluster(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := clusterDir(t)

	const goroutines, processes = 3, 2
	ports := make(chan int, goroutines+processes)
	errs := make(chan error, goroutines+processes)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := EnsureWith(ctx, Options{Dir: dir, Fast: true})
			if err != nil {
				errs <- err
				return
			}
			ports <- c.Port
		}()
	}
	for range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEnsureHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs <- fmt.Errorf("helper process: %w: %s", err, out)
				return
			}
			_, after, ok := strings.Cut(string(out), "PORT=")
			if !ok {
				errs <- fmt.Errorf("helper process printed no port: %s", out)
				return
			}
			port, err := strconv.Atoi(strings.Fields(after)[0])
			if err != nil {
				errs <- err
				return
			}
			ports <- port
		}()
	}
	wg.Wait()
	close(ports)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var port int
	for p := range ports {
		if port != 0 && p != port {
			t.Errorf("ports %d and %d: two clusters", port, p)
		}
		port = p
	}
	for file, marker := range map[string]string{"initdb.log": " initdb -D ", "pg_ctl.log": " pg_ctl start "} {
		b, err := os.ReadFile(filepath.Join(dir, "log", file))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), marker); n != 1 {
			t.Errorf("%s records %d runs of%s, want 1", file, n, marker)
		}
	}
	c, err := EnsureWith(ctx, Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, c.DSN(DefaultDatabase))
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync = %q (%v), want off for a fast cluster", fsync, err)
	}
}

func TestEnsureRefusesUnreachableDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to another user")
	}
	if _, err := FindBinaries(); err != nil {
		t.Skip(err)
	}
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(private, "var", "pg")
	_, err := Ensure(testContext(t), dir, nil)
	if err == nil {
		t.Fatal("Ensure succeeded below a directory the server's user cannot enter")
	}
	if !strings.Contains(err.Error(), "chmod o+x "+private) {
		t.Errorf("error does not say how to fix it: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory created anyway: %v", err)
	}
}
