package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// maxLimited is how many keys (officers, client addresses) a limiter
// keeps a token bucket for; a key seen again after its bucket was
// dropped, the least recently used, starts with a full burst.
const maxLimited = 4096

// Failed authentications: each client address may look up failureBurst
// tokens that turn out unknown or disabled at once, and one more every
// failureEvery. Past that, a token this process has not seen valid is
// answered 429 without asking the database; a token it has (a colleague
// behind the same NAT address) is looked up as usual.
const (
	failureBurst = 20
	failureEvery = 3 * time.Second
)

// Failed authentications of every address together: a look-up of an
// unseen token also spends one of allFailuresBurst, given back one every
// allFailuresEvery. An address's budget alone bounds nothing against many
// addresses (the /64s of one IPv6 /48, a botnet), and the limiter keeps
// maxLimited of them, so one it dropped comes back with a new burst.
const (
	allFailuresBurst = 100
	allFailuresEvery = 100 * time.Millisecond
)

var failuresLimited = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_auth_rate_limited_total",
	Help: "Requests refused (429) without a database look-up: a token never seen valid, from a client address over its budget of failed authentications.",
})

// buckets holds a token bucket per key.
type buckets struct {
	every rate.Limit
	burst int
	byKey *lru.Cache[string, *rate.Limiter]
}

func newBuckets(every rate.Limit, burst int) *buckets {
	c, err := lru.New[string, *rate.Limiter](maxLimited)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &buckets{every: every, burst: burst, byKey: c}
}

func (b *buckets) get(key string) *rate.Limiter {
	if lim, ok := b.byKey.Get(key); ok {
		return lim
	}
	lim := rate.NewLimiter(b.every, b.burst)
	if prev, ok, _ := b.byKey.PeekOrAdd(key, lim); ok {
		return prev
	}
	return lim
}

// take spends one of key's budget at now and returns the reservation,
// which the caller may cancel to give it back; or nil and how long to
// wait for the next. A refused request spends nothing.
func (b *buckets) take(key string, now time.Time) (*rate.Reservation, time.Duration) {
	r := b.get(key).ReserveN(now, 1)
	if !r.OK() {
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}

// RateLimiter holds each token holder to a rate of requests, in bursts,
// so that a script holding a token cannot hammer an API that a person on
// a phone calls every few seconds. Budgets are kept by officer (a rotated
// token keeps its officer's), in this process.
type RateLimiter struct {
	b       *buckets
	refused prometheus.Counter
	now     func() time.Time
}

// NewRateLimiter lets each token holder make perSecond requests a second
// in bursts of burst, and counts the refused ones in refused (nil: not
// counted).
func NewRateLimiter(perSecond float64, burst int, refused prometheus.Counter) *RateLimiter {
	return &RateLimiter{b: newBuckets(rate.Limit(perSecond), burst), refused: refused, now: time.Now}
}

// Allow takes one request of p's budget, or tells how long to wait for
// the next.
func (l *RateLimiter) Allow(p Principal) (bool, time.Duration) {
	r, wait := l.b.take(p.ID, l.now())
	return r != nil, wait
}

// Limit answers 429 problem+json with Retry-After when p is over its
// rate, counted, and reports whether it did.
func (l *RateLimiter) Limit(w http.ResponseWriter, p Principal) bool {
	ok, wait := l.Allow(p)
	if ok {
		return false
	}
	if l.refused != nil {
		l.refused.Inc()
	}
	secs := retryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeRateLimited(w, "too many requests with this token; retry after "+strconv.Itoa(secs)+" s")
	return true
}

// LimitToken is Limit for a service that knows only the role of a
// request's holder (the reporter): it holds the bearer token of r, which
// the caller authenticated, to the rate by the token itself (its hash: a
// rotated token starts a new budget), and answers 429 as Limit does.
func (l *RateLimiter) LimitToken(w http.ResponseWriter, r *http.Request) bool {
	sum := sha256.Sum256([]byte(bearer(r)))
	return l.Limit(w, Principal{ID: "token:" + hex.EncodeToString(sum[:16])})
}

// retryAfter is wait in whole seconds, at least one.
func retryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

func writeRateLimited(w http.ResponseWriter, detail string) {
	httpx.WriteProblem(w, httpx.Problem{
		Type:   "https://nuisance.xm.gov/problems/rate_limited",
		Status: http.StatusTooManyRequests,
		Detail: detail,
	})
}

// failureLimited is the error of a token refused unseen because its
// client address failed too often; Deny answers it 429 with Retry-After.
type failureLimited struct{ wait time.Duration }

func (e *failureLimited) Error() string {
	return "too many unknown or disabled bearer tokens from this address; retry after " + strconv.Itoa(retryAfter(e.wait)) + " s"
}

// denyLimited answers err 429 when it is a failureLimited, and reports
// whether it was.
func denyLimited(w http.ResponseWriter, err error) bool {
	var fl *failureLimited
	if !errors.As(err, &fl) {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(fl.wait)))
	writeRateLimited(w, fl.Error())
	return true
}

// clientOf is the client failed authentications are counted against
// (httpx.ClientKey: its address, an IPv6 one by its /64).
func clientOf(r *http.Request) string { return httpx.ClientKey(r) }
