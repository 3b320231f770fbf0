package hotline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// Summary counts what a replay achieved.
type Summary struct {
	Accepted  int
	Duplicate int
	Rejected  int
	// Reasons counts rejections by status and problem detail.
	Reasons map[string]int
	// Failed counts lines never answered after every retry.
	Failed  int
	Elapsed time.Duration
}

// String is the summary a person reads at the end of a replay.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "accepted %d, duplicate %d, rejected %d, failed %d in %s",
		s.Accepted, s.Duplicate, s.Rejected, s.Failed, s.Elapsed.Round(time.Millisecond))
	keys := make([]string, 0, len(s.Reasons))
	for k := range s.Reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %6d × %s", s.Reasons[k], k)
	}
	return b.String()
}

// ReplayOptions tune Replay.
type ReplayOptions struct {
	Concurrency int
	// Progress is called after each line with the number done.
	Progress func(done int)
	// Retries bounds attempts per line on 429, 503 and network errors.
	Retries int
	// Rate, when positive, paces the posts at this many lines a second
	// (a steady feed, as the hotline sends it); zero posts as fast as the
	// intake answers.
	Rate float64
}

// Replay posts every NDJSON line of r through the signed intake. Each line
// keeps one webhook-id across its retries, so a retry after a lost answer
// gets the original answer; re-running a file after an interruption only
// produces duplicates.
func (c *Client) Replay(ctx context.Context, r io.Reader, opt ReplayOptions) (Summary, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 16
	}
	if opt.Retries <= 0 {
		opt.Retries = 20
	}
	start := time.Now()
	sum := Summary{Reasons: map[string]int{}}
	var mu sync.Mutex
	lines := make(chan []byte, opt.Concurrency*2)
	var wg sync.WaitGroup
	done := 0
	for range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for line := range lines {
				status, reason := c.postWithRetry(ctx, line, opt.Retries)
				mu.Lock()
				switch {
				case status == http.StatusAccepted:
					sum.Accepted++
				case status == http.StatusOK:
					sum.Duplicate++
				case status == 0:
					sum.Failed++
					sum.Reasons["failed: "+reason]++
				default:
					sum.Rejected++
					sum.Reasons[fmt.Sprintf("%d %s", status, reason)]++
				}
				done++
				if opt.Progress != nil {
					opt.Progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 128<<10), 1<<20)
	var scanErr error
	var pace *rate.Limiter
	if opt.Rate > 0 {
		pace = rate.NewLimiter(rate.Limit(opt.Rate), 1)
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				scanErr = ctx.Err()
				break
			}
		}
		select {
		case lines <- []byte(line):
		case <-ctx.Done():
			scanErr = ctx.Err()
		}
		if scanErr != nil {
			break
		}
	}
	if scanErr == nil {
		scanErr = sc.Err()
	}
	close(lines)
	wg.Wait()
	sum.Elapsed = time.Since(start)
	return sum, scanErr
}

func (c *Client) postWithRetry(ctx context.Context, line []byte, retries int) (int, string) {
	msgID := "msg_" + uuid.NewString()
	backoff := 100 * time.Millisecond
	last := ""
	for range retries {
		resp, err := c.Post(ctx, msgID, line)
		switch {
		case err != nil:
			last = "no answer"
		case resp.Status == http.StatusTooManyRequests || resp.Status >= 500:
			last = fmt.Sprintf("%d", resp.Status)
		default:
			if resp.Status >= 400 {
				return resp.Status, problemReason(resp.Body)
			}
			return resp.Status, ""
		}
		select {
		case <-ctx.Done():
			return 0, "interrupted"
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
	return 0, last
}

// problemReason extracts a short reason from a problem+json body.
func problemReason(body []byte) string {
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil {
		return "unreadable answer"
	}
	if len(p.Errors) > 0 {
		return p.Errors[0].Field + ": " + p.Errors[0].Detail
	}
	return p.Detail
}
