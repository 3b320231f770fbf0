package officers

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/xiamen-eeb/nuisance/internal/auth"
)

var rateLimitedTotal = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_officers_rate_limited_total",
	Help: "Requests to the officers' API refused (429) because their token was over its rate limit.",
})

// limit answers 429 when the principal's token is over its rate, and
// reports whether it did.
func (s *Service) limit(w http.ResponseWriter, p auth.Principal) bool {
	return s.limited(w, s.limiters, p, rateLimitedTotal, "此登录令牌的请求", "rate limited")
}
