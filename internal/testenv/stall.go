package testenv

import (
	"net"
	"sync"
	"testing"
)

// Stall holds the connections of a proxy made by Stallable: while held,
// nothing passes either way and the connections stay open, as when the
// network between a client and its server stalls (packets dropped by a
// firewall, a partition) before TCP or the client's pings notice. What
// was sent meanwhile passes, in order, once released.
type Stall struct {
	mu     sync.Mutex
	held   bool
	closed bool   // the proxy is gone with its test
	sent   []byte // what the clients sent while held, since Hold
	conns  []*stalled
}

// stalled is one proxied connection and what it holds back each way.
type stalled struct {
	client, server net.Conn
	up, down       []byte
}

// Hold stops (true) or lets through again (false) every connection of
// the proxy, those to come included.
func (s *Stall) Hold(held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if held && !s.held {
		s.sent = nil
	}
	s.held = held
	if held {
		return
	}
	for _, c := range s.conns {
		if len(c.up) > 0 {
			_, _ = c.server.Write(c.up)
		}
		if len(c.down) > 0 {
			_, _ = c.client.Write(c.down)
		}
		c.up, c.down = nil, nil
	}
}

// Sent is what the clients sent while the proxy was held, since Hold: the
// requests its server has not seen yet.
func (s *Stall) Sent() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.sent...)
}

// Stallable is a TCP proxy to addr on a local port, returned as its
// address, whose connections the Stall holds; it closes with the test.
func Stallable(t testing.TB, addr string) (string, *Stall) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Stall{}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.conns {
			c.client.Close()
			c.server.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if err != nil {
				client.Close()
				continue
			}
			c := &stalled{client: client, server: server}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				client.Close()
				server.Close()
				return
			}
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			wg.Go(func() { s.pump(c, client, server, true) })
			wg.Go(func() { s.pump(c, server, client, false) })
		}
	})
	return ln.Addr().String(), s
}

// pump copies from src to dst, keeping what comes while held for Hold's
// release; up is the client's way to the server.
func (s *Stall) pump(c *stalled, src, dst net.Conn, up bool) {
	defer c.client.Close()
	defer c.server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			s.mu.Lock()
			switch {
			case s.held && up:
				c.up = append(c.up, buf[:n]...)
				s.sent = append(s.sent, buf[:n]...)
			case s.held:
				c.down = append(c.down, buf[:n]...)
			default:
				_, err = dst.Write(buf[:n])
			}
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}
