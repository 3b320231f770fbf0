package retention

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// scans lists, for every node of an EXPLAIN (FORMAT JSON) plan that
// reads relation, how it reads it: "Seq Scan", or the name of the index.
// A Bitmap Index Scan names its index and no relation: it is counted
// under the Bitmap Heap Scan above it.
func scans(node map[string]any, relation string, out *[]string) {
	typ, _ := node["Node Type"].(string)
	plans, _ := node["Plans"].([]any)
	if node["Relation Name"] == relation {
		switch typ {
		case "Seq Scan", "Tid Range Scan", "Tid Scan":
			*out = append(*out, typ)
		case "Bitmap Heap Scan":
			for _, p := range plans {
				if m, ok := p.(map[string]any); ok {
					if name, ok := m["Index Name"].(string); ok {
						*out = append(*out, name)
					}
				}
			}
		default:
			if name, ok := node["Index Name"].(string); ok {
				*out = append(*out, name)
			}
		}
	}
	for _, p := range plans {
		if m, ok := p.(map[string]any); ok {
			scans(m, relation, out)
		}
	}
}

// dead_letters_event (00091) went in 00109: dead_letters_event_prefix
// (00104), under text_pattern_ops, serves equality as well as the
// prefixes. With 60,000 dead letters, the look-ups by event id alone
// still read that index and never the whole table: the idempotency
// records a dead letter keeps (pruneProcessedSQL, event_id =), an
// event's dead letters by its id, and a complaint's by the prefix of its
// events (<id>.received, .located.c1, ...: pickSQL and eraseSQL).
func TestEventLookUpsReadTheRemainingIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'dead_letters' AND indexname = 'dead_letters_event'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("dead_letters_event is still there, beside dead_letters_event_prefix: every dead letter costs two entries of one column")
	}
	for _, q := range []string{
		`INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload, created_at)
			SELECT 'geocoder', 'complaint.received', 'c' || i || '.received', 'COMPLAINTS:' || i, 8, 'max deliveries reached: boom', '\x7b7d', now() - interval '400 days'
			FROM generate_series(1, 60000) i`,
		`INSERT INTO processed_events (consumer, event_id, processed_at)
			SELECT 'router', 'c' || i || '.clustered', now() - interval '60 days' FROM generate_series(1, 200) i`,
		`INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone, created_at)
			SELECT 'c' || i, 'T' || i, now() - interval '400 days', '噪声', '王小明', '13812345678', now() - interval '400 days'
			FROM generate_series(1, 200) i`,
		`ANALYZE dead_letters`, `ANALYZE processed_events`, `ANALYZE complaints`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ret, lost := interval(180*24*time.Hour), interval(180*24*time.Hour)
	for _, c := range []struct {
		name, sql string
		args      []any
	}{
		{"idempotency records a dead letter keeps", pruneProcessedSQL, []any{tid(0), tid(128), interval(ProcessedWindow())}},
		{"an event's dead letters", `SELECT id FROM dead_letters WHERE event_id = $1`, []any{"c7.received"}},
		{"a complaint's dead letters, picked", pickSQL, []any{ret, time.Time{}, "", 500, lost}},
		{"a complaint's dead letters, erased", eraseSQL, []any{ret, []string{"c7"}, []*string{nil}, []*string{nil}, lost}},
	} {
		var plan []map[string]any
		var raw []byte
		if err := pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+c.sql, c.args...).Scan(&raw); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		var got []string
		scans(plan[0]["Plan"].(map[string]any), "dead_letters", &got)
		if len(got) == 0 || slices.Contains(got, "Seq Scan") || !slices.Contains(got, "dead_letters_event_prefix") {
			t.Errorf("%s reads dead_letters by %v, want dead_letters_event_prefix", c.name, got)
		}
	}
}

// A complaint whose event was lost is one in no case, with no triage
// entry (or one corrected long ago), no dead letter and none of its
// events in the outbox, its corrections' included (see dueJoins). The
// pick and the erasure look each up for the complaint alone, by index:
// the outbox by event id (outbox_event_id_key), never reading the table
// (a relay's backlog or 14 days of sent events), and case_complaints,
// triage and triage_corrections by the complaint, never hashing any
// whole for each batch of 500.
func TestLostComplaintLookUpsReadIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	for _, q := range []string{
		`INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone, created_at)
			SELECT 'c' || i, 'T' || i, now() - interval '400 days', '噪声', '王小明', '13812345678', now() - interval '400 days'
			FROM generate_series(1, 20000) i`,
		`INSERT INTO cases (id, category, district, team, status, opened_at)
			SELECT 'K' || i, 'noise', 'siming', 'siming-police', 'assigned', now() - interval '400 days' FROM generate_series(1, 10000) i`,
		`INSERT INTO case_complaints (complaint_id, case_id) SELECT 'c' || i, 'K' || i FROM generate_series(1, 10000) i`,
		`INSERT INTO triage (complaint_id, reason, kind, created_at) SELECT 'c' || i, 'test', 'unlocated', now() - interval '10 days'
			FROM generate_series(10001, 15000) i`,
		`INSERT INTO triage (complaint_id, reason, kind, created_at, resolved_at) SELECT 'c' || i, 'test', 'unlocated', now() - interval '300 days', now() - interval '290 days'
			FROM generate_series(15001, 18000) i`,
		`INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id)
			SELECT 'c' || i, 1, 'sup', 'unlocated', 'siming', 'noise', 'social_life', 'c' || i || '.triage.corrected.1' FROM generate_series(10001, 18000) i`,
		`INSERT INTO outbox (event_id, subject, payload, sent_at)
			SELECT 'e' || i || '.received', 'complaint.received', '{}', now() - interval '1 day' FROM generate_series(1, 60000) i`,
		`ANALYZE complaints`, `ANALYZE cases`, `ANALYZE case_complaints`, `ANALYZE triage`, `ANALYZE triage_corrections`, `ANALYZE outbox`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ret, lost := interval(180*24*time.Hour), interval(180*24*time.Hour)
	for _, c := range []struct {
		name, sql string
		args      []any
	}{
		{"picked", pickSQL, []any{ret, time.Time{}, "", 500, lost}},
		{"erased", eraseSQL, []any{ret, []string{"c17000"}, []*string{nil}, []*string{nil}, lost}},
	} {
		var plan []map[string]any
		var raw []byte
		if err := pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+c.sql, c.args...).Scan(&raw); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		for table, index := range map[string]string{"outbox": "outbox_event_id_key", "case_complaints": "case_complaints_pkey", "triage": "",
			"triage_corrections": "triage_corrections_pkey"} {
			var got []string
			scans(plan[0]["Plan"].(map[string]any), table, &got)
			if len(got) == 0 || slices.Contains(got, "Seq Scan") || (index != "" && !slices.Contains(got, index)) {
				t.Errorf("%s: reads %s by %v, want an index (%s)", c.name, table, got, index)
			}
		}
	}
}
