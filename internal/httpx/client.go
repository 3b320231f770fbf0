package httpx

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type trustedKey struct{}

// TrustProxies lets ClientAddr read X-Forwarded-For on the requests to
// next that come from one of trusted: the reverse proxies and load
// balancers in front of the process. Empty, it returns next: every
// request's client is its TCP peer.
func TrustProxies(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	trusted = append([]netip.Prefix(nil), trusted...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), trustedKey{}, trusted)))
	})
}

// ClientAddr is the address of the client that sent r, which rate limits
// count against: its TCP peer, unless the peer is a proxy TrustProxies
// names. Then it is the rightmost address of X-Forwarded-For that is not
// a trusted proxy's (the leftmost, when every one is): each proxy appends
// the address it was sent from, so what stands left of the first
// untrusted one is the client's to write, and never read. A header
// absent, or unreadable there, leaves the peer. The address has no zone
// and an IPv4 one is not mapped to IPv6; it is not valid when the peer
// is not an IP address.
func ClientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	trusted, _ := r.Context().Value(trustedKey{}).([]netip.Prefix)
	if !trusts(trusted, peer) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	var leftmost netip.Addr
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for {
			entry := rest
			c := strings.LastIndexByte(rest, ',')
			if c >= 0 {
				entry, rest = rest[c+1:], rest[:c]
			}
			a, ok := forwarded(entry)
			if !ok {
				return peer
			}
			if !trusts(trusted, a) {
				return a
			}
			leftmost = a
			if c < 0 {
				break
			}
		}
	}
	if leftmost.IsValid() {
		return leftmost
	}
	return peer
}

// ClientKey is what a per-client limit counts a request against: the
// client's address (ClientAddr), an IPv6 one by its /64, the least a
// host is given, so that a single machine cannot draw a new budget per
// address.
func ClientKey(r *http.Request) string {
	ip := ClientAddr(r)
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// peerAddr is the IP address of a RemoteAddr, or the zero Addr.
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwarded reads one entry of X-Forwarded-For: an address, with a port
// as some proxies write it or not.
func forwarded(entry string) (netip.Addr, bool) {
	entry = strings.Trim(entry, " \t")
	a, err := netip.ParseAddr(entry)
	if err != nil {
		ap, err := netip.ParseAddrPort(entry)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func trusts(trusted []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
