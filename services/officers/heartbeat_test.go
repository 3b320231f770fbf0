package officers

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// lines opens the event stream as who with query and hands over its lines
// until the test ends.
func (e *env) lines(who, query string) <-chan string {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/stream"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		e.t.Fatalf("stream%s: status %d", query, resp.StatusCode)
	}
	out := make(chan string, 256)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case out <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// firstLines reads n lines of a stream, or fails.
func firstLines(t *testing.T, lines <-chan string, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended after %q", got)
			}
			got = append(got, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("10 s without a line after %q", got)
		}
	}
	return got
}

// A browser's EventSource never hands SSE comments to the page, so a
// page cannot tell a stream the network swallows (silent, never closed)
// from an idle one by the comments. A client that asks for them
// (?heartbeat=event) gets each heartbeat as an event named heartbeat, the
// first as the stream opens, saying how often they come, and without an
// id (a reconnect resumes after the last case event). A client that does
// not ask gets comments, as before.
func TestStreamHeartbeatEvents(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS, func(c *Config) { c.Heartbeat = 50 * time.Millisecond })

	got := firstLines(t, e.lines(whoOwn, "?heartbeat=event"), 16)
	text := strings.Join(got, "\n")
	if !strings.HasPrefix(text, "retry: 3000\n: connected\n\nevent: heartbeat\ndata: {\"every_ms\":50}\n\n") {
		t.Errorf("a stream asked for heartbeat events does not start with one:\n%s", text)
	}
	if beats := strings.Count(text, "event: heartbeat\ndata: {\"every_ms\":50}\n\n"); beats < 4 {
		t.Errorf("%d heartbeat events in the first lines, want them every 50 ms:\n%s", beats, text)
	}
	if strings.Contains(text, "id:") || strings.Contains(text, "\n: heartbeat") {
		t.Errorf("a heartbeat event carries an id, or comes as a comment too:\n%s", text)
	}

	old := strings.Join(firstLines(t, e.lines(whoOwn, ""), 8), "\n")
	if strings.Contains(old, "event:") || strings.Count(old, "\n: heartbeat") < 2 {
		t.Errorf("a stream that did not ask for heartbeat events gets something else than comments:\n%s", old)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/stream?heartbeat=yes", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[whoOwn])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("?heartbeat=yes: status %d, want 400", res.StatusCode)
	}
}
