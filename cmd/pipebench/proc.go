package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of the CPU times in
// /proc/<pid>/stat: 100 on every Linux architecture Go supports.
const clockTicks = 100

// usage is what /proc says of a process at one moment.
type usage struct {
	// CPU is user plus system time in seconds; Children adds the time of
	// its reaped children (PostgreSQL's exited backends).
	CPU, Children float64
	// PeakRSS is VmHWM in bytes: the most resident memory it ever held.
	PeakRSS int64
	PPid    int
}

// readUsage reads /proc/<pid>/stat and /proc/<pid>/status.
func readUsage(pid int) (usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, fmt.Errorf("usage of %d: %w", pid, err)
	}
	u, err := parseStat(stat)
	if err != nil {
		return usage{}, fmt.Errorf("usage of %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return usage{}, fmt.Errorf("usage of %d: %w", pid, err)
	}
	u.PeakRSS = parseHWM(status)
	return u, nil
}

// parseStat reads the parent and the CPU times of a /proc/<pid>/stat
// line. The command name may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(b []byte) (usage, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return usage{}, fmt.Errorf("stat %q: no command name", b)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return usage{}, fmt.Errorf("stat: %d fields after the command name, want at least 15", len(f))
	}
	n := make([]int64, 15)
	for k := 1; k < 15; k++ {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return usage{}, fmt.Errorf("stat field %d: %w", k+3, err)
		}
		n[k] = v
	}
	return usage{
		PPid:     int(n[1]),
		CPU:      float64(n[11]+n[12]) / clockTicks,
		Children: float64(n[13]+n[14]) / clockTicks,
	}, nil
}

// parseHWM returns VmHWM of a /proc/<pid>/status in bytes, 0 without it
// (kernel threads).
func parseHWM(b []byte) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// treeCPU is the CPU time of a process and every child it has now or has
// reaped: PostgreSQL's postmaster and its backends.
func treeCPU(root int) (float64, error) {
	u, err := readUsage(root)
	if err != nil {
		return 0, err
	}
	total := u.CPU + u.Children
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == root {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		c, err := parseStat(b)
		if err != nil || c.PPid != root {
			continue
		}
		total += c.CPU
	}
	return total, nil
}

// postmasterPID reads the server's pid from the first line of
// postmaster.pid in its data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("postmaster pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("postmaster pid %q: %w", line, err)
	}
	return pid, nil
}
