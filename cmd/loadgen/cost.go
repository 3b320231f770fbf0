package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/pgstats"
)

// ticksPerSecond is the kernel's USER_HZ, the unit of /proc/<pid>/stat's
// CPU times; 100 on every Linux this runs on.
const ticksPerSecond = 100

// cost measures what the intake phase spent: the CPU of this process and
// of the PostgreSQL server, and the statements PostgreSQL executed.
type cost struct {
	sys        *app.System
	postmaster int
	procCPU    time.Duration
	pgCPU      time.Duration
	statements *pgstats.Measure // nil without pg_stat_statements
}

// startCost takes the starting readings. PostgreSQL's CPU is read from
// /proc, so it is only counted when the server runs on this machine;
// statements are counted when pg_stat_statements is preloaded.
func startCost(ctx context.Context, sys *app.System) (*cost, error) {
	c := &cost{sys: sys, procCPU: processCPU()}
	var backend int
	if err := sys.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, fmt.Errorf("backend pid: %w", err)
	}
	if st, err := readStat(backend); err == nil {
		c.postmaster = st.ppid
		c.pgCPU = serverCPU(c.postmaster)
	}
	if m, err := pgstats.Start(ctx, sys.Pool); err == nil {
		c.statements = m
	}
	return c, nil
}

// report prints the costs per accepted complaint, and the statements that
// took most of PostgreSQL's execution time.
func (c *cost) report(ctx context.Context, w io.Writer, accepted int64) error {
	if accepted == 0 {
		return nil
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(accepted))
	}
	fmt.Fprintf(w, "cpu per accepted complaint: process %s (server and load generator)", per(processCPU()-c.procCPU))
	if c.postmaster > 0 {
		fmt.Fprintf(w, ", PostgreSQL %s", per(serverCPU(c.postmaster)-c.pgCPU))
	}
	fmt.Fprintln(w)
	if c.statements == nil {
		return nil
	}
	calls, execMS, _, err := c.statements.Totals(ctx)
	if err != nil {
		return err
	}
	top, err := c.statements.Top(ctx, 5)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "PostgreSQL per accepted complaint: %.3f statements, %.1f µs execution\n",
		float64(calls)/float64(accepted), execMS*1000/float64(accepted))
	for _, t := range top {
		fmt.Fprintf(w, "  %8d calls %9.1f ms %8d rows  %s\n", t.Calls, t.Ms, t.Rows, pgstats.Short(t.Query, 100))
	}
	return nil
}

// processCPU is the user and system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type procStat struct {
	ppid int
	cpu  time.Duration // own user and system time, and that of reaped children
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// are counted after its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat has no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat is short", pid)
	}
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
	ppid, _ := strconv.Atoi(f[1])
	var ticks int64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	return procStat{ppid: ppid, cpu: time.Duration(ticks) * time.Second / ticksPerSecond}, nil
}

// serverCPU is the CPU of the postmaster, of its live children (the
// backends and background workers) and of those it has reaped.
func serverCPU(postmaster int) time.Duration {
	st, err := readStat(postmaster)
	if err != nil {
		return 0
	}
	total := st.cpu
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == postmaster {
			total += st.cpu
		}
	}
	return total
}
