package officers

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/internal/refresh"
)

// A complaint on the triage list has no case, no team and no deadline:
// nobody but a supervisor will act on it, and the hotline hears nothing
// of it. The gauges tell the operator how many wait and for how long, so
// that a list nobody works (a district without a supervisor, a holiday)
// is seen before the hotline asks.
var (
	triageWaiting = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_triage_waiting",
		Help: "Complaints waiting on the supervisors' triage list (unlocated, unclassified or unrouted), by list: current, or history (work orders loaded with replay -history).",
	}, []string{"list"})
	triageOldest = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nuisance_triage_oldest_waiting_seconds",
		Help: "How long the oldest complaint on the triage list has waited, by list (0 when none waits).",
	}, []string{"list"})
)

// triageBacklogSQL counts the open triage entries of each list, with the
// oldest's wait on the database's clock. An entry is history by its own
// mark, which the database sets from its complaint whoever writes it
// (00100), as the list reads it: the open entries are read from
// triage_open_list alone, no complaint joined.
const triageBacklogSQL = `SELECT t.history, count(*), extract(epoch FROM now() - min(t.created_at))
	FROM triage t
	WHERE t.resolved_at IS NULL GROUP BY 1`

// MeasureTriage sets the triage gauges from the database.
func (s *Service) MeasureTriage(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, triageBacklogSQL)
	if err != nil {
		return fmt.Errorf("measure the triage list: %w", err)
	}
	waiting := map[string]float64{"current": 0, "history": 0}
	oldest := map[string]float64{"current": 0, "history": 0}
	var history bool
	var n int64
	var age float64
	if _, err := pgx.ForEachRow(rows, []any{&history, &n, &age}, func() error {
		list := "current"
		if history {
			list = "history"
		}
		waiting[list], oldest[list] = float64(n), age
		return nil
	}); err != nil {
		return fmt.Errorf("measure the triage list: %w", err)
	}
	for list, n := range waiting {
		triageWaiting.WithLabelValues(list).Set(n)
		triageOldest.WithLabelValues(list).Set(oldest[list])
	}
	return nil
}

// measureTriage keeps the gauges current every period until ctx ends. A
// read that fails leaves them as they were: it is counted and logged
// once for its streak (refresh).
func (s *Service) measureTriage(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	read := refresh.New("nuisance_triage_waiting", s.log)
	defer read.Stop()
	for {
		read.Done(ctx, s.MeasureTriage(ctx))
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
	}
}
