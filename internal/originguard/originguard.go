// Package originguard keeps web pages away from a server's control
// endpoints (the management API, /metrics, the dev UI's token endpoint, an
// inspector). A page in a browser can send requests to any address,
// loopback included, and can make its own host name resolve to 127.0.0.1
// (DNS rebinding); what gives it away is the Host it asks for and the
// Origin and Sec-Fetch-Site headers the browser adds. A Guard refuses
//
//   - requests whose Host does not name this server: the loopback names
//     and addresses, the address the connection reached, and the names it
//     is configured with;
//   - cross-origin requests: an Origin other than the server's own
//     (scheme://Host), "null" included, unless configured; and, without an
//     Origin, a Sec-Fetch-Site other than same-origin or none.
//
// Clients that are not browsers (the AWS SDKs, curl) send no Origin and no
// Sec-Fetch-Site: the origin rule never refuses them.
package originguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Config lists what a Guard allows besides the server's own names and
// origin.
type Config struct {
	// Hosts are more host names (or IP addresses) the server answers to,
	// compared without the port and case-insensitively. "*.example.com"
	// allows every name under example.com; "*" allows any Host.
	Hosts []string
	// Origins are more origins allowed to send requests
	// ("https://admin.example.com", scheme://host[:port]); "*" allows any.
	Origins []string
}

// Guard decides whether a request names this server and comes from its own
// origin. The zero value is not usable: use New. A Guard is safe for
// concurrent use.
type Guard struct {
	hosts     map[string]bool
	ips       map[netip.Addr]bool
	suffixes  []string // ".example.com" for "*.example.com"
	anyHost   bool
	origins   map[string]bool
	anyOrigin bool
}

// New checks c and returns its Guard; errors name the entry at fault.
func New(c Config) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, ips: map[netip.Addr]bool{}, origins: map[string]bool{}}
	for _, h := range c.Hosts {
		switch n := HostName(h); {
		case strings.ContainsAny(h, "/ @?#"):
			return nil, fmt.Errorf("originguard: host %q: want a host name or address, \"*.domain\" or \"*\"", h)
		case n == "*":
			g.anyHost = true
		case strings.HasPrefix(n, "*.") && len(n) > 2 && !strings.Contains(n[2:], "*"):
			g.suffixes = append(g.suffixes, n[1:])
		case n == "" || strings.Contains(n, "*"):
			return nil, fmt.Errorf("originguard: host %q: want a host name or address, \"*.domain\" or \"*\"", h)
		default:
			if ip, err := netip.ParseAddr(n); err == nil {
				g.ips[ip.Unmap()] = true
			} else {
				g.hosts[n] = true
			}
		}
	}
	for _, o := range c.Origins {
		if o == "*" {
			g.anyOrigin = true
			continue
		}
		n, ok := normalizeOrigin(o)
		if !ok {
			return nil, fmt.Errorf("originguard: origin %q: want scheme://host[:port] (such as https://admin.example.com) or \"*\"", o)
		}
		g.origins[n] = true
	}
	return g, nil
}

// MustNew is New for a configuration known to be valid; it panics on an
// error.
func MustNew(c Config) *Guard {
	g, err := New(c)
	if err != nil {
		panic(err)
	}
	return g
}

// Check applies both rules: it returns why r is refused, or "".
func (g *Guard) Check(r *http.Request) string {
	if why := g.CheckHost(r); why != "" {
		return why
	}
	return g.CheckOrigin(r)
}

// CheckHost returns why r's Host does not name this server, or "". Served:
// localhost and names under .localhost, loopback addresses, the address
// the connection reached (http.LocalAddrContextKey), and Config.Hosts.
func (g *Guard) CheckHost(r *http.Request) string {
	if g.anyHost {
		return ""
	}
	h := HostName(r.Host)
	switch {
	case h == "":
		return "the request names no host (Host header)"
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		return ""
	case g.hosts[h]:
		return ""
	}
	for _, s := range g.suffixes {
		if strings.HasSuffix(h, s) {
			return ""
		}
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() || g.ips[ip] || isLocalAddr(r, ip) {
			return ""
		}
	}
	return fmt.Sprintf("the host name %q does not name this server (DNS rebinding?)", r.Host)
}

// CheckOrigin returns why r is a cross-origin request, or "": an Origin
// that is neither scheme://Host nor configured, or without an Origin a
// Sec-Fetch-Site other than same-origin or none.
func (g *Guard) CheckOrigin(r *http.Request) string {
	if g.anyOrigin {
		return ""
	}
	if o := r.Header.Get("Origin"); o != "" {
		n, ok := normalizeOrigin(o)
		if ok && g.origins[n] {
			return ""
		}
		if !ok || n != ownOrigin(n, r.Host) {
			return fmt.Sprintf("cross-origin requests are refused (Origin %q)", o)
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return ""
	}
	return "cross-site requests are refused (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
}

// isLocalAddr reports whether ip is the address r's connection reached.
func isLocalAddr(r *http.Request, ip netip.Addr) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	ap, err := netip.ParseAddrPort(la.String())
	return err == nil && ap.Addr().Unmap() == ip
}

// HostName lowercases a host, drops its port, the brackets of an IPv6
// address and a final dot.
func HostName(h string) string {
	h = strings.TrimSpace(h)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// normalizeOrigin writes an origin as scheme://host[:port], lowercased,
// without a default port; ok is false for what is not a web origin ("null"
// included).
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	return scheme + "://" + withoutDefaultPort(scheme, strings.ToLower(u.Host)), true
}

// ownOrigin is the origin of a page served at host with the scheme of
// origin: what a same-origin request's Origin is.
func ownOrigin(origin, host string) string {
	scheme, _, _ := strings.Cut(origin, "://")
	return scheme + "://" + withoutDefaultPort(scheme, strings.ToLower(strings.TrimSuffix(host, ".")))
}

func withoutDefaultPort(scheme, host string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}
