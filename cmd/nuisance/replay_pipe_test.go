package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A named pipe or process substitution (`nuisance replay <(zcat
// orders.ndjson.gz)`, /dev/stdin): os.ReadFile read it; counting its lines
// for the progress bar consumes it and the seek back fails, so nothing
// is posted and replay fails.
func TestReplayReadsAPipeByName(t *testing.T) {
	t.Parallel()
	url, posted := countingIntake(t)
	fifo := filepath.Join(t.TempDir(), "orders.ndjson")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(`{"ticket_id":"P-1"}` + "\n" + `{"ticket_id":"P-2"}` + "\n")
	}()
	var out, errb bytes.Buffer
	if err := runReplay(context.Background(), []string{"-url", url, fifo}, replayEnv, &out, &errb); err != nil || posted.Load() != 2 {
		t.Fatalf("replay of a pipe posted %d of 2: %v\n%s", posted.Load(), err, out.String())
	}
}
