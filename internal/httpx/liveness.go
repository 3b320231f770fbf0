package httpx

import (
	"net"
	"time"
)

// Liveness is how a connection Serve accepts finds out that its peer is
// gone without a word: a phone that switched networks or lost coverage,
// any client that vanished. Without it the kernel keeps such a
// connection for as long as TCP retransmits (some 15 minutes on Linux):
// the writes of an event stream's heartbeats land in the send buffer and
// succeed, and the stream holds its token's slot all the while.
type Liveness struct {
	// KeepAlive probes a connection on which nothing arrived for
	// KeepAlive.Idle (a request waiting on its answer, a connection
	// idle between requests) and gives it up when the probes go
	// unanswered. Probes are never sent while data is unacknowledged.
	KeepAlive net.KeepAliveConfig
	// UserTimeout (TCP_USER_TIMEOUT, Linux only) closes a connection
	// whose written data has gone unacknowledged for that long; the
	// write blocked on it, or the next one, fails. On Linux it also
	// ends the keepalive probing once that long has passed since the
	// peer last answered. Zero or less leaves the kernel's default.
	UserTimeout time.Duration
}

// DefaultLiveness notices a dead peer within about a minute.
//
// An event stream writes at least every Heartbeat (15 s by default in
// services/officers): once its peer is dead the next heartbeat goes
// unacknowledged and UserTimeout later the connection closes, at most
// Heartbeat + UserTimeout = 60 s after the peer went. 45 s, three
// heartbeats, lets a phone through a tunnel or a lift keep its stream;
// one away for longer reconnects with Last-Event-ID and loses nothing.
//
// An idle connection is probed after 30 s of silence, then every 10 s:
// on Linux the user timeout gives it up at the probe after 45 s of
// silence (about 50 s), elsewhere after the third unanswered probe (60
// s). The idle time is twice the heartbeat, so a healthy stream, whose
// peer acknowledges each heartbeat, draws no probe, and short enough to
// keep the mappings of NATs and load balancers that forget an idle
// connection after a minute or more.
//
// The user timeout also ends a connection whose peer keeps its receive
// window shut (stops reading) for that long; the event stream already
// gives such a client less (its own write timeout), and no answer of the
// system takes a reader 45 s to make room for.
func DefaultLiveness() Liveness {
	return Liveness{
		KeepAlive:   net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3},
		UserTimeout: 45 * time.Second,
	}
}

// ServeOption changes how Serve serves.
type ServeOption func(*serveOptions)

type serveOptions struct {
	liveness Liveness
}

// WithLiveness sets the keepalive and user timeout of the connections
// Serve accepts, in place of DefaultLiveness. A KeepAlive that is not
// Enabled turns keepalive off.
func WithLiveness(l Liveness) ServeOption {
	return func(o *serveOptions) { o.liveness = l }
}

// liveListener sets the Liveness of each TCP connection it accepts.
// Other connections (a Unix socket's) pass through as they are, and so
// does the connection itself, unwrapped, so that the server still sees
// a *net.TCPConn.
type liveListener struct {
	net.Listener
	l Liveness
}

func (ln liveListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// A setting refused (the peer reset the connection already)
		// leaves the connection as it was; its reads and writes will
		// tell the server.
		_ = tc.SetKeepAliveConfig(ln.l.KeepAlive)
		if ln.l.UserTimeout > 0 {
			_ = setUserTimeout(tc, ln.l.UserTimeout)
		}
	}
	return c, nil
}
