package logging_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// An error logged quotes the value it failed on; the line carries it with
// the phone numbers and the callers' names given starred, its kind kept.
func TestErrorMasksTheCallers(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	err := errors.New(`ERROR: invalid input syntax for type date: "王小明 13812345678" (SQLSTATE 22007)`)
	zap.New(core).Warn("handler", logging.Error(err, "王小明"), logging.Error(nil))
	got := logs.All()[0].ContextMap()
	if want := `ERROR: invalid input syntax for type date: "王** 138****5678" (SQLSTATE 22007)`; got["error"] != want || len(got) != 1 {
		t.Fatalf("fields %v, want error %q alone", got, want)
	}
}

// No line of the services logs an error's text as it is: zap.Error, or
// zap.NamedError, would write a caller's phone an error quotes.
func TestNoErrorIsLoggedUnmasked(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range []string{"internal", "services", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "zap.Error(") || strings.Contains(line, "zap.NamedError(") {
					t.Errorf("%s:%d logs an error unmasked (use logging.Error): %s", path, i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
