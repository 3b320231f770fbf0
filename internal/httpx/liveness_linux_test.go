package httpx_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// sockopts is what the kernel holds of an accepted connection's liveness.
type sockopts struct {
	keepAlive, idle, interval, count, userTimeoutMS int
}

func readSockopts(c net.Conn) (sockopts, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return sockopts{}, fmt.Errorf("accepted %T, want *net.TCPConn", c)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return sockopts{}, err
	}
	var o sockopts
	var gerr error
	get := func(fd, level, opt int, dst *int) {
		if gerr == nil {
			*dst, gerr = unix.GetsockoptInt(fd, level, opt)
		}
	}
	if err := rc.Control(func(fd uintptr) {
		get(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, &o.keepAlive)
		get(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, &o.idle)
		get(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, &o.interval)
		get(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT, &o.count)
		get(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, &o.userTimeoutMS)
	}); err != nil {
		return sockopts{}, err
	}
	return o, gerr
}

// serve serves h through httpx.Serve on a loopback listener that, of
// itself, turns no keepalive on, until the test ends; it returns the
// address and what the server side read of each accepted connection.
func serve(t *testing.T, h http.Handler, opts ...httpx.ServeOption) (string, <-chan sockopts) {
	t.Helper()
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan sockopts, 16)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			o, err := readSockopts(c)
			if err != nil {
				t.Errorf("getsockopt: %v", err)
			}
			accepted <- o
			return ctx
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, srv, ln, time.Second, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String(), accepted
}

func get(t *testing.T, addr string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
}

// Every connection Serve accepts has keepalive on and a user timeout,
// whatever its listener set: a peer gone without a word is noticed in
// about a minute rather than when TCP stops retransmitting.
func TestServeSetsLivenessOfAcceptedConnections(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	def := httpx.DefaultLiveness()
	custom := httpx.Liveness{
		KeepAlive:   net.KeepAliveConfig{Enable: true, Idle: 7 * time.Second, Interval: 2 * time.Second, Count: 5},
		UserTimeout: 1500 * time.Millisecond,
	}
	for _, tc := range []struct {
		name string
		opts []httpx.ServeOption
		want sockopts
	}{
		{"by default", nil, sockopts{1, int(def.KeepAlive.Idle.Seconds()), int(def.KeepAlive.Interval.Seconds()), def.KeepAlive.Count, int(def.UserTimeout.Milliseconds())}},
		{"as set", []httpx.ServeOption{httpx.WithLiveness(custom)}, sockopts{1, 7, 2, 5, 1500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, accepted := serve(t, ok, tc.opts...)
			get(t, addr)
			if got := <-accepted; got != tc.want {
				t.Errorf("accepted connection: %+v, want %+v", got, tc.want)
			}
		})
	}
	if def.UserTimeout <= 0 || !def.KeepAlive.Enable {
		t.Errorf("DefaultLiveness %+v: no user timeout or keepalive", def)
	}
}

// A connection whose peer stops taking what the server writes ends
// within the user timeout: the write blocked on it fails with
// ETIMEDOUT, where without one it would wait for as long as the peer
// keeps answering the kernel's window probes. (A peer that stops
// acknowledging altogether takes dropped packets to show, beyond a
// test's reach; the same timer ends it.)
func TestServeEndsAWriteToAStalledConnection(t *testing.T) {
	t.Parallel()
	wrote := make(chan error, 1)
	chunk := make([]byte, 64<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
			if err := rc.Flush(); err != nil {
				wrote <- err
				return
			}
		}
	})
	l := httpx.DefaultLiveness()
	l.UserTimeout = 500 * time.Millisecond
	addr, _ := serve(t, h, httpx.WithLiveness(l))

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The answer begins; then the client reads no more.
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	// A bound for a test that would otherwise hang, far above the
	// timeout set: not a measure of speed.
	select {
	case err := <-wrote:
		if !errors.Is(err, syscall.ETIMEDOUT) {
			t.Errorf("write ended with %v, want ETIMEDOUT", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("write still blocked on a stalled connection a minute on")
	}
}

// A listener of other than TCP connections (a Unix socket) is served
// as before.
func TestServeOnAUnixSocket(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/s"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, srv, ln, time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	res, err := c.Get("http://unix/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
}
