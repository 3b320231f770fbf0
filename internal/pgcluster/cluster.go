// Package pgcluster creates, starts and reuses a private PostgreSQL cluster
// from the machine's PostgreSQL binaries, so `nuisance up` and the test
// suites run without an operator having set up a database server.
//
// A cluster directory holds:
//
//	data/      the PostgreSQL data directory
//	run/       the Unix socket directory (elsewhere when the path is too long)
//	log/       postgres.log, initdb.log and pg_ctl.log
//	port       the TCP port of the last start, reused when still free
//	lock       flock(2) file serialising processes that manage the cluster
//
// When the caller is root the cluster runs as the unprivileged user
// postgres (or nuisance-pg, created on demand), because PostgreSQL refuses
// to run as root; that user owns the directory.
package pgcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// DefaultDatabase is the database Ensure creates for the application.
const DefaultDatabase = "nuisance"

// superuser is the database role initdb creates; the same name whoever
// runs the cluster, so DSNs do not depend on the operating-system user.
const superuser = "postgres"

// maxSocketDirLen keeps "<dir>/.s.PGSQL.<port>" within the 107 bytes a
// Unix socket path may have.
const maxSocketDirLen = 107 - len("/.s.PGSQL.65535")

// Options tune Ensure beyond the defaults `nuisance up` needs.
type Options struct {
	// Dir is the cluster directory; it is created when missing.
	Dir string
	// Log receives progress; nil logs nothing.
	Log *zap.Logger
	// Fast turns off fsync, synchronous_commit and full_page_writes: for
	// throw-away test clusters only, since a crash can corrupt the data.
	Fast bool
	// Database is created when missing; DefaultDatabase when empty.
	Database string
	// BinDir holds initdb, pg_ctl and postgres; FindBinaries when empty.
	BinDir string
	// StartTimeout bounds a start or restart, crash recovery included;
	// two minutes when zero.
	StartTimeout time.Duration
}

// Cluster is a running private PostgreSQL cluster. Its methods are safe to
// call from several goroutines and processes: those that change the
// server's state take the directory's lock.
type Cluster struct {
	// Dir is the cluster directory given to Ensure, made absolute.
	Dir string
	// DataDir is the PostgreSQL data directory inside Dir.
	DataDir string
	// Port is the TCP port the server listens on at 127.0.0.1.
	Port int
	// Socket is the directory holding the server's Unix socket.
	Socket string
	// User is the database superuser, trusted on 127.0.0.1 and the socket.
	User string
	// BinDir holds the PostgreSQL programs the cluster runs with.
	BinDir string
	// Started tells that Ensure started the server, which was not running.
	Started bool

	log          *zap.Logger
	acct         account
	fast         bool
	startTimeout time.Duration
}

// Ensure makes sure the cluster in dir exists, runs, and has the database
// `nuisance`, whatever state it was left in: missing, stopped, running,
// or killed with everything else. Concurrent calls on one directory, from
// any process, create and start it once.
func Ensure(ctx context.Context, dir string, log *zap.Logger) (*Cluster, error) {
	return EnsureWith(ctx, Options{Dir: dir, Log: log})
}

