package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// `nuisance streams` puts back the settings of a stream that differ from
// this version's (what the services may not do themselves) and lists the
// streams; without NATS_URL it says what to set.
func TestStreamsDeclaresAsTheOperator(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	ctx := context.Background()
	s, err := n.JS.Stream(ctx, "CASES")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := info.Config
	old.MaxAge = time.Hour // as an older version had it
	if _, err := n.JS.UpdateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NATS_URL": n.Server.URL(), "NUISANCE_DATA_DIR": t.TempDir()}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"streams"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("streams: %v\n%s", err, errOut.String())
	}
	if info, err = s.Info(ctx); err != nil || info.Config.MaxAge != 7*24*time.Hour {
		t.Errorf("CASES keeps %v (%v), want this version's 168h", info.Config.MaxAge, err)
	}
	for _, name := range []string{"COMPLAINTS", "HOTSPOTS", "CASES", "TRIAGE"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("%s not listed:\n%s", name, out.String())
		}
	}
	delete(env, "NATS_URL")
	if err := run(ctx, []string{"streams"}, func(k string) string { return env[k] }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "NATS_URL") {
		t.Errorf("without NATS_URL: %v, want an error naming it", err)
	}
}
