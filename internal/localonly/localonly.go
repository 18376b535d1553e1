// Package localonly decides whether an HTTP request comes straight from a
// loopback client: the rule for Switchboard's unauthenticated control
// endpoints (the @connections API, the SQS API and /metrics without
// credentials).
package localonly

import (
	"net"
	"net/http"
)

// Why a request is not local, as Check says.
const (
	NotLoopback  = "from a non-loopback address"
	ThroughProxy = "through a proxy"
)

// ForwardingHeaders are the headers reverse proxies, load balancers and
// CDNs add. Behind a proxy on the same host every client is loopback: a
// request that carries one of them came through a proxy, and is not local.
// The list: RFC 7239 and RFC 9110 (Forwarded, Via), the X-Forwarded-*
// family (nginx, HAProxy, Traefik, Envoy, AWS and Google load balancers),
// ingress-nginx's X-Original-Forwarded-For, and the client-address headers
// of nginx (X-Real-IP), Apache and others (X-Client-IP, Client-IP),
// Akamai and Cloudflare (True-Client-IP, CF-Connecting-IP, CDN-Loop),
// Fastly (Fastly-Client-IP), Rackspace and Riverbed (X-Cluster-Client-IP),
// Google (X-ProxyUser-Ip), Envoy (X-Envoy-External-Address), Azure Front
// Door (X-Azure-ClientIP, X-Azure-SocketIP) and Vercel.
var ForwardingHeaders = canonical(
	"Forwarded", "Via", "CDN-Loop",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Server", "X-Forwarded-Prefix", "X-Forwarded-Scheme", "X-Forwarded-Ssl",
	"X-Forwarded-Uri", "X-Forwarded", "Forwarded-For", "X-Original-Forwarded-For",
	"X-Original-Host", "X-Real-IP", "X-Client-IP", "Client-IP", "X-Originating-IP",
	"True-Client-IP", "CF-Connecting-IP", "CF-Connecting-IPv6", "Fastly-Client-IP",
	"X-Cluster-Client-IP", "X-ProxyUser-Ip", "X-Envoy-External-Address",
	"X-Azure-ClientIP", "X-Azure-SocketIP", "X-Vercel-Forwarded-For", "X-Appengine-User-Ip",
)

func canonical(names ...string) []string {
	for i, n := range names {
		names[i] = http.CanonicalHeaderKey(n)
	}
	return names
}

// Check says why r is not from a loopback client talking to us directly
// ("" if it is: otherwise NotLoopback or ThroughProxy), with log
// attributes.
func Check(r *http.Request) (why string, attrs []any) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return NotLoopback, []any{"remote", r.RemoteAddr}
	}
	for _, h := range ForwardingHeaders {
		if _, ok := r.Header[h]; ok {
			return ThroughProxy, []any{"remote", r.RemoteAddr, "header", h}
		}
	}
	return "", nil
}
