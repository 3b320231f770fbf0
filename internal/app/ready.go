package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// readiness runs the checks of /readyz every period, so that
// nuisance_ready tells Prometheus (and NuisanceNotReady the operator) of a
// dependency gone while nothing asks /readyz: PostgreSQL unreachable on a
// quiet night fails no request, and up stays 1. A check that starts
// failing is logged once, and again when it passes.
type readiness struct {
	checks []httpx.Check
	every  time.Duration
	log    *zap.Logger
}

func (r *readiness) Run(ctx context.Context) error {
	if len(r.checks) == 0 {
		return nil
	}
	since := make([]time.Time, len(r.checks)) // when each began failing
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		errs := httpx.RunChecks(ctx, r.checks)
		if ctx.Err() != nil {
			return nil
		}
		for i, err := range errs {
			name := r.checks[i].Name
			switch {
			case err != nil && since[i].IsZero():
				since[i] = time.Now()
				r.log.Warn("not ready: "+name+" does not answer (nuisance_ready 0, /readyz 503)", zap.String("check", name), logging.Error(err))
			case err == nil && !since[i].IsZero():
				r.log.Info("ready again: "+name+" answers", zap.String("check", name), zap.Duration("failed_for", time.Since(since[i]).Round(time.Second)))
				since[i] = time.Time{}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
