// Package connectproxy is the HTTPS proxy that the functions Switchboard
// starts are given (HTTPS_PROXY), so that code which builds AWS's own host
// name for the API — https://{apiId}.execute-api.{region}.amazonaws.com/{stage},
// as some AWS samples do — reaches the local gateway without a change.
//
// It answers CONNECT only, and only to loopback clients talking to it
// directly (package localonly): a tunnel to a host of Redirect goes to the
// local address given for it (the gateway's own port, which answers TLS;
// its certificate names the host, and the functions trust the local CA);
// a tunnel to any other host goes to that host, so that calls to real
// services keep working. Go's net/http, aws-sdk-go-v2, Python's requests
// and botocore honour HTTPS_PROXY; Node.js does not, and its runtime
// redirects the same connections itself (docs/nodejs.md).
package connectproxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-ws/switchboard/internal/localonly"
)

// dialTimeout bounds the connection to a tunnel's target.
const dialTimeout = 10 * time.Second

// Proxy is an http.Handler for CONNECT requests. Close ends its tunnels.
type Proxy struct {
	// Redirect maps "host:port" (lower case) to the address to dial instead.
	Redirect map[string]string
	Logger   *slog.Logger

	mu      sync.Mutex
	closed  bool
	tunnels map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// ServeHTTP opens a tunnel for a CONNECT request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "this endpoint answers CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if why, attrs := localonly.Check(r); why != "" {
		p.logger().Warn("proxy: CONNECT refused: "+why, attrs...)
		http.Error(w, "the proxy serves only the local functions", http.StatusForbidden)
		return
	}
	target := strings.ToLower(r.Host)
	if _, _, err := net.SplitHostPort(target); err != nil {
		http.Error(w, "CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	dial := target
	if to, ok := p.Redirect[target]; ok {
		dial = to
	}
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	defer cancel()
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", dial)
	if err != nil {
		p.logger().Warn("proxy: CONNECT failed", "target", target, "dial", dial, "err", err)
		http.Error(w, "cannot reach "+target, http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "cannot tunnel on this connection", http.StatusInternalServerError)
		return
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(down, up) {
		down.Close()
		up.Close()
		return
	}
	io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
	p.logger().Debug("proxy: tunnel", "target", target, "dial", dial)
	go func() { // client → target, starting with what the server had buffered
		defer p.wg.Done()
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			up.Write(b)
		}
		io.Copy(up, down)
		closeWrite(up)
	}()
	go func() {
		defer p.wg.Done()
		io.Copy(down, up)
		p.untrack(down, up)
		down.Close()
		up.Close()
	}()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// track records a tunnel's two connections and counts its two goroutines
// (under the lock that Close takes first, so that Close's Wait never races
// an Add), unless the proxy is closed.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(2)
	if p.tunnels == nil {
		p.tunnels = map[net.Conn]struct{}{}
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.tunnels, c)
	}
}

// Close closes every tunnel and waits for their goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}
