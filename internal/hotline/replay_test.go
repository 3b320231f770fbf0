package hotline_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
)

// TestReplayPacesAtRate checks that a paced replay spreads its posts: 20
// lines at 50 a second cannot all arrive within 300 ms, however fast the
// receiver answers.
func TestReplayPacesAtRate(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		n := len(arrivals)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"complaint_id":"c-%d","status":"received"}`, n)
	}))
	defer srv.Close()
	client, err := hotline.New(srv.URL, "whsec_cmVwbGF5LXBhY2luZy10ZXN0LXNlY3JldA==")
	if err != nil {
		t.Fatal(err)
	}
	var feed strings.Builder
	for i := range 20 {
		fmt.Fprintf(&feed, `{"ticket_id":"T-%d"}`+"\n", i)
	}
	sum, err := client.Replay(context.Background(), strings.NewReader(feed.String()), hotline.ReplayOptions{Concurrency: 8, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 20 {
		t.Fatalf("accepted %d of 20: %s", sum.Accepted, sum)
	}
	mu.Lock()
	defer mu.Unlock()
	// 19 gaps of 20 ms at 50 a second: 380 ms; 300 leaves room for timer slack.
	if spread := arrivals[len(arrivals)-1].Sub(arrivals[0]); spread < 300*time.Millisecond {
		t.Fatalf("20 posts at 50/s arrived within %s", spread)
	}
}
