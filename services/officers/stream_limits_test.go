package officers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// trackedServer serves svc's routes and counts the handlers running.
func trackedServer(t *testing.T, svc *Service) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	mux := httpx.NewRecordingMux()
	svc.Routes(mux)
	var running atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		defer running.Add(-1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		svc.CloseStreams()
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv, &running
}

// rawStream opens /api/v1/stream on a bare TCP connection with a tiny
// receive buffer, reads the response head and returns the connection
// without reading any further: a phone whose console froze.
func rawStream(t *testing.T, srv *httptest.Server, token string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", token)
	br := bufio.NewReaderSize(c, 16)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("stream: %q %v", line, err)
	}
	return c
}

// publishCaseEvents puts n assignments of team with a long note straight
// into the CASES stream.
func publishCaseEvents(t *testing.T, n *testenv.NATS, team string, count int) {
	t.Helper()
	ctx := context.Background()
	note := strings.Repeat("夜间施工噪声", 300)
	for i := range count {
		ev := event.CaseChanged{EventID: fmt.Sprintf("rev.%d", i), CaseID: fmt.Sprintf("case_rev%d", i), Kind: caseflow.KindAssigned,
			Status: "assigned", Team: team, District: district, Category: "noise", Note: note, Actor: "router", At: time.Now()}
		b, _ := json.Marshal(ev)
		if _, err := n.JS.PublishAsync(caseflow.Subject(caseflow.KindAssigned, team), b); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-n.JS.PublishAsyncComplete():
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("publish")
	}
}

// A console that stops reading (a frozen phone, a suspended tab with the
// TCP connection still up) blocks its stream's write forever: the stream
// never sees CloseStreams, and http.Server.Shutdown waits out its whole
// grace (30 s in internal/app) and then fails the process's exit.
func TestAStalledStreamDoesNotHoldShutdown(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	srv, running := trackedServer(t, e.svc)
	c := rawStream(t, srv, e.tokens[whoAdmin])
	_ = c
	publishCaseEvents(t, n, ownTeam, 2000) // ~11 MB: more than the socket buffers hold
	testenv.Eventually(t, 10*time.Second, "stream handler running", func() bool { return running.Load() == 1 })
	time.Sleep(2 * time.Second) // let the stream fill the buffers and block
	e.svc.CloseStreams()
	deadline := time.Now().Add(5 * time.Second)
	for running.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := running.Load(); got != 0 {
		t.Fatalf("5s after CloseStreams a stalled client's stream is still running (%d handlers): shutdown waits for it", got)
	}
}

// One officer's token opens as many streams as it likes, each a
// JetStream consumer with its goroutines and buffers: a console bug that
// reopens the stream without closing it, or a curious officer with curl,
// takes the process and the NATS server down (1,000 streams of one token:
// 1,000 consumers, ~93 MiB, 11,000 goroutines, every case event sent
// 2,000 times). Past the cap, the token's oldest stream ends.
func TestOneTokenHoldsAFewStreams(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	// Opens as fast as a loop makes them, past the rate of opens
	// (TestATokenOpensStreamsAtARate): what is tested is the cap.
	e := setup(t, n.JS, func(c *Config) { c.StreamOpenBurst, c.StreamOpenEvery = 1000, time.Millisecond })
	const tries, perToken = 40, 4
	var open atomic.Int64
	refused := 0
	for range tries {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens[whoOwn])
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			refused++
			continue
		}
		open.Add(1)
		go func() {
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			open.Add(-1)
		}()
	}
	time.Sleep(500 * time.Millisecond) // let ended streams end
	if got := open.Load(); got > perToken || got < 1 {
		t.Fatalf("one officer's token holds %d open streams after %d opens; want 1 to %d", got, tries, perToken)
	}
	// A new stream past the cap ends the oldest, never is refused: a
	// phone reconnecting from another network must not be locked out by
	// the stream it left behind.
	if refused > 0 {
		t.Errorf("%d of %d streams of one token refused, want the oldest ended instead", refused, tries)
	}
	// The newest still works.
	if code, _ := e.do(whoOwn, "GET", "/api/v1/me", nil); code != 200 {
		t.Fatalf("me: %d", code)
	}
}

// A stream that ends leaves its JetStream consumer on the server for the
// InactiveThreshold (1 min): a console that reconnects every 3 s (its
// retry) after a proxy cut, or a loop of opens, piles up consumers long
// after the streams are gone.
func TestAnEndedStreamLeavesNoConsumer(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	// 30 opens at once, past the rate of opens.
	e := setup(t, n.JS, func(c *Config) { c.StreamOpenBurst, c.StreamOpenEvery = 1000, time.Millisecond })
	for range 30 {
		s := e.openStream(whoOwn, "")
		s.close()
		<-s.ended
	}
	st, err := n.JS.Stream(context.Background(), "CASES")
	if err != nil {
		t.Fatal(err)
	}
	var left int
	deadline := time.Now().Add(3 * time.Second)
	for {
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		left = info.State.Consumers
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left != 0 {
		t.Fatalf("3s after 30 streams ended, %d of their JetStream consumers are still on the server", left)
	}
}

// untilEnd reads a stream's lines until the server ends it, or fails.
func untilEnd(t *testing.T, lines <-chan string, d time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return got
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("the stream still open %v after it was replaced, after %q", d, got)
		}
	}
}

// A stream ended for a newer one of the same token (five devices on one
// token, the cap four) used to end without a word: a browser reopened it
// after its 3 s retry, which ended another device's stream, which
// reopened in turn, and so on every few seconds. The replaced stream is
// now told so before it ends (an event named replaced for a client that
// takes events, a comment for one that does not) with a retry of a
// minute; the newest stream keeps streaming.
func TestReplacedStreamIsToldAndEnds(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS, func(c *Config) { c.MaxStreamsPerToken = 1 })

	plain := e.lines(whoOwn, "")
	firstLines(t, plain, 3) // retry, connected, blank
	events := e.lines(whoOwn, "?heartbeat=event")
	got := strings.Join(untilEnd(t, plain, 10*time.Second), "\n")
	if !strings.Contains(got, ": replaced") || !strings.Contains(got, "retry: 60000") {
		t.Errorf("a replaced stream without events ended with %q, want a comment saying replaced and retry: 60000", got)
	}
	if strings.Contains(got, "event: replaced") {
		t.Errorf("a client that asked for no events but case was handed %q", got)
	}

	firstLines(t, events, 6) // retry, connected, blank, heartbeat event, blank
	newest := e.openStream(whoOwn, "")
	got = strings.Join(untilEnd(t, events, 10*time.Second), "\n")
	if !strings.Contains(got, "event: replaced\ndata: {\"max_streams\":1}") || !strings.Contains(got, "retry: 60000") {
		t.Fatalf("a replaced stream that takes events ended with %q, want event: replaced with its data and retry: 60000", got)
	}

	publishCaseEvents(t, n, ownTeam, 1)
	if ev := newest.next(); ev.event != "case" || ev.data.CaseID != "case_rev0" {
		t.Fatalf("the newest stream got %+v, want the case event", ev)
	}
	select {
	case <-newest.ended:
		t.Fatal("the newest stream ended")
	default:
	}
}
