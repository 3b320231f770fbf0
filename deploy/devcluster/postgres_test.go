package devcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
)

// make cluster's Ctrl-C stops the private PostgreSQL its start started,
// as make run's does; one it found running is left running.
func TestStopPostgresStopsOnlyTheClusterItStarted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The postgres user must reach the directory (t.TempDir is root's).
	dir, err := os.MkdirTemp("", "devcluster-pg-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgcluster.Attach(ctx, filepath.Join(dir, "pg"), nil); err == nil {
			_ = c.Stop(ctx)
		}
		_ = os.RemoveAll(dir)
	})
	running := func() bool {
		_, err := pgcluster.Attach(ctx, filepath.Join(dir, "pg"), nil)
		if err != nil && !errors.Is(err, pgcluster.ErrNotRunning) {
			t.Fatal(err)
		}
		return err == nil
	}
	first := &Cluster{cfg: Config{Dir: dir, Log: zap.NewNop()}}
	if err := first.startDB(ctx); err != nil {
		t.Fatal(err)
	}
	// A second start finds it running: its stop leaves it so.
	second := &Cluster{cfg: Config{Dir: dir, Log: zap.NewNop()}}
	if err := second.startDB(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.StopPostgres(ctx); err != nil || !running() {
		t.Fatalf("the stop of a start that found PostgreSQL running: %v, running %v, want it left running", err, running())
	}
	if err := first.StopPostgres(ctx); err != nil || running() {
		t.Fatalf("the stop of the start that started PostgreSQL: %v, running %v, want it stopped", err, running())
	}
}
