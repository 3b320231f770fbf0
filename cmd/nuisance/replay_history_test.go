package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replayFile writes lines, one work order a line, for a replay.
func replayFile(t *testing.T, name string, tickets ...string) string {
	t.Helper()
	var b strings.Builder
	for _, tk := range tickets {
		fmt.Fprintf(&b, `{"ticket_id":%q,"received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间施工噪声","address":"湖里区金山街道"}`+"\n", tk)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// A live replay of tickets already loaded as history was answered 200
// duplicate, "history": true, and counted them as any duplicate: the
// operator took them for the hotline's, handled, when they are closed,
// in no case and never called back. They are counted apart and named by
// line and ticket, the first ten and how many more. A -history replay of
// tickets the hotline sent says the opposite: those are handled live.
func TestReplayTellsDuplicatesStoredTheOtherWay(t *testing.T) {
	t.Parallel()
	url := realIntake(t)
	ctx := context.Background()
	var hist []string
	for i := 1; i <= 12; i++ {
		hist = append(hist, fmt.Sprintf("H-%02d", i))
	}
	var out, errb bytes.Buffer
	if err := runReplay(ctx, []string{"-q", "-history", "-url", url, replayFile(t, "history.ndjson", hist...)}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("history: %v\n%s", err, out.String())
	}
	if err := runReplay(ctx, []string{"-q", "-url", url, replayFile(t, "live.ndjson", "L-1")}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("live: %v\n%s", err, out.String())
	}

	// Live: a new ticket, then the twelve stored as history, then one of
	// the hotline's sent again.
	out.Reset()
	live := append(append([]string{"L-2"}, hist...), "L-1")
	if err := runReplay(ctx, []string{"-q", "-url", url, replayFile(t, "again.ndjson", live...)}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("live again: %v\n%s", err, out.String())
	}
	summary := out.String()
	want := "line, ticket: 2 H-01, 3 H-02, 4 H-03, 5 H-04, 6 H-05, 7 H-06, 8 H-07, 9 H-08, 10 H-09, 11 H-10 and 2 more"
	for _, w := range []string{"accepted 1, duplicate 13 (stored as history, not handled: 12)", want} {
		if !strings.Contains(summary, w) {
			t.Errorf("the live replay's summary does not say %q:\n%s", w, summary)
		}
	}
	if strings.Contains(summary, "L-1") || strings.Contains(summary, "H-11") {
		t.Errorf("the summary names a ticket it should not:\n%s", summary)
	}

	// History: one loaded as history again, and one of the hotline's.
	out.Reset()
	if err := runReplay(ctx, []string{"-q", "-history", "-url", url, replayFile(t, "mixed.ndjson", "H-01", "L-1")}, replayEnv, &out, &errb); err != nil {
		t.Fatalf("history again: %v\n%s", err, out.String())
	}
	summary = out.String()
	for _, w := range []string{"duplicate 2 (stored live, handled as the hotline's, not history: 1)", "(line, ticket: 2 L-1)"} {
		if !strings.Contains(summary, w) {
			t.Errorf("the history replay's summary does not say %q:\n%s", w, summary)
		}
	}
	if strings.Contains(summary, "H-01") {
		t.Errorf("the history replay names a ticket stored as history:\n%s", summary)
	}
}
