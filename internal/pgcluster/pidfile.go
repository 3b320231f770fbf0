package pgcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// postmasterPID is what PostgreSQL writes to postmaster.pid while it runs:
// one value a line, in a fixed order (see pidfile.h in PostgreSQL).
type postmasterPID struct {
	PID       int
	Port      int
	SocketDir string
	Status    string // "starting", "stopping", "ready" or "standby"; empty before it knows
}

// readPostmasterPID parses dataDir/postmaster.pid; it returns nil and no
// error when the file does not exist, which means no server was running
// or it shut down cleanly.
func readPostmasterPID(dataDir string) (*postmasterPID, error) {
	path := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return parsePostmasterPID(b)
}

func parsePostmasterPID(b []byte) (*postmasterPID, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		// The postmaster writes the file in one go; an empty one is left
		// by a crash between creating and writing it.
		return &postmasterPID{}, nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return nil, fmt.Errorf("postmaster.pid: pid %q: %w", lines[0], err)
	}
	p := &postmasterPID{PID: pid}
	if len(lines) > 3 {
		p.Port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 4 {
		p.SocketDir = strings.TrimSpace(lines[4])
	}
	if len(lines) > 7 {
		p.Status = strings.TrimSpace(lines[7])
	}
	return p, nil
}

// processAlive reports whether pid names a live process. A zombie counts
// as dead: after a kill -9 the postmaster may linger unreaped when its new
// parent does not wait for children, and PostgreSQL's own kill(pid, 0)
// check would then take it for a running server.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// No procfs: trust kill(2).
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces or parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}
