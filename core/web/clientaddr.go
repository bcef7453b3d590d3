package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the address of the client that sent r. Behind a reverse
// proxy listed in Config.TrustedProxies, it is the right-most address of
// X-Forwarded-For that is not itself a trusted proxy (each proxy appends the
// address it saw, so entries left of the last trusted hop are whatever the
// client wrote and are never believed). Without trusted proxies, or when the
// peer is not one, it is the peer address and X-Forwarded-For is ignored.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !s.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a malformed hop: trust nothing left of it
			}
			a = a.Unmap()
			if !s.trusted(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteAddr is the peer's address, the zero Addr when it cannot be read.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// throttleKey is the key a client address is throttled under: the address
// itself for IPv4, its /64 for IPv6, where one subscriber usually holds a
// whole /64 and could otherwise rotate through it.
func throttleKey(a netip.Addr) string {
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
