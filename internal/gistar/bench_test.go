package gistar

import (
	"math/rand/v2"
	"testing"
	"time"
)

// benchPoints spreads n points over the given week range of Xiamen: half
// uniformly over the urban area, half around 60 sources of repeat
// complaints, as the hotline's feed looks.
func benchPoints(rng *rand.Rand, n int, from, to time.Time) []Point {
	type src struct{ lon, lat float64 }
	srcs := make([]src, 60)
	for i := range srcs {
		srcs[i] = src{117.95 + 0.40*rng.Float64(), 24.42 + 0.45*rng.Float64()}
	}
	span := int64(to.Sub(from))
	pts := make([]Point, n)
	for i := range pts {
		var lon, lat float64
		if i%2 == 0 {
			lon, lat = 117.90+0.50*rng.Float64(), 24.40+0.50*rng.Float64()
		} else {
			s := srcs[rng.IntN(len(srcs))]
			lon, lat = s.lon+0.003*rng.NormFloat64(), s.lat+0.003*rng.NormFloat64()
		}
		pts[i] = Point{Lon: lon, Lat: lat, At: from.Add(time.Duration(rng.Int64N(span)))}
	}
	return pts
}

// BenchmarkAnalyze runs the weekly analysis on 50,000 complaints in the
// target week and 400,000 in the 8 weeks before it, over all of Xiamen.
func BenchmarkAnalyze(b *testing.B) {
	start, end, err := WeekBounds("2024-W11")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	pts := benchPoints(rng, 50_000, start, end)
	pts = append(pts, benchPoints(rng, 400_000, start.AddDate(0, 0, -56), start)...)
	b.ReportAllocs()
	var res Result
	for b.Loop() {
		res, err = Analyze(pts, "2024-W11", Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.N), "cells")
	b.ReportMetric(float64(len(res.Cells)), "hot")
}
