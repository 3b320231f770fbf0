//go:build !linux

package httpx

import (
	"net"
	"time"
)

// setUserTimeout does nothing: TCP_USER_TIMEOUT is Linux's. Elsewhere a
// dead peer of a connection with data in flight is found when TCP gives
// up retransmitting, and of an idle one by keepalive.
func setUserTimeout(*net.TCPConn, time.Duration) error { return nil }