// EnsureWith is Ensure with options, for test clusters and unusual
// installations.
func EnsureWith(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := mkdirAllSearchable(c.Dir); err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	if err := c.acct.checkTraversable(c.Dir); err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	lock, err := lockDir(ctx, c.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	defer lock.unlock()

	if err := c.prepareDirs(); err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	if !fileExists(filepath.Join(c.DataDir, "PG_VERSION")) {
		if err := c.initdb(ctx); err != nil {
			return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
		}
	}
	if err := c.startOrReuse(ctx); err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	db := opts.Database
	if db == "" {
		db = DefaultDatabase
	}
	if err := c.createDatabase(ctx, db); err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	return c, nil
}

// ErrNotRunning tells that no server runs in the cluster directory.
var ErrNotRunning = errors.New("the private PostgreSQL is not running")

// Attach returns the cluster in dir when its server runs, and
// ErrNotRunning otherwise: it creates, starts and repairs nothing, for
// a command that must not start a server another process owns.
func Attach(ctx context.Context, dir string, log *zap.Logger) (*Cluster, error) {
	c, err := newCluster(ctx, Options{Dir: dir, Log: log})
	if err != nil {
		return nil, err
	}
	lock, err := lockDir(ctx, c.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	defer lock.unlock()
	pid, err := readPostmasterPID(c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, err)
	}
	if pid == nil || pid.PID <= 0 || !processAlive(pid.PID) || !isPostmasterOf(pid.PID, c.DataDir) {
		return nil, fmt.Errorf("pgcluster %s: %w", c.Dir, ErrNotRunning)
	}
	c.Port = pid.Port
	if pid.SocketDir != "" {
		c.Socket = pid.SocketDir
	}
	if err := c.waitReady(ctx, c.startTimeout); err != nil {
		return nil, fmt.Errorf("pgcluster %s: server pid %d runs but does not answer: %w", c.Dir, pid.PID, err)
	}
	return c, nil
}

// StopDir stops the cluster in dir if one runs there, without creating or
// starting anything: for `make test` to shut the shared test cluster down.
func StopDir(ctx context.Context, dir string, log *zap.Logger) error {
	if !fileExists(filepath.Join(dir, "data", "PG_VERSION")) {
		return nil
	}
	c, err := newCluster(ctx, Options{Dir: dir, Log: log})
	if err != nil {
		return err
	}
	return c.Stop(ctx)
}

func newCluster(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: empty cluster directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", opts.Dir, err)
	}
	if strings.ContainsAny(dir, "'\n") {
		return nil, fmt.Errorf("pgcluster %q: quotes and newlines are not supported in the path", dir)
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = FindBinaries(); err != nil {
			return nil, fmt.Errorf("pgcluster %s: %w", dir, err)
		}
	}
	acct, err := serverAccount(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgcluster %s: %w", dir, err)
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return &Cluster{
		Dir:          dir,
		DataDir:      filepath.Join(dir, "data"),
		Socket:       socketDir(dir),
		User:         superuser,
		BinDir:       bin,
		log:          log.With(zap.String("pg_dir", dir)),
		acct:         acct,
		fast:         opts.Fast,
		startTimeout: timeout,
	}, nil
}

// socketDir is dir/run, or a directory under the system's temporary
// directory named after dir when that path is too long for a socket.
func socketDir(dir string) string {
	if d := filepath.Join(dir, "run"); len(d) <= maxSocketDirLen {
		return d
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "nuisance-pg-"+hex.EncodeToString(sum[:6]))
}

// DSN is the connection string of database db on the cluster, over TCP to
// 127.0.0.1 where the superuser is trusted.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", c.User, c.Port, db)
}

// Stop shuts the server down with the fast mode: sessions are cut, the
// data is checkpointed, so the next start needs no recovery. Stopping a
// stopped cluster is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	lock, err := lockDir(ctx, c.Dir)
	if err != nil {
		return fmt.Errorf("stop %s: %w", c.Dir, err)
	}
	defer lock.unlock()
	pid, err := readPostmasterPID(c.DataDir)
	if err != nil {
		return fmt.Errorf("stop %s: %w", c.Dir, err)
	}
	if pid == nil || !processAlive(pid.PID) {
		return nil
	}
	if err := c.pgctl(ctx, "stop", "-D", c.DataDir, "-m", "fast", "-w", "-t", c.timeoutSeconds()); err != nil {
		return fmt.Errorf("stop %s: %w", c.Dir, err)
	}
	c.log.Info("postgresql stopped")
	return nil
}

// Restart restarts the running server with a pg_ctl shutdown mode (smart,
// fast or immediate) and waits until it accepts connections again; chaos
// tests use immediate to force crash recovery.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	switch mode {
	case "smart", "fast", "immediate":
	default:
		return fmt.Errorf("restart %s: unknown shutdown mode %q (smart, fast or immediate)", c.Dir, mode)
	}
	lock, err := lockDir(ctx, c.Dir)
	if err != nil {
		return fmt.Errorf("restart %s: %w", c.Dir, err)
	}
	defer lock.unlock()
	// Without -o, pg_ctl restart reuses the port and socket options the
	// server was started with (postmaster.opts).
	if err := c.pgctl(ctx, "restart", "-D", c.DataDir, "-m", mode, "-w",
		"-t", c.timeoutSeconds(), "-l", c.logPath("postgres.log")); err != nil {
		return fmt.Errorf("restart %s: %w", c.Dir, err)
	}
	if err := c.waitReady(ctx, c.startTimeout); err != nil {
		return fmt.Errorf("restart %s: %w", c.Dir, err)
	}
	c.log.Info("postgresql restarted", zap.String("mode", mode), zap.Int("port", c.Port))
	return nil
}

