package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// TestCallbacksDiscard: a dead callback the hotline will never take (it
// deleted the work order: 410 for ever) is discarded by its ID with a
// reason. It is kept, with who discarded it, why and when, but no longer
// counted dead (the gauge NuisanceCallbacksDead reads), listed by
// `callbacks dead` (only with -discarded) or revived by `callbacks retry`;
// the work order's later callback goes out. An ID unknown or not dead is
// said to be so, the command fails, and none of the IDs given is
// discarded.
func TestCallbacksDiscard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir(), "USER": "ops-night"}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"callbacks"}, args...), func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	if _, msg, err := cli("dead"); err != nil { // migrates the database
		t.Fatalf("dead: %v %s", err, msg)
	}
	pool := pgtest.Pool(t, dsn)
	// T-gone: its first callback dead (the hotline deleted the work order),
	// a later one waiting behind it. T-down: dead while the hotline was
	// down. T-wait: waiting, not dead.
	if _, err := pool.Exec(ctx, `INSERT INTO callbacks (id, event_id, ticket_id, case_id, status, at, attempts, next_at, dead_at, last_error) VALUES
		('cb_gone_1', 'ev_gone_1', 'T-gone', 'case_g', 'assigned', now() - interval '2 days', 40, now() - interval '1 day', now() - interval '1 day', 'hotline answered 410 Gone'),
		('cb_gone_2', 'ev_gone_2', 'T-gone', 'case_g', 'resolved', now() - interval '1 hour', 0, now(), NULL, NULL),
		('cb_down_1', 'ev_down_1', 'T-down', 'case_d', 'assigned', now() - interval '2 days', 40, now() - interval '1 day', now() - interval '1 day', 'hotline answered 500 Internal Server Error'),
		('cb_wait_1', 'ev_wait_1', 'T-wait', 'case_w', 'assigned', now(), 0, now() + interval '1 hour', NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	discarded := func(id string) bool {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM callbacks WHERE id = $1 AND discarded_at IS NOT NULL`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	if out, msg, err := cli("discard", "cb_gone_1"); err == nil || discarded("cb_gone_1") {
		t.Errorf("discard without a reason: %q %q %v", out, msg, err)
	}
	out, msg, err := cli("discard", "cb_gone_1", "cb_no_such", "-reason", "work order deleted by the hotline")
	if err == nil || !strings.Contains(out+msg, "cb_no_such") || !strings.Contains(out+msg, "unknown") {
		t.Errorf("discard with an unknown ID: %q %q %v: want an error naming it unknown", out, msg, err)
	}
	if discarded("cb_gone_1") {
		t.Errorf("discard with an unknown ID discarded the known one: an operator's typo should leave them all as they were")
	}
	if out, msg, err := cli("discard", "-reason", "not wanted", "cb_wait_1"); err == nil || !strings.Contains(out+msg, "not dead") || discarded("cb_wait_1") {
		t.Errorf("discard of a callback still being retried: %q %q %v", out, msg, err)
	}

	// The flags may follow the IDs, as an operator types them.
	out, msg, err = cli("discard", "cb_gone_1", "-reason", "hotline answers 410: work order deleted")
	if err != nil || !strings.HasPrefix(out, "1 dead callback discarded") {
		t.Fatalf("discard cb_gone_1: %q %q %v", out, msg, err)
	}
	var by, reason string
	var at, deadAt *time.Time
	if err := pool.QueryRow(ctx, `SELECT discarded_by, discard_reason, discarded_at, dead_at FROM callbacks WHERE id = 'cb_gone_1'`).Scan(&by, &reason, &at, &deadAt); err != nil {
		t.Fatalf("the discarded callback is not kept: %v", err)
	}
	if by != "ops-night" || reason != "hotline answers 410: work order deleted" || at == nil || deadAt == nil {
		t.Errorf("discarded callback recorded by %q, reason %q, at %v, dead_at %v", by, reason, at, deadAt)
	}
	if out, msg, err := cli("discard", "cb_gone_1", "-reason", "again", "-by", "someone"); err != nil || !strings.Contains(out, "already discarded") {
		t.Errorf("discard of a discarded callback: %q %q %v", out, msg, err)
	}
	if err := pool.QueryRow(ctx, `SELECT discarded_by FROM callbacks WHERE id = 'cb_gone_1'`).Scan(&by); err != nil || by != "ops-night" {
		t.Errorf("discarding again rewrote the record: by %q %v", by, err)
	}

	if _, dead, err := callbacks.Counts(ctx, pool); err != nil || dead != 1 {
		t.Errorf("nuisance_callbacks{state=\"dead\"} counts %d (%v), want 1: the discarded one keeps NuisanceCallbacksDead on", dead, err)
	}
	out, _, err = cli("dead")
	if err != nil || strings.Contains(out, "cb_gone_1") || !strings.Contains(out, "cb_down_1") || !strings.HasSuffix(out, "1 dead\n") {
		t.Errorf("callbacks dead after a discard: %q %v", out, err)
	}
	out, _, err = cli("dead", "-discarded")
	if err != nil || !strings.Contains(out, "cb_gone_1") || !strings.Contains(out, "ops-night") ||
		!strings.Contains(out, "work order deleted") || strings.Contains(out, "cb_down_1") || !strings.HasSuffix(out, "1 discarded\n") {
		t.Errorf("callbacks dead -discarded: %q %v", out, err)
	}

	// Retrying every dead callback leaves the discarded one as it is.
	if out, msg, err := cli("retry"); err != nil || !strings.HasPrefix(out, "1 dead deliveries scheduled again") {
		t.Errorf("retry after a discard: %q %q %v", out, msg, err)
	}
	var superseded *string
	if err := pool.QueryRow(ctx, `SELECT dead_at, superseded_by FROM callbacks WHERE id = 'cb_gone_1'`).Scan(&deadAt, &superseded); err != nil ||
		deadAt == nil || superseded != nil || !discarded("cb_gone_1") {
		t.Errorf("retry touched the discarded callback: dead_at %v, superseded_by %v, %v", deadAt, superseded, err)
	}

	// The hotline is told the work order's later callback, never the
	// discarded one.
	var mu sync.Mutex
	var posted []string
	hotline := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posted = append(posted, r.Header.Get("webhook-id"))
		mu.Unlock()
	}))
	t.Cleanup(hotline.Close)
	log, err := logging.New("error", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := callbacks.New(callbacks.DefaultConfig(hotline.URL, e2eSecret), pool, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeliverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	slices.Sort(posted)
	if !slices.Equal(posted, []string{"cb_down_1", "cb_gone_2"}) {
		t.Errorf("the hotline was sent %v, want cb_down_1 (retried) and cb_gone_2 (after the discarded one)", posted)
	}
	mu.Unlock()
}
