package console

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/officers"
)

// deviceStream is a stream of the token opened from another device: its
// lines, and whether the server ended it.
type deviceStream struct {
	mu    sync.Mutex
	lines []string
	ended chan struct{}
}

func (d *deviceStream) text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

func (d *deviceStream) over() bool {
	select {
	case <-d.ended:
		return true
	default:
		return false
	}
}

// openDevice opens /api/v1/stream with tok, as a wall display would.
func (s *system) openDevice(t *testing.T, tok string) *deviceStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/v1/stream?heartbeat=event", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("the other device's stream: status %d", resp.StatusCode)
	}
	d := &deviceStream{ended: make(chan struct{})}
	go func() {
		defer close(d.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
		}
	}()
	return d
}

// Five devices on one token (the cap four; one here) used to take the
// live stream from each other in a loop: the stream a newer device ended
// was reopened by the browser after its retry, which ended another
// device's, which reopened in turn, every few seconds, each reading its
// screen again and 实时 flickering on all of them. The console whose
// stream another device took now says so, stays off the stream (its
// watchdog, given 1 s heartbeats, would reopen a silent one after 3 s;
// going to another page opens the stream too) and takes it back only
// when the officer taps the badge.
func TestReplacedStreamStaysClosedUntilTakenBack(t *testing.T) {
	s := setup(t, func(c *officers.Config) {
		c.MaxStreamsPerToken = 1
		c.Heartbeat = time.Second
	})
	var opened atomic.Int64 // the console's streams: it sends its token in the query
	s.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/stream" && r.URL.Query().Get("access_token") != "" {
			opened.Add(1)
		}
		return false
	})
	p := openPhone(t, s, 375, s.token)
	before := opened.Load()

	other := s.openDevice(t, s.token)
	notice := `document.querySelector("#stream-replaced")`
	if err := p.waitFor(notice+` !== null && !`+notice+`.hidden && `+notice+`.textContent.includes("实时推送已在其他设备打开")`, 10*time.Second); err != nil {
		t.Errorf("10 s after another device took the stream the console shows %q (badge %q), not that it was taken",
			p.str(notice+` === null || `+notice+`.hidden ? "" : `+notice+`.textContent`), p.str(`document.querySelector("#live").textContent`))
	}
	if got := p.str(`document.querySelector("#live").textContent`); got == "实时" {
		t.Errorf("a console whose stream another device took shows %q", got)
	}
	shot(t, p.ctx, p.dir, "console-stream-replaced-375x667.png")
	p.step("go to another page", chromedp.Evaluate[chromedp.Void](`location.hash = "#/list"`),
		chromedp.WaitVisible(chromedp.CSS("#view-list")))

	// Past the watchdog (3 s) and the browser's retry (3 s) twice over.
	watch := time.Now().Add(10 * time.Second)
	for time.Now().Before(watch) {
		if n := opened.Load() - before; n > 0 {
			t.Fatalf("the console whose stream another device took reopened it %d times by itself (the other device's stream ended: %v)",
				n, other.over())
		}
		if other.over() {
			t.Fatalf("the other device's stream ended: %q", other.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := p.str(`document.querySelector("#live").textContent`); got == "实时" {
		t.Errorf("10 s on, the console whose stream another device took shows %q", got)
	}

	p.step("take the stream back", chromedp.Click(chromedp.CSS("#live")),
		p.wait(`document.querySelector("#live").textContent === "实时"`))
	if !p.eval(notice + `.hidden`) {
		t.Error("the stream taken back, the console still says another device has it")
	}
	testenv.Eventually(t, 10*time.Second, "the other device's stream ended", other.over)
	if !strings.Contains(other.text(), "event: replaced") {
		t.Errorf("the other device's stream ended without being told it was replaced: %q", other.text())
	}
	newID, _ := s.feed(t, 1, "urgent", time.Now().Add(2*time.Hour))
	if err := p.waitFor(`document.querySelector('#list a.card[data-case="`+newID+`"]') !== null`, 20*time.Second); err != nil {
		t.Errorf("20 s after the stream was taken back the list (%s cards) lacks a case assigned since", p.str(cardCount))
	}
	if n := opened.Load() - before; n != 1 {
		t.Errorf("the console opened the stream %d times from the tap on, want 1", n)
	}
}