// prepareDirs creates the log and socket directories and hands the tree
// to the account that runs PostgreSQL.
func (c *Cluster) prepareDirs() error {
	for _, d := range []string{filepath.Join(c.Dir, "log"), c.Socket} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := c.acct.ownTree(c.Dir); err != nil {
		return err
	}
	// Files root made after the tree changed hands, so that the account
	// itself can manage the cluster later.
	for _, p := range []string{filepath.Join(c.Dir, lockFileName), filepath.Join(c.Dir, "log"), c.Socket} {
		if err := c.acct.own(p); err != nil {
			return err
		}
	}
	return nil
}

// initdb creates the data directory under a temporary name and renames it
// into place, so an interrupted initdb never passes for a cluster.
func (c *Cluster) initdb(ctx context.Context) error {
	tmp := c.DataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove unfinished %s: %w", tmp, err)
	}
	args := []string{
		"-D", tmp,
		"--username=" + superuser,
		"--encoding=UTF8",
		"--locale=" + serverLocale(ctx),
		"--auth-local=trust",
		"--auth-host=trust",
	}
	if c.fast {
		args = append(args, "--no-sync")
	}
	start := time.Now()
	if err := c.run(ctx, "initdb.log", "initdb", args...); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	// Only the socket and 127.0.0.1 are trusted; the server listens on
	// nothing else.
	hba := "# Written by nuisance: trust the local socket and 127.0.0.1 only.\n" +
		"local all all trust\n" +
		"host all all 127.0.0.1/32 trust\n" +
		"local replication all trust\n" +
		"host replication all 127.0.0.1/32 trust\n"
	if err := c.writeOwned(filepath.Join(tmp, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	conf := filepath.Join(tmp, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", conf, err)
	}
	_, werr := io.WriteString(f, "\n# Settings managed by nuisance, rewritten at every start.\ninclude_if_exists = 'nuisance.conf'\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	if err := os.Rename(tmp, c.DataDir); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	c.log.Info("postgresql cluster created", zap.String("bin_dir", c.BinDir),
		zap.String("run_as", c.acct.name), zap.Duration("took", time.Since(start)))
	return nil
}

// serverLocale prefers C.UTF-8, whose character classes cover Chinese
// text, and falls back to C where the system lacks it. Both sort by code
// point, so indexes never depend on a glibc collation version.
func serverLocale(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "locale", "-a").Output()
	if err != nil {
		return "C"
	}
	for _, l := range strings.Fields(string(out)) {
		if strings.EqualFold(l, "C.UTF-8") || strings.EqualFold(l, "C.utf8") {
			return "C.UTF-8"
		}
	}
	return "C"
}

// settings is the content of nuisance.conf, included by postgresql.conf.
func (c *Cluster) settings() string {
	durable := "on"
	if c.fast {
		durable = "off"
	}
	conf := "# Managed by nuisance (internal/pgcluster); rewritten at every start.\n" +
		"max_connections = 200\n" +
		"shared_buffers = 256MB\n" +
		"fsync = " + durable + "\n" +
		"synchronous_commit = " + durable + "\n" +
		"full_page_writes = " + durable + "\n"
	// pg_stat_statements ships with Debian's server package; an operator
	// finds the costly statements with CREATE EXTENSION pg_stat_statements.
	if _, err := os.Stat(filepath.Join(c.BinDir, "..", "lib", "pg_stat_statements.so")); err == nil {
		conf += "shared_preload_libraries = 'pg_stat_statements'\n"
	}
	return conf
}

