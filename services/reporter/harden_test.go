package reporter

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// serve serves s's routes over real HTTP until the test ends.
func serve(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get GETs path with token and returns the response and its body.
func get(t *testing.T, srv *httptest.Server, token, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// A token is held to its rate, as on the officers' and hotspots' APIs: a
// script reading week after week (each not stored generated on the fly)
// is told to wait; another token is not.
func TestReportsHoldATokenToItsRate(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	cfg := DefaultConfig(fakeAuth)
	cfg.RatePerToken, cfg.RateBurst = 0.001, 3
	s, err := New(cfg, pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)
	for i := range 3 {
		if resp, body := get(t, srv, "sup", "/reports/weekly/"); resp.StatusCode != 200 {
			t.Fatalf("request %d of a burst of 3: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := get(t, srv, "sup", "/reports/weekly/2024-W10.html")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("past the burst: %d %s %s, want 429 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if resp, body := get(t, srv, "adm", "/reports/weekly/"); resp.StatusCode != 200 {
		t.Errorf("another token: %d %s", resp.StatusCode, body)
	}
}

// A week that cannot hold a complaint is not generated for whoever asks
// (0001-W01 was, each time asked): one that ended before any the intake
// takes (2000-01-01), or before the week of the earliest complaint
// stored, is not found. The week of that complaint is generated.
func TestAWeekThatCannotHoldAComplaintIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	empty := serve(t, newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst)))
	if resp, body := get(t, empty, "sup", "/reports/weekly/2024-W10.html"); resp.StatusCode != 404 || !strings.Contains(body, "no complaint is stored") {
		t.Errorf("a past week without any complaint stored: %d %s, want 404", resp.StatusCode, body)
	}
	seed(t, pool)
	srv := serve(t, newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst)))
	var first time.Time
	if err := pool.QueryRow(ctx, `SELECT min(received_at) FROM complaints`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	firstWeek := gistar.WeekOf(first)
	before := gistar.WeekOf(weekStart(firstWeek).AddDate(0, 0, -1))
	for _, tc := range []struct{ week, says string }{
		{"0001-W01", "2000-01-01"},
		{"1999-W51", "2000-01-01"},
		{"1999-W52", firstWeek}, // holds 2000-01-01, before the earliest stored
		{before, firstWeek},
	} {
		for _, format := range report.Formats {
			resp, body := get(t, srv, "adm", "/reports/weekly/"+tc.week+"."+format)
			if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, tc.says) {
				t.Errorf("%s.%s: %d %s %s, want 404 problem+json naming %s", tc.week, format, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.says)
			}
		}
	}
	if resp, body := get(t, srv, "adm", "/reports/weekly/"+firstWeek+".json"); resp.StatusCode != 200 || !strings.Contains(body, `"week": "`+firstWeek+`"`) {
		t.Errorf("the week of the earliest complaint: %d %.200s, want its report", resp.StatusCode, body)
	}
}

// waitingIn counts the goroutines whose stack holds a call of fn.
func waitingIn(fn string) int {
	buf := make([]byte, 1<<22)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fn+"(")
}

// Requests for the same week not stored share one generation: a crowd
// of them (a leader's link passed round, a script) does not generate the
// week once each at the same time.
func TestAWeekNotStoredIsGeneratedOnceAtATime(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	var calls atomic.Int64
	release := make(chan struct{})
	build := s.build
	s.build = func(ctx context.Context, week string, now time.Time) (*report.Report, error) {
		calls.Add(1)
		<-release
		return build(ctx, week, now)
	}
	srv := serve(t, s)
	const crowd = 8
	formats := []string{"html", "csv", "json", "geojson"}
	var wg sync.WaitGroup
	codes := make([]int, crowd)
	for i := range crowd {
		wg.Go(func() {
			resp, _ := get(t, srv, "adm", "/reports/weekly/2024-W10."+formats[i%len(formats)])
			codes[i] = resp.StatusCode
		})
	}
	// Every request is waiting for the week's report (the first one
	// generating it) before any generation may end.
	testenv.Eventually(t, 30*time.Second, "all requests waiting for the report", func() bool {
		return waitingIn("reporter.(*Service).buildOnce") == crowd
	})
	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i+1, c)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests at once for a week not stored generated it %d times, want once", crowd, n)
	}
}

// The reports are served on the console's origin, which keeps its token
// in localStorage: an HTML report runs no script, loads nothing, is framed
// by no page and sends no Referer; only its own style sheet applies.
func TestReportsAreServedWithAPolicy(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	seed(t, pool)
	s := newService(t, pool, time.Date(2024, 3, 20, 10, 0, 0, 0, cst))
	if _, err := s.Store(context.Background(), "2024-W11"); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)
	for _, path := range []string{"/reports/weekly/2024-W11.html", "/reports/weekly/2024-W10.html", "/reports/weekly/2024-W11.json", "/reports/weekly/2024-W11.csv", "/reports/weekly/"} {
		resp, body := get(t, srv, "sup", path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q without %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q allows scripts or inline code", path, csp)
		}
		if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Referrer-Policy %q, X-Content-Type-Options %q", path, h.Get("Referrer-Policy"), h.Get("X-Content-Type-Options"))
		}
		if !strings.HasSuffix(path, ".html") {
			continue
		}
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no style sheet", path)
		}
		sum := sha256.Sum256([]byte(m[1]))
		if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q does not allow its style sheet (%s)", path, csp, want)
		}
	}
}
