package reporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The weeks of the complaints stored since the last look are read every
// minute, by every replica: through the complaints stored since, not a
// read of every complaint ever received (received_at before the catch-up
// window holds nearly all of them, and complaints are never pruned).
func TestOlderWeeksReadTheComplaintsStoredSinceAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	// Two years of a busy hotline, stored as they came.
	if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, created_at)
		SELECT 'c' || g, 'T-' || g, now() - g * interval '5 minutes', '夜间施工噪声扰民', now() - g * interval '5 minutes' + interval '2 seconds'
		FROM generate_series(1, 200000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE complaints`); err != nil {
		t.Fatal(err)
	}
	var since time.Time
	if err := pool.QueryRow(ctx, `SELECT now() - interval '2 minutes'`).Scan(&since); err != nil {
		t.Fatal(err)
	}
	start := since.AddDate(0, 0, -56)
	rows, err := pool.Query(ctx, `EXPLAIN `+olderWeeksSQL, since, start)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan on complaints") {
		t.Errorf("the weeks of the complaints stored since read every complaint:\n%s", p)
	}
}
