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
	f, err := waitExclusive(ctx, filepath.Join(dir, lockFileName), nil)
	if err != nil {
		return nil, err
	}
	return &dirLock{f: f}, nil
}

// waitExclusive opens path and waits for its exclusive flock, giving up
// when ctx ends, or when busy, asked each time the lock is found held,
// says not to wait.
func waitExclusive(ctx context.Context, path string, busy func() error) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	delay := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if busy != nil {
			if err := busy(); err != nil {
				f.Close()
				return nil, fmt.Errorf("lock %s: %w", path, err)
			}
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

// UseLockFile is the use lock's file in a data directory: nuisance up
// holds it, the operator's commands and the load generator check it.
const UseLockFile = "up.lock"

// ErrInUse tells that a long-lived process holds a use lock exclusively.
var ErrInUse = errors.New("in use by a running process")

// UseLock is a flock(2) on a file marking a directory as used: held
// exclusively by the one long-lived process that owns it (nuisance up)
// for its whole life, and shared, briefly, by short commands while they
// start or stop what that process would otherwise own. Like the
// cluster's own lock, the kernel drops it when the holder dies, so a
// kill -9 leaves nothing stale.
type UseLock struct{ f *os.File }

// HoldUse takes the exclusive use lock on path for the caller's life. It
// waits while short commands share the lock, giving up when ctx ends, and
// returns ErrInUse at once when another process holds it exclusively.
func HoldUse(ctx context.Context, path string) (*UseLock, error) {
	// Held: shared by short commands, for which it is worth waiting, or
	// exclusively by another long-lived holder, for which it is not. A
	// second descriptor tells them apart.
	f, err := waitExclusive(ctx, path, func() error {
		shared, err := shareOnce(path)
		if errors.Is(err, ErrInUse) {
			return ErrInUse
		}
		if err == nil {
			shared.Release()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UseLock{f: f}, nil
}

// ShareUse takes the use lock on path shared, without waiting: ErrInUse
// when a long-lived process holds it. Short commands share it with each
// other.
func ShareUse(path string) (*UseLock, error) {
	for {
		l, err := shareOnce(path)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return l, nil
	}
}

func shareOnce(path string) (*UseLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, err
	}
	return &UseLock{f: f}, nil
}

// Release drops the lock; closing the file drops the flock.
func (l *UseLock) Release() {
	l.f.Close()
}
