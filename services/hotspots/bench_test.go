package hotspots

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// month returns n complaints over a month and a 6 km square of Siming, a
// third of them around 40 recurring places, so hotspots open, grow and
// merge.
func month(n int) []event.ComplaintLocated {
	rng := rand.New(rand.NewPCG(1, 2))
	var places [40][2]float64
	for i := range places {
		places[i] = [2]float64{rng.Float64()*6000 - 3000, rng.Float64()*6000 - 3000}
	}
	evs := make([]event.ComplaintLocated, n)
	step := 30 * 24 * time.Hour / time.Duration(max(n, 1))
	for i := range evs {
		dx, dy := rng.Float64()*6000-3000, rng.Float64()*6000-3000
		if i%3 == 0 {
			p := places[rng.IntN(len(places))]
			dx, dy = p[0]+rng.NormFloat64()*40, p[1]+rng.NormFloat64()*40
		}
		evs[i] = located(fmt.Sprintf("b%07d", i), dx, dy, t0.Add(time.Duration(i)*step))
	}
	return evs
}

// copyComplaints stores the intake rows of many complaints in one COPY.
func copyComplaints(b testing.TB, pool *pgxpool.Pool, evs []event.ComplaintLocated) {
	b.Helper()
	rows := make([][]any, len(evs))
	for i, ev := range evs {
		rows[i] = []any{ev.ComplaintID, ev.TicketID, ev.ReceivedAt, "噪音"}
	}
	if _, err := pool.CopyFrom(context.Background(), pgx.Identifier{"complaints"},
		[]string{"id", "ticket_id", "received_at", "description"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHandleComplaintLocated measures the located-complaint handler
// on real PostgreSQL in batches of 256, as the consume loop runs it: one
// transaction and one handler call per batch (see consume), over a month
// of complaints (see month). It reports PostgreSQL's statements and
// execution time per complaint when the server has pg_stat_statements.
func BenchmarkHandleComplaintLocated(b *testing.B) {
	pool := testenv.DB(b)
	s := newService(b, pool, &clock{now: t0})
	evs := month(b.N)
	copyComplaints(b, pool, evs)

	st := testenv.StartStatements(b, pool)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(evs); i += 256 {
		for _, err := range consume(b, pool, s.Durable(), s.HandleComplaintsLocated, evs[i:min(i+256, len(evs))]...) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "complaints/s")
	b.StopTimer()
	st.Report(b, b.N, "complaint")
}
