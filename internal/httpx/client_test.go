package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

// clientThrough is the client address a handler behind TrustProxies
// sees for a request from remote carrying the X-Forwarded-For lines xff.
func clientThrough(t *testing.T, trusted []netip.Prefix, remote string, xff ...string) netip.Addr {
	t.Helper()
	var got netip.Addr
	h := httpx.TrustProxies(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = httpx.ClientAddr(r)
	}))
	r := httptest.NewRequest("GET", "/api/v1/me", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

func prefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// The client is the peer, unless the peer is a trusted proxy: then it is
// the rightmost address of X-Forwarded-For that is not a trusted proxy's,
// what the client wrote left of it never read; a header that cannot be
// read there leaves the peer.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	lb := []string{"10.0.0.0/8"}
	for _, tc := range []struct {
		name    string
		trusted []string
		remote  string
		xff     []string
		want    string // "" for no valid address
	}{
		{"no setting: the peer", nil, "192.0.2.10:40000", nil, "192.0.2.10"},
		{"no setting: a proxy's header ignored", nil, "10.0.0.2:40000", []string{"198.51.100.7"}, "10.0.0.2"},
		{"an untrusted peer's header ignored", lb, "192.0.2.10:40000", []string{"198.51.100.7"}, "192.0.2.10"},
		{"an untrusted peer claiming a proxy's address", lb, "192.0.2.10:40000", []string{"198.51.100.7, 10.0.0.1"}, "192.0.2.10"},
		{"a trusted proxy without the header", lb, "10.0.0.2:40000", nil, "10.0.0.2"},
		{"a trusted proxy", lb, "10.0.0.2:40000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"what the client wrote is never read", lb, "10.0.0.2:40000", []string{"203.0.113.99, 198.51.100.7"}, "198.51.100.7"},
		{"the client writing a proxy's address", lb, "10.0.0.2:40000", []string{"10.0.0.3, 198.51.100.7"}, "198.51.100.7"},
		{"the client's own header line", lb, "10.0.0.2:40000", []string{"203.0.113.99", "198.51.100.7"}, "198.51.100.7"},
		{"a chain of proxies", lb, "10.0.0.2:40000", []string{"203.0.113.99, 198.51.100.7, 10.0.0.5, 10.0.0.1"}, "198.51.100.7"},
		{"a chain over header lines", lb, "10.0.0.2:40000", []string{"203.0.113.99, 198.51.100.7", "10.0.0.5", "10.0.0.1"}, "198.51.100.7"},
		{"a proxy trusted by its address", []string{"10.0.0.2/32"}, "10.0.0.2:40000", []string{"198.51.100.7, 10.0.0.3"}, "10.0.0.3"},
		{"every hop a proxy: the first", lb, "10.0.0.2:40000", []string{"10.0.0.9, 10.0.0.1"}, "10.0.0.9"},
		{"spaces and tabs", lb, "10.0.0.2:40000", []string{" 198.51.100.7 ,\t10.0.0.1\t"}, "198.51.100.7"},
		{"an address with its port", lb, "10.0.0.2:40000", []string{"198.51.100.7:51234"}, "198.51.100.7"},

		{"IPv6 behind an IPv6 proxy", []string{"fd00::/8"}, "[fd00::2]:443", []string{"2001:db8:1:2::7"}, "2001:db8:1:2::7"},
		{"IPv6 with its port", []string{"fd00::/8"}, "[fd00::2]:443", []string{"[2001:db8::7]:51234, fd00::1"}, "2001:db8::7"},
		{"IPv6 with a zone", []string{"fd00::/8"}, "[fd00::2%eth0]:443", []string{"fe80::7%eth1"}, "fe80::7"},
		{"IPv4 behind an IPv6 proxy", []string{"fd00::/8"}, "[fd00::2]:443", []string{"198.51.100.7"}, "198.51.100.7"},
		{"an IPv4 proxy seen mapped to IPv6", lb, "[::ffff:10.0.0.2]:443", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"an IPv6 client of an IPv4 setting", lb, "[2001:db8::2]:443", []string{"198.51.100.7"}, "2001:db8::2"},

		{"malformed: a name", lb, "10.0.0.2:40000", []string{"unknown"}, "10.0.0.2"},
		{"malformed: an obfuscated node", lb, "10.0.0.2:40000", []string{"_hidden"}, "10.0.0.2"},
		{"malformed: empty", lb, "10.0.0.2:40000", []string{""}, "10.0.0.2"},
		{"malformed: a trailing comma", lb, "10.0.0.2:40000", []string{"198.51.100.7,"}, "10.0.0.2"},
		{"malformed: out of range", lb, "10.0.0.2:40000", []string{"198.51.100.300"}, "10.0.0.2"},
		{"malformed: a CIDR", lb, "10.0.0.2:40000", []string{"198.51.100.0/24"}, "10.0.0.2"},
		{"malformed where a proxy of the chain writes", lb, "10.0.0.2:40000", []string{"198.51.100.7, garbage, 10.0.0.1"}, "10.0.0.2"},
		{"malformed where a proxy writes", lb, "10.0.0.2:40000", []string{"198.51.100.7, 10.0.0.1, garbage"}, "10.0.0.2"},
		{"malformed left of the client: never read", lb, "10.0.0.2:40000", []string{"<script>, , 198.51.100.7"}, "198.51.100.7"},
		{"a peer that is no IP address", lb, "@", []string{"198.51.100.7"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := clientThrough(t, prefixes(t, tc.trusted...), tc.remote, tc.xff...)
			want := netip.Addr{}
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want {
				t.Errorf("peer %s, X-Forwarded-For %q, trusting %v: client %v, want %v", tc.remote, tc.xff, tc.trusted, got, want)
			}
		})
	}
}

// A handler outside TrustProxies believes no header.
func TestClientAddrWithoutTrustProxies(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:40000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := httpx.ClientAddr(r); got != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("client %v, want the peer", got)
	}
}
