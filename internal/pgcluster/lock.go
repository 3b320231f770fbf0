package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFileName is the file in the cluster directory that serialises every
// process creating, starting or stopping the cluster.
const lockFileName = "lock"

// dirLock is an exclusive flock(2) on the cluster directory's lock file.
// The kernel releases it when the holder dies, so a crashed process never
// leaves the cluster locked.
type dirLock struct{ f *os.File }

// lockDir waits for the exclusive lock on dir, giving up when ctx ends.
// Separate calls conflict even inside one process, since flock locks
// belong to the open file, not the process.
func lockDir(ctx context.Context, dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	delay := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &dirLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// unlock releases the lock; closing the file drops the flock.
func (l *dirLock) unlock() {
	l.f.Close()
}
