package reporter

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Benchmark volumes: a week of 50,000 complaints at the end of a history
// of 2,000,000, a fifth of them in 5,000 hotspots, a case per four
// complaints.
const (
	benchWeek      = "2024-W40"
	benchHistory   = 2_000_000
	benchPerWeek   = 50_000
	benchHotspots  = 5_000
	benchCaseEvery = 4
)

// seedBench fills the database with COPY, streaming the rows.
func seedBench(b testing.TB, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	began := time.Now()
	ds, err := geo.LoadDistricts()
	if err != nil {
		b.Fatal(err)
	}
	list := ds.List()
	centres := make([][2]float64, len(list))
	for i := range list {
		centres[i] = list[i].InteriorPoint()
	}
	start, _, err := gistar.WeekBounds(benchWeek)
	if err != nil {
		b.Fatal(err)
	}
	weeks := benchHistory / benchPerWeek
	first := start.AddDate(0, 0, -7*(weeks-1))
	week := 7 * 24 * time.Hour
	rng := rand.New(rand.NewPCG(2, 40))
	hsDistrict := make([]int, benchHotspots)
	hsLon, hsLat := make([]float64, benchHotspots), make([]float64, benchHotspots)
	for i := range benchHotspots {
		d := rng.IntN(len(list))
		hsDistrict[i] = d
		hsLon[i] = centres[d][0] + (rng.Float64()-0.5)*0.08
		hsLat[i] = centres[d][1] + (rng.Float64()-0.5)*0.08
	}
	// One pass decides every complaint; the tables are copied from it.
	type row struct {
		at       time.Time
		district int
		category string
		lon, lat float64
		hotspot  int // -1 none
	}
	rowOf := func(i int) row {
		r := rand.New(rand.NewPCG(uint64(i), 99))
		w := i / benchPerWeek
		x := row{at: first.Add(time.Duration(w)*week + time.Duration(r.Int64N(int64(week)))), hotspot: -1}
		x.category = report.Categories[r.IntN(3)]
		if r.IntN(5) == 0 {
			h := r.IntN(benchHotspots)
			x.hotspot, x.district = h, hsDistrict[h]
			x.lon, x.lat = hsLon[h]+(r.Float64()-0.5)*0.002, hsLat[h]+(r.Float64()-0.5)*0.002
			x.category = report.Categories[h%3]
			return x
		}
		x.district = r.IntN(len(list))
		x.lon = centres[x.district][0] + (r.Float64()-0.5)*0.1
		x.lat = centres[x.district][1] + (r.Float64()-0.5)*0.1
		return x
	}
	// Foreign keys are checked row by row; the generated rows satisfy
	// them, so the copy skips the triggers that check them.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, "RESET session_replication_role") }()
	copyN := func(table string, cols []string, n int, fn func(i int) ([]any, bool)) {
		i := 0
		_, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			for i < n {
				v, ok := fn(i)
				i++
				if ok {
					return v, nil
				}
			}
			return nil, nil
		}))
		if err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
		b.Logf("copied %s at %s", table, time.Since(began).Round(time.Second))
	}
	id := func(i int) string { return fmt.Sprintf("c%07d", i) }
	copyN("complaints", []string{"id", "ticket_id", "received_at", "description"}, benchHistory, func(i int) ([]any, bool) {
		x := rowOf(i)
		return []any{id(i), "T" + id(i), x.at, "噪声扰民"}, true
	})
	copyN("locations", []string{"complaint_id", "located", "district", "lon", "lat", "category", "received_at"}, benchHistory, func(i int) ([]any, bool) {
		x := rowOf(i)
		return []any{id(i), true, list[x.district].Slug, x.lon, x.lat, x.category, x.at}, true
	})
	copyN("hotspots", []string{"id", "category", "district", "status", "complaint_count", "first_at", "last_at", "lon", "lat", "place"}, benchHotspots, func(h int) ([]any, bool) {
		return []any{fmt.Sprintf("hs%05d", h), report.Categories[h%3], list[hsDistrict[h]].Slug, "active", benchHistory / 5 / benchHotspots,
			first, start.Add(6 * 24 * time.Hour), hsLon[h], hsLat[h], fmt.Sprintf("地点 %d", h)}, true
	})
	copyN("hotspot_members", []string{"complaint_id", "hotspot_id", "category", "district", "lon", "lat", "at"}, benchHistory, func(i int) ([]any, bool) {
		x := rowOf(i)
		if x.hotspot < 0 {
			return nil, false
		}
		return []any{id(i), fmt.Sprintf("hs%05d", x.hotspot), x.category, list[x.district].Slug, x.lon, x.lat, x.at}, true
	})
	teams := []string{"eco", "urban", "housing", "police"}
	copyN("cases", []string{"id", "category", "district", "team", "status", "hotspot_id", "opened_at", "sign_due", "resolve_due", "accepted_at", "resolved_at", "escalated"},
		benchHistory, func(i int) ([]any, bool) {
			if i%benchCaseEvery != 0 {
				return nil, false
			}
			x := rowOf(i)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			var hs any
			if x.hotspot >= 0 {
				hs = fmt.Sprintf("hs%05d", x.hotspot)
			}
			accepted := x.at.Add(time.Duration(r.IntN(36)) * time.Hour)
			var resolved any = x.at.Add(time.Duration(24+r.IntN(8*24)) * time.Hour)
			status := "resolved"
			if r.IntN(50) == 0 {
				resolved, status = nil, "accepted"
			}
			return []any{"k" + id(i), x.category, list[x.district].Slug, list[x.district].Slug + "-" + teams[r.IntN(len(teams))], status, hs,
				x.at, x.at.Add(24 * time.Hour), x.at.Add(5 * 24 * time.Hour), accepted, resolved, status == "accepted"}, true
		})
	copyN("case_audit", []string{"case_id", "actor", "at", "to_status", "action"}, benchHistory, func(i int) ([]any, bool) {
		if i%(benchCaseEvery*50) != 0 {
			return nil, false
		}
		x := rowOf(i)
		return []any{"k" + id(i), "service:router", x.at.Add(6 * 24 * time.Hour), "accepted", "escalated"}, true
	})
	// A week's rows are long settled when its report is read: vacuum
	// marks them all-visible, as autovacuum would have.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d complaints in %s", benchHistory, time.Since(began).Round(time.Second))
}

// BenchmarkWeeklyReport generates the report of a week of 50,000
// complaints over a 2,000,000-complaint history and renders it in every
// format.
func BenchmarkWeeklyReport(b *testing.B) {
	pool := testenv.DB(b)
	seedBench(b, pool)
	ctx := context.Background()
	now := time.Date(2024, 10, 7, 0, 5, 0, 0, cst)
	b.ResetTimer()
	var r *report.Report
	for b.Loop() {
		var err error
		r, err = Generate(ctx, pool, benchWeek, now)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range report.Formats {
			if err := Render(r, f, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if r.Total != benchPerWeek {
		b.Fatalf("report counts %d complaints, want %d", r.Total, benchPerWeek)
	}
	b.ReportMetric(float64(len(r.Hotspots)), "hotspots")
}
