package intake

import (
	"fmt"
	"testing"

	"go.uber.org/zap"
)

// A client keeps its limiter while it is among the most recent clients,
// and the limiters of many addresses (posts need no signature to reach
// the limiter) never grow past maxClients.
func TestLimitersAreBounded(t *testing.T) {
	cfg := DefaultConfig("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	cfg.RatePerClient, cfg.Burst = 1, 2
	s, err := New(cfg, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	hotline := "10.0.0.1"
	for range 2 {
		if !s.limiter(hotline).Allow() {
			t.Fatal("the first two requests of a burst of 2 were refused")
		}
	}
	for i := range maxClients - 1 {
		s.limiter(fmt.Sprintf("192.0.2.%d", i))
	}
	if s.limiter(hotline).Allow() {
		t.Fatal("a client that spent its burst got a fresh limiter while still among the most recent clients")
	}
	for i := range 3 * maxClients {
		s.limiter(fmt.Sprintf("198.51.100.%d", i))
	}
	if n := s.limiters.Len(); n > maxClients {
		t.Fatalf("%d limiters kept, want at most %d", n, maxClients)
	}
}
