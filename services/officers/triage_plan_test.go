package officers

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// planRows sums, over the nodes of an EXPLAIN (ANALYZE, FORMAT JSON)
// plan that read relation, the rows they returned and those their
// filters removed: the rows of it the query read.
func planRows(node map[string]any, relation string) float64 {
	n := 0.0
	if node["Relation Name"] == relation {
		loops, _ := node["Actual Loops"].(float64)
		rows, _ := node["Actual Rows"].(float64)
		removed, _ := node["Rows Removed by Filter"].(float64)
		recheck, _ := node["Rows Removed by Index Recheck"].(float64)
		n += rows*loops + removed + recheck
	}
	plans, _ := node["Plans"].([]any)
	for _, p := range plans {
		if m, ok := p.(map[string]any); ok {
			n += planRows(m, relation)
		}
	}
	return n
}

// A geocoder down for a day, or a year's backfill, leaves 20,000 entries
// on a side of the triage list: a page of it, the first or one deep in
// the list, reads about a page of triage rows (a keyset down the index
// the side is read by, not an OFFSET, nor a scan from the newest to the
// cursor), with the plan chosen for the query's values as with the
// generic plan a prepared statement ends up with. The geocoder writes
// the entries of a batch (up to 500) with one created_at: a page after
// a cursor inside a batch reads from the cursor on, not the batch from
// its first entry; and the first page of the history reads none of
// today's entries, however many are newer.
func TestTriagePageReadsAPageOfRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	// A day of a geocoder down (today's), and a backfill loaded last
	// month (history), in batches of 500 a minute apart. A tenth placed
	// in Huli, the rest nowhere.
	for _, history := range []bool{false, true} {
		if _, err := pool.Exec(ctx, `WITH c AS (
				INSERT INTO complaints (id, ticket_id, received_at, description, history)
				SELECT 'cmp_plan_' || $1::boolean::text || '_' || g, 'T-' || $1::boolean::text || '-' || g, now() - g * interval '1 minute', '夜间施工噪声扰民', $1::boolean
				FROM generate_series(1, 20000) g RETURNING id, received_at),
			l AS (INSERT INTO locations (complaint_id, located, district, district_name, received_at)
				SELECT id, false, CASE WHEN right(id, 1) = '7' THEN 'huli' END, CASE WHEN right(id, 1) = '7' THEN '湖里区' END, received_at FROM c)
			INSERT INTO triage (complaint_id, reason, kind, created_at, history)
			SELECT id, 'geocoder unavailable', 'unlocated', CASE WHEN $1::boolean THEN now() - interval '30 days' ELSE now() END - split_part(id, '_', 4)::int / 500 * interval '1 minute', $1::boolean FROM c`, history); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `ANALYZE triage; ANALYZE complaints; ANALYZE locations`); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	const limit = 100
	// The first page, and one after 15,250 entries (in the middle of a
	// batch), of each side.
	cursors := map[bool]string{}
	for _, history := range []bool{false, true} {
		var at time.Time
		var id string
		var batch int
		if err := conn.QueryRow(ctx, `SELECT created_at, complaint_id, (SELECT count(*) FROM triage b WHERE b.created_at = t.created_at)
			FROM (SELECT created_at, complaint_id FROM triage WHERE history = $1
				ORDER BY created_at DESC, complaint_id DESC OFFSET 15250 LIMIT 1) t`, history).Scan(&at, &id, &batch); err != nil {
			t.Fatal(err)
		}
		if batch != 500 {
			t.Fatalf("the cursor's batch holds %d entries, want 500", batch)
		}
		cursors[history] = fmt.Sprintf(", '%s', '%s'", at.Format(time.RFC3339Nano), id)
	}
	for _, history := range []bool{false, true} {
		for _, after := range []bool{false, true} {
			list, _ := triageSQL(history, after)
			params, cur := "text, text, text[], int", ""
			if after {
				params, cur = params+", timestamptz, text", cursors[history]
			}
			// Prepared as the driver does: planned for the values of a
			// run, or once for all (the generic plan PostgreSQL may
			// keep after five runs).
			name := fmt.Sprintf("page_%v_%v", history, after)
			if _, err := conn.Exec(ctx, `PREPARE `+name+` (`+params+`) AS `+list); err != nil {
				t.Fatal(err)
			}
			for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
				for _, who := range []struct{ role, district string }{{"admin", ""}, {"supervisor", "siming"}} {
					if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
						t.Fatal(err)
					}
					var raw []byte
					if err := conn.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE %s('%s', '%s', '{}', %d%s)`,
						name, who.role, who.district, limit+1, cur)).Scan(&raw); err != nil {
						t.Fatal(err)
					}
					var out []map[string]any
					if err := json.Unmarshal(raw, &out); err != nil {
						t.Fatal(err)
					}
					plan, _ := out[0]["Plan"].(map[string]any)
					read := planRows(plan, "triage")
					t.Logf("%s, history %v, %s, after a cursor %v: %.0f triage rows read", mode, history, who.role, after, read)
					// A supervisor of Siming sees nine entries in ten.
					if read > 1.5*limit {
						t.Errorf("%s, history %v, %s, after a cursor %v: a page of %d read %.0f triage rows:\n%s",
							mode, history, who.role, after, limit, read, raw)
					}
				}
			}
		}
	}
}

// The first page of a side a geocoder down for days left 12,000 entries
// on counts the newest triageCountCap and one alone, from
// triage_open_list, with a location looked up for each and no complaint
// read: it read every entry of the side, with its complaint and its
// location, on every load of 分拣. Its plan, the one PostgreSQL chooses
// for the values of a run or the generic one a prepared statement may
// end up with, is estimated under jit_above_cost: compiling it would
// cost more than running it.
func TestTriageCountReadsAtMostTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	// The entries in batches of 500, a tenth placed in Huli; and the
	// complaints located as a rule, never on the list.
	if _, err := pool.Exec(ctx, `WITH c AS (
			INSERT INTO complaints (id, ticket_id, received_at, description)
			SELECT 'cmp_count_' || g, 'T-count-' || g, now() - g * interval '1 minute', '夜间施工噪声扰民'
			FROM generate_series(1, 112000) g RETURNING id, received_at),
		l AS (INSERT INTO locations (complaint_id, located, district, district_name, received_at)
			SELECT id, split_part(id, '_', 3)::int > 12000, CASE WHEN right(id, 1) = '7' THEN 'huli' END, CASE WHEN right(id, 1) = '7' THEN '湖里区' END, received_at FROM c)
		INSERT INTO triage (complaint_id, reason, kind, created_at)
		SELECT id, 'geocoder unavailable', 'unlocated', now() - split_part(id, '_', 3)::int / 500 * interval '1 minute'
		FROM c WHERE split_part(id, '_', 3)::int <= 12000`); err != nil {
		t.Fatal(err)
	}
	// Autovacuum has been through the entries of days.
	for _, sql := range []string{`VACUUM ANALYZE triage`, `ANALYZE complaints`, `ANALYZE locations`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var jitAbove float64
	if err := conn.QueryRow(ctx, `SELECT current_setting('jit_above_cost')::float8`).Scan(&jitAbove); err != nil {
		t.Fatal(err)
	}
	_, count := triageSQL(false, false)
	if _, err := conn.Exec(ctx, `PREPARE count_today (text, text, text[]) AS `+count); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, who := range []struct {
			role, district string
			seen           int
		}{{"admin", "", triageCountCap + 1}, {"supervisor", "siming", triageCountCap + 1 - (triageCountCap+1)/10}} {
			if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
				t.Fatal(err)
			}
			run := fmt.Sprintf(`EXECUTE count_today('%s', '%s', '{}')`, who.role, who.district)
			var seen, read int
			if err := conn.QueryRow(ctx, run).Scan(&seen, &read); err != nil {
				t.Fatal(err)
			}
			// A supervisor of Siming sees nine entries in ten.
			if read != triageCountCap+1 || seen < who.seen-1 || seen > who.seen+1 {
				t.Errorf("%s, %s: %d seen of %d read, want about %d of %d", mode, who.role, seen, read, who.seen, triageCountCap+1)
			}
			var raw []byte
			if err := conn.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+run).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var out []map[string]any
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			plan, _ := out[0]["Plan"].(map[string]any)
			tri, cmp, loc := planRows(plan, "triage"), planRows(plan, "complaints"), planRows(plan, "locations")
			cost, _ := plan["Total Cost"].(float64)
			t.Logf("%s, %s: %.0f triage, %.0f complaints, %.0f locations rows read; cost %.0f", mode, who.role, tri, cmp, loc, cost)
			if tri > triageCountCap+1 || cmp > 0 || loc > triageCountCap+1 {
				t.Errorf("%s, %s: the count read %.0f triage rows, %.0f complaints and %.0f locations:\n%s", mode, who.role, tri, cmp, loc, raw)
			}
			if cost >= jitAbove {
				t.Errorf("%s, %s: the count's plan is estimated at %.0f, over jit_above_cost (%.0f):\n%s", mode, who.role, cost, jitAbove, raw)
			}
		}
	}
}