// startOrReuse connects to a running server, or starts the cluster,
// replacing the evidence of a server that was killed.
func (c *Cluster) startOrReuse(ctx context.Context) error {
	pid, err := readPostmasterPID(c.DataDir)
	if err != nil {
		return err
	}
	if pid != nil && pid.PID > 0 && processAlive(pid.PID) && isPostmasterOf(pid.PID, c.DataDir) {
		c.Port = pid.Port
		if pid.SocketDir != "" {
			c.Socket = pid.SocketDir
		}
		if err := c.waitReady(ctx, c.startTimeout); err != nil {
			return fmt.Errorf("server pid %d runs but does not answer: %w", pid.PID, err)
		}
		c.log.Info("postgresql already running", zap.Int("pid", pid.PID), zap.Int("port", c.Port))
		return nil
	}
	if pid != nil {
		c.log.Warn("postgresql was not shut down cleanly; starting it with crash recovery",
			zap.Int("stale_pid", pid.PID))
		if err := c.clearStalePID(pid); err != nil {
			return err
		}
	}
	return c.start(ctx)
}

// clearStalePID removes a postmaster.pid, and the socket lock files, that
// PostgreSQL itself would take for a live server: one naming a zombie or a pid since reused by
// another program. A pid file naming a vanished process is left for
// PostgreSQL, which also checks that no orphaned backend still uses the
// old shared memory.
func (c *Cluster) clearStalePID(pid *postmasterPID) error {
	if pid.PID > 0 && !pidExists(pid.PID) {
		return nil
	}
	// The killed server's children exit as soon as they notice its
	// death; give them that moment before judging them orphaned.
	if shmid, ok := c.sharedMemoryID(); ok {
		deadline := time.Now().Add(15 * time.Second)
		for shmAttached(shmid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("processes of a killed server (pid %d) still use its shared memory %d; stop them before starting the cluster", pid.PID, shmid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The socket's lock file names the same pid and would stop the start
	// just the same.
	locks, _ := filepath.Glob(filepath.Join(c.Socket, ".s.PGSQL.*.lock"))
	if pid.SocketDir != "" && pid.SocketDir != c.Socket {
		more, _ := filepath.Glob(filepath.Join(pid.SocketDir, ".s.PGSQL.*.lock"))
		locks = append(locks, more...)
	}
	for _, lock := range locks {
		b, err := os.ReadFile(lock)
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if strings.TrimSpace(first) != strconv.Itoa(pid.PID) {
			continue
		}
		for _, p := range []string{lock, strings.TrimSuffix(lock, ".lock")} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", p, err)
			}
		}
	}
	path := filepath.Join(c.DataDir, "postmaster.pid")
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", path, err)
	}
	return nil
}

// start launches the server on the remembered port when it is still free,
// else on a new one, retrying when another program takes the port first.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.writeOwned(filepath.Join(c.DataDir, "nuisance.conf"), []byte(c.settings()), 0o600); err != nil {
		return err
	}
	c.rotateLog()
	port := c.rememberedPort()
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		if port == 0 || !portFree(port) {
			p, err := freePort()
			if err != nil {
				return err
			}
			port = p
		}
		c.Port = port
		opts := fmt.Sprintf("-p %d -k '%s' -c listen_addresses=127.0.0.1", port, c.Socket)
		began := time.Now()
		logOffset := fileSize(c.logPath("postgres.log"))
		err := c.pgctl(ctx, "start", "-D", c.DataDir, "-w", "-t", c.timeoutSeconds(),
			"-l", c.logPath("postgres.log"), "-o", opts)
		if err == nil {
			if err := c.writeOwned(filepath.Join(c.Dir, "port"), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
				return fmt.Errorf("remember port: %w", err)
			}
			if err := c.waitReady(ctx, c.startTimeout); err != nil {
				return err
			}
			c.log.Info("postgresql started", zap.Int("port", port), zap.String("socket", c.Socket),
				zap.Bool("fast", c.fast), zap.Duration("took", time.Since(began)))
			c.Started = true
			return nil
		}
		// The server's lines since this attempt are start-up messages,
		// which carry the cause (a port taken, a bad setting).
		lastErr = fmt.Errorf("%w; server log: %s", err, tailSince(c.logPath("postgres.log"), logOffset, 4))
		if ctx.Err() != nil || portFree(port) {
			// Not a lost race for the port: retrying will not help.
			break
		}
		c.log.Warn("port taken while starting postgresql; trying another", zap.Int("port", port))
		port = 0
	}
	return fmt.Errorf("start (log in %s): %w", c.logPath("postgres.log"), lastErr)
}

