package main

import (
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// The command starts against the environment's NATS and PostgreSQL,
// reports ready, and stops cleanly when its context ends.
func TestRunServesReadinessAndStops(t *testing.T) {
	t.Parallel()
	p := testenv.StartProcess(t, testenv.StartNATS(t), run, nil, map[string]string{
		"HOTLINE_SECRET":       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"HOTLINE_CALLBACK_URL": "http://127.0.0.1:9/unused",
	})
	p.Stop(t)
}
