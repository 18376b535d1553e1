// Package localonly decides whether an HTTP request comes straight from a
// loopback client: the rule for Switchboard's unauthenticated control
// endpoints (the @connections API, the SQS API and /metrics without
// credentials).
package localonly

import (
	"net"
	"net/http"
)

// ForwardingHeaders are the headers a reverse proxy adds. Behind a proxy
// on the same host every client is loopback: a request that carries one of
// them came through a proxy, and is not local.
var ForwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"}

// Check says why r is not from a loopback client talking to us directly
// ("" if it is), with log attributes.
func Check(r *http.Request) (why string, attrs []any) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return "from a non-loopback address", []any{"remote", r.RemoteAddr}
	}
	for _, h := range ForwardingHeaders {
		if _, ok := r.Header[h]; ok {
			return "through a proxy", []any{"remote", r.RemoteAddr, "header", h}
		}
	}
	return "", nil
}