// rememberedPort is the port of the previous start, or 0.
func (c *Cluster) rememberedPort() int {
	b, err := os.ReadFile(filepath.Join(c.Dir, "port"))
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || p <= 0 || p > 65535 || p == 5432 {
		return 0
	}
	return p
}

// waitReady connects until the server answers a query or the time is up;
// pg_ctl's own wait can end before a server recovering from a crash
// accepts sessions.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		err := c.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for server on port %d: %w", c.Port, err)
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// createDatabase creates db unless it exists; the directory lock keeps
// two processes from racing on it.
func (c *Cluster) createDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", db, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	c.log.Info("database created", zap.String("database", db))
	return nil
}

// pgctl runs pg_ctl, its output appended to log/pg_ctl.log.
func (c *Cluster) pgctl(ctx context.Context, args ...string) error {
	return c.run(ctx, "pg_ctl.log", "pg_ctl", args...)
}

// run executes a PostgreSQL program as the cluster's account, its output
// appended to log/<logName> rather than the caller's terminal. The error
// quotes the program's own output, which names no application data.
func (c *Cluster) run(ctx context.Context, logName, prog string, args ...string) error {
	logPath := c.logPath(logName)
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	defer f.Close()
	if err := c.acct.own(logPath); err != nil {
		return err
	}
	offset, _ := f.Seek(0, io.SeekEnd)
	fmt.Fprintf(f, "\n--- %s %s %s\n", time.Now().Format(time.RFC3339), prog, strings.Join(args, " "))

	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, prog), args...)
	cmd.Dir = c.Dir
	cmd.Env = programEnv()
	cmd.Stdin = nil
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.WaitDelay = 5 * time.Second
	c.acct.apply(cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", prog, args[0], err, tailSince(logPath, offset, 6))
	}
	return nil
}

// programEnv is the caller's environment without libpq's PG* variables,
// which could point the tools at another server, and with English
// messages so failures read the same everywhere.
func programEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// tailSince returns the last n non-empty lines written to path after
// offset, joined for an error message.
func tailSince(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--- ") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (c *Cluster) logPath(name string) string {
	return filepath.Join(c.Dir, "log", name)
}

// rotateLog keeps one previous server log once it passes 64 MiB, so a
// long-lived development cluster does not fill the disk.
func (c *Cluster) rotateLog() {
	p := c.logPath("postgres.log")
	if fi, err := os.Stat(p); err == nil && fi.Size() > 64<<20 {
		if err := os.Rename(p, p+".1"); err != nil {
			c.log.Warn("rotate postgresql log", logging.Error(err))
		}
	}
}

func (c *Cluster) timeoutSeconds() string {
	return strconv.Itoa(int(c.startTimeout / time.Second))
}

// writeOwned writes a file the server must read and gives it to the
// server's account.
func (c *Cluster) writeOwned(path string, data []byte, perm fs.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return c.acct.own(path)
}

// sharedMemoryID is the System V segment the dead server recorded in
// postmaster.pid (line 7: key and id).
func (c *Cluster) sharedMemoryID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return 0, false
	}
	f := strings.Fields(lines[6])
	if len(f) != 2 {
		return 0, false
	}
	id, err := strconv.Atoi(f[1])
	return id, err == nil
}

// shmAttached reports whether any process still attaches the System V
// shared memory segment shmid, per /proc/sysvipc/shm.
func shmAttached(shmid int) bool {
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 7 || f[1] != strconv.Itoa(shmid) {
			continue
		}
		n, err := strconv.Atoi(f[6])
		return err == nil && n > 0
	}
	return false
}

// pidExists reports whether the kernel still knows pid, zombie or not.
func pidExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// isPostmasterOf reports whether pid is a postgres process serving
// dataDir: the postmaster works in its data directory, so a pid reused by
// another program, or by another cluster after a reboot, does not pass.
// Where procfs cannot tell, it assumes so.
func isPostmasterOf(pid int, dataDir string) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		if comm := strings.TrimSpace(string(b)); comm != "postgres" && comm != "postmaster" {
			return false
		}
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return true
	}
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		want = dataDir
	}
	return cwd == want
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// freePort asks the kernel for an unused port, never PostgreSQL's 5432,
// which the system's own server may want.
func freePort() (int, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 5432 {
			return port, nil
		}
	}
	return 0, errors.New("find a free port: none offered")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
