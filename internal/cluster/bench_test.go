package cluster

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

// BenchmarkAdd measures one Add against a million complaints of history
// held in memory, and the heap the history takes per complaint. The month
// of history has twenty times the evaluation's volume over twenty times
// its area, so that local density, and thus the work per complaint, is
// Xiamen's while the index holds a million points.
func BenchmarkAdd(b *testing.B) {
	cfg, err := LoadConfig()
	if err != nil {
		b.Fatal(err)
	}
	const history = 1_000_000
	feed := cityFeed(3, history+50_000, 10_000, math.Sqrt(20))
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	e := NewEngine(cfg, nil)
	ctx := context.Background()
	for _, c := range feed[:history] {
		if _, err := e.Add(ctx, c.Point); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	perPoint := float64(m1.HeapAlloc-m0.HeapAlloc) / float64(e.Len())
	rest := feed[history:]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := rest[i%len(rest)].Point
		if i >= len(rest) {
			p.ID = fmt.Sprintf("%s-%d", p.ID, i)
			p.At = p.At.Add(time.Duration(i/len(rest)) * time.Minute)
		}
		if _, err := e.Add(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(perPoint, "bytes/point")
}
