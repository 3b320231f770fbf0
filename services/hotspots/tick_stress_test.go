package hotspots

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// TestTicksBesideBatchesNeverRebuild replays four months of complaints at
// forty sites in batches while ticks run without pause by a clock at the
// end of the months, so that nearly every tick judges hotspots a batch in
// flight is changing. Ticks and batches must never deadlock, the engine
// must never need a rebuild, and at the end the engine and the database
// must hold the same record of every hotspot.
func TestTicksBesideBatchesNeverRebuild(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := rand.New(rand.NewPCG(1, 2))
	const n = 4000
	span := day(110)
	evs := make([]event.ComplaintLocated, 0, n)
	for i := range n {
		at := t0.Add(time.Duration(float64(span) * float64(i) / n)).Truncate(time.Second)
		site := r.IntN(40)
		dx, dy := float64(site%8)*3000+r.Float64()*30, float64(site/8)*3000+r.Float64()*30
		if r.IntN(3) == 0 {
			dx, dy = r.Float64()*25000, r.Float64()*15000
		}
		evs = append(evs, located(fmt.Sprintf("c%05d", i), dx, dy, at))
	}
	e.clock.Set(t0.Add(span + hours(1)))
	var rebuilt atomic.Int32
	e.svc.mu.Lock()
	e.svc.afterRebuild = func(string) { rebuilt.Add(1) }
	e.svc.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ticks, changed atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			k, err := e.svc.TickOnce(ctx)
			if err != nil && ctx.Err() == nil {
				t.Errorf("tick: %v", err)
				return
			}
			ticks.Add(1)
			changed.Add(int64(k))
		}
	})
	e.consumeAll(t, 50, evs...)
	cancel()
	wg.Wait()
	if _, err := e.svc.TickOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rebuilt.Load() != 0 || changed.Load() == 0 {
		t.Errorf("%d ticks changed %d statuses and rebuilt the engine %d times; want changes and no rebuild",
			ticks.Load(), changed.Load(), rebuilt.Load())
	}

	rows, err := e.pool.Query(context.Background(), `SELECT id, status, complaint_count, last_at FROM hotspots`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	for rows.Next() {
		var id, status string
		var count int
		var last time.Time
		if err := rows.Scan(&id, &status, &count, &last); err != nil {
			t.Fatal(err)
		}
		seen++
		h, ok := e.svc.engine.Hotspot(id)
		if !ok {
			continue // forgotten: closed or merged, and long quiet
		}
		if string(h.Status) != status || h.Count != count || !h.LastAt.Equal(last) {
			t.Errorf("hotspot %s: engine %s, %d, %v; database %s, %d, %v", id, h.Status, h.Count, h.LastAt, status, count, last)
		}
	}
	if seen == 0 {
		t.Fatal("no hotspot stored")
	}
}
