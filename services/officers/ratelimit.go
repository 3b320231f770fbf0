package officers

import (
	"math"
	"net/http"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// maxLimited is how many tokens the service keeps a rate limiter for; a
// token seen again after its limiter was dropped starts with a full
// burst. Limiters are made only for tokens that authenticated, so their
// number is that of the officers at work.
const maxLimited = 4096

var rateLimitedTotal = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_officers_rate_limited_total",
	Help: "Requests to the officers' API refused (429) because their token was over its rate limit.",
})

// limiters holds a token bucket per token, keyed by the officer it
// belongs to (a rotated token keeps its officer's bucket).
type limiters struct {
	every rate.Limit
	burst int
	byID  *lru.Cache[string, *rate.Limiter]
}

func newLimiters(perSecond float64, burst int) *limiters {
	c, err := lru.New[string, *rate.Limiter](maxLimited)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &limiters{every: rate.Limit(perSecond), burst: burst, byID: c}
}

func (l *limiters) get(id string) *rate.Limiter {
	if lim, ok := l.byID.Get(id); ok {
		return lim
	}
	lim := rate.NewLimiter(l.every, l.burst)
	if prev, ok, _ := l.byID.PeekOrAdd(id, lim); ok {
		return prev
	}
	return lim
}

// allow takes one request of p's budget, or tells how long to wait for
// the next.
func (l *limiters) allow(p auth.Principal, now time.Time) (bool, time.Duration) {
	lim := l.get(p.ID)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request spends nothing
		return false, d
	}
	return true, 0
}

// limit answers 429 when the principal's token is over its rate, and
// reports whether it did.
func (s *Service) limit(w http.ResponseWriter, p auth.Principal) bool {
	ok, wait := s.limiters.allow(p, time.Now())
	if ok {
		return false
	}
	rateLimitedTotal.Inc()
	s.log.Debug("rate limited", zap.String("officer", p.ID), zap.Duration("wait", wait))
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	httpx.WriteProblem(w, httpx.Problem{
		Type:   "https://nuisance.xm.gov/problems/rate_limited",
		Status: http.StatusTooManyRequests,
		Detail: "too many requests with this token; retry after " + strconv.Itoa(secs) + " s",
	})
	return true
}
