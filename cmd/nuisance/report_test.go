package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// nuisance report writes a week's report to a file; a mistyped format or
// week leaves a file written before as it was, and a week not over yet is
// reported with a warning.
func TestReportCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": pgtest.DSN(t), "NUISANCE_DATA_DIR": t.TempDir()}
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runReport(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		return errOut.String(), err
	}
	file := filepath.Join(t.TempDir(), "w11.html")
	if msg, err := cli("--week", "2024-W11", "--format", "html", "-o", file); err != nil || !strings.Contains(msg, "written to") {
		t.Fatalf("report: %q %v", msg, err)
	}
	good, err := os.ReadFile(file)
	if err != nil || !bytes.Contains(good, []byte("2024-W11")) {
		t.Fatalf("the report file: %d bytes, %v", len(good), err)
	}
	for _, bad := range [][]string{
		{"--week", "2024-W11", "--format", "htm", "-o", file},
		{"--week", "2024-W54", "--format", "html", "-o", file},
		{"--week", "2024-W11", "--format", "html", "-o", file, "extra"},
	} {
		if _, err := cli(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
		if now, _ := os.ReadFile(file); !bytes.Equal(now, good) {
			t.Errorf("%v changed the file written before (%d bytes, was %d)", bad, len(now), len(good))
		}
	}
	this := gistar.WeekOf(time.Now())
	if msg, err := cli("--week", this, "--format", "csv", "-o", filepath.Join(t.TempDir(), "now.csv")); err != nil || !strings.Contains(msg, "not over yet") {
		t.Errorf("this week's report: %q %v, want a warning that it is not over", msg, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".w11.html.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
