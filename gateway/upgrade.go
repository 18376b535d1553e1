package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// serveWebSocket runs the opening handshake: the authorizer and the $connect
// route run while the upgrade waits, and decide whether it completes.
//
// The limits, in order (docs/limits.md): the source address's own budget
// (SourceConnectRate, MaxSourceConnections), then the presence of the
// authorizer's identity sources (401 without spending anything else), then
// the global ConnectRate, spent only by handshakes that reach the
// authorizer or $connect. A source hammering the endpoint therefore
// exhausts its own budget, not everyone's.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !checkUpgradeRequest(w, r) {
		return
	}
	// Without a hijackable connection (HTTP/2, a wrapping ResponseWriter)
	// the upgrade cannot complete: find out before the authorizer and
	// $connect run, so that $connect never accepts a connection that cannot
	// exist.
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.log.Error("cannot upgrade: the http.ResponseWriter does not implement http.Hijacker", "proto", r.Proto)
		writeJSONMessage(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	now := time.Now()
	hw, rec := s.beginHandshake(w, r, now)
	w = hw
	upgraded := false
	defer func() { s.endHandshake(hw, rec, upgraded) }()
	release := func() {}
	if s.sources != nil {
		ip := remoteIP(r)
		key := sourceKey(ip)
		if no := s.sources.admit(key, now); no != nil {
			rec.reason = no.message
			w.Header().Set("Retry-After", retryAfter(no.retryAfter))
			writeJSONMessage(w, http.StatusTooManyRequests, no.message)
			return
		}
		release = func() { s.sources.release(key, time.Now()) }
	}
	defer func() {
		if !upgraded {
			release()
		}
	}()
	// The handshake waits for the authorizer and $connect, which may take
	// longer than the HTTP server's timeouts: those apply to the answer
	// only (a refusal is written when this returns; a 101 after the
	// hijack, under the gateway's own write deadline). The request has no
	// body to read.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	defer func() {
		if !upgraded {
			rc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout))
		}
	}()
	// The query string, parsed once: for the identity sources and the
	// events.
	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	if a := s.opts.Authorizer; a != nil && !identityPresent(a.IdentitySources, q, r.Header, s.opts.StageVariables) {
		rec.reason = "identity source missing or empty"
		writeJSONMessage(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if s.limiter != nil {
		res := s.limiter.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			rec.reason = "connect rate"
			w.Header().Set("Retry-After", retryAfter(d))
			writeJSONMessage(w, http.StatusTooManyRequests, "Too Many Requests")
			return
		}
	}
	if !s.track() {
		writeJSONMessage(w, http.StatusServiceUnavailable, "Server is shutting down")
		return
	}
	defer s.wg.Done()

	hs := handshake{now: now, meta: s.newConnMeta(r, now), rec: rec}
	rec.connID = hs.meta.id
	hs.headers, hs.multiHeaders = connectHeaders(r)
	hs.qs, hs.multiQS = query(q)

	if !s.runAuthorizer(w, r, &hs) {
		return
	}
	subprotocol, ok := s.runConnectRoute(w, r, &hs)
	if !ok {
		return
	}
	upgraded = s.completeUpgrade(hj, r, hs.meta, subprotocol, hs.now, release, rec)
}

// handshake is what the authorizer and $connect hear about a connection
// being opened.
type handshake struct {
	now          time.Time
	meta         connMeta
	headers      map[string]string
	multiHeaders map[string][]string
	qs           map[string]string
	multiQS      map[string][]string
	rec          *connectRecord // what the connect line says (accesslog.go)
}

// checkUpgradeRequest checks that r asks for a WebSocket upgrade this server
// can make, and otherwise answers it and reports false.
func checkUpgradeRequest(w http.ResponseWriter, r *http.Request) bool {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		writeJSONMessage(w, http.StatusUpgradeRequired, "Upgrade Required")
		return false
	}
	switch {
	case r.Method != http.MethodGet:
		writeJSONMessage(w, http.StatusMethodNotAllowed, "WebSocket upgrade requires GET")
		return false
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		writeJSONMessage(w, http.StatusBadRequest, "Connection header must contain Upgrade")
		return false
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeJSONMessage(w, http.StatusUpgradeRequired, "Unsupported Sec-WebSocket-Version")
		return false
	case !wsproto.ValidKey(r.Header.Get("Sec-WebSocket-Key")):
		writeJSONMessage(w, http.StatusBadRequest, "Invalid Sec-WebSocket-Key")
		return false
	}
	return true
}

// remoteIP is the client's address without its port.
func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// newConnMeta returns the identity of a new connection opened by r.
func (s *Server) newConnMeta(r *http.Request, now time.Time) connMeta {
	meta := connMeta{
		id:          s.newConnID(),
		connectedAt: now.UnixMilli(),
		sourceIP:    remoteIP(r),
		userAgent:   intern(&s.lastUserAgent, r.UserAgent()),
		domainName:  s.opts.DomainName,
	}
	if meta.domainName == "" {
		// The address the client reached this server at, never the Host
		// header: the client chooses that, and handlers build their
		// callback URL (http://{domainName}/{stage}) from domainName.
		meta.domainName = intern(&s.lastDomainName, localAddr(r))
	}
	return meta
}

// intern returns v, or the equal string last kept in last: the
// connections of one listener share their domain name, and those of one
// kind of client their user agent, instead of holding a copy each (an idle
// connection's memory is counted in tens of bytes: park.go).
func intern(last *atomic.Pointer[string], v string) string {
	if p := last.Load(); p != nil && *p == v {
		return *p
	}
	last.Store(&v)
	return v
}

// runAuthorizer runs the authorizer, if any, and keeps the context it
// returns in hs.meta. When it refuses the connection (or fails) it answers
// the request and reports false.
func (s *Server) runAuthorizer(w http.ResponseWriter, r *http.Request, hs *handshake) bool {
	a := s.opts.Authorizer
	if a == nil {
		return true
	}
	// serveWebSocket checked the identity sources.
	req := &AuthorizerRequest{
		Type:                            "REQUEST",
		MethodArn:                       s.methodArn,
		Headers:                         hs.headers,
		MultiValueHeaders:               hs.multiHeaders,
		QueryStringParameters:           hs.qs,
		MultiValueQueryStringParameters: hs.multiQS,
		StageVariables:                  s.stageVariables(),
	}
	s.setRequestContext(&req.RequestContext, &hs.meta, RouteConnect, EventConnect, hs.now)
	start := time.Now()
	resp, err := s.authorize(req)
	hs.rec.authorizer, hs.rec.authRan = time.Since(start), true
	status, why := authzOutcome(resp, err, s.methodArn)
	if status == 0 {
		hs.meta.authorizer, why = authorizerContext(resp)
		if why != nil {
			status = http.StatusInternalServerError
		}
	}
	if status != 0 {
		if why != nil {
			hs.rec.reason = "authorizer: " + why.Error()
		}
		writeJSONMessage(w, status, http.StatusText(status))
		return false
	}
	return true
}

// runConnectRoute runs the $connect route, if any, and returns the
// subprotocol it chose. When it refuses the connection (or fails) it answers
// the request and reports false.
func (s *Server) runConnectRoute(w http.ResponseWriter, r *http.Request, hs *handshake) (subprotocol string, ok bool) {
	route, ok := s.routes[RouteConnect]
	if !ok {
		return "", true
	}
	ev := &events.APIGatewayWebsocketProxyRequest{
		Headers:                         hs.headers,
		MultiValueHeaders:               hs.multiHeaders,
		QueryStringParameters:           hs.qs,
		MultiValueQueryStringParameters: hs.multiQS,
		StageVariables:                  s.stageVariables(),
	}
	s.setRequestContext(&ev.RequestContext, &hs.meta, RouteConnect, EventConnect, hs.now)
	meta := &hs.meta
	start := time.Now()
	resp, err := s.invoke(s.ctx, route.Integration, ev, s.limits.ConnectTimeout)
	hs.rec.connect, hs.rec.connectRan = time.Since(start), true
	if s.insp.watching.Load() {
		hs.rec.invocation = s.insp.keepInvocation(ev, responseOrNil(&resp, err), err)
	}
	s.obs.route(RouteConnect).observe(hs.rec.connect, outcomeOf(err))
	switch {
	case errors.Is(err, errIntegrationTimeout):
		hs.rec.reason = "$connect timed out"
		s.log.Warn("$connect timed out", "connectionId", meta.id)
		writeJSONMessage(w, http.StatusGatewayTimeout, "Endpoint request timed out")
		return "", false
	case err != nil:
		s.log.Warn("$connect integration failed", "connectionId", meta.id, "err", err)
		writeJSONMessage(w, http.StatusBadGateway, "Internal server error")
		return "", false
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 299 {
		hs.rec.reason = "$connect answered " + strconv.Itoa(status)
		if status < 300 || status > 599 {
			// 1xx would be taken for an interim response, and
			// anything outside 100-599 is not an HTTP status.
			status = http.StatusBadGateway
		}
		w.WriteHeader(status)
		return "", false
	}
	subprotocol = responseHeader(resp, "Sec-WebSocket-Protocol")
	if subprotocol != "" {
		if why := checkSubprotocol(subprotocol, r.Header); why != "" {
			s.log.Warn("$connect returned an unusable Sec-WebSocket-Protocol: answering 502", "connectionId", meta.id, "subprotocol", subprotocol, "reason", why)
			writeJSONMessage(w, http.StatusBadGateway, "Internal server error")
			s.abandon(*meta)
			return "", false
		}
	}
	return subprotocol, true
}

// completeUpgrade takes the connection from net/http, registers it, writes
// the 101 and starts its reader. It reports whether the connection was
// taken over: release then runs when it is closed.
func (s *Server) completeUpgrade(hj http.Hijacker, r *http.Request, meta connMeta, subprotocol string, now time.Time, release func(), rec *connectRecord) bool {
	c, resp101, err := s.hijack(hj, r, subprotocol, release)
	if err != nil {
		s.log.Info("handshake failed after $connect", "connectionId", meta.id, "err", err)
		s.abandon(meta)
		return false
	}
	c.meta = meta
	c.lastActive.Store(now.UnixNano())
	// Register before the 101 is written, so that whoever acts on the 101
	// (the client, or a backend it tells) finds the connection. The writing
	// flag, held until the 101 is out, keeps anything posted meanwhile
	// behind it. A post from inside $connect is still a 410: $connect has
	// returned by now.
	c.writing = true
	s.reg.add(c)
	s.metrics.connections.Add(1)
	if s.insp.watching.Load() {
		// Before the reader starts: the connect comes before its frames.
		s.inspectConnect(rec, http.StatusSwitchingProtocols)
	}
	c.write101(resp101)
	s.wg.Add(1)
	go c.readLoop()
	if s.closing.Load() {
		// Shutdown began while $connect ran and may have missed this one.
		c.closeWith(causeShutdown, wsproto.CloseGoingAway, "Going away")
	}
	return true
}

// abandon runs $disconnect for a connection that $connect accepted but that
// could not be completed: the route was told about it, so it hears the end.
func (s *Server) abandon(meta connMeta) {
	c := &conn{srv: s, meta: meta, state: stateClosed, closeCode: wsproto.CloseAbnormal, readerDone: true, counts: new(connCounts)}
	s.disconnected(c)
}

// hijack takes the TCP connection from net/http and builds the 101 response
// that completes the upgrade (written by write101).
//
// The connection comes without deadlines: the HTTP server's read and write
// timeouts are for requests, a WebSocket has its own (Limits.IdleTimeout,
// Limits.WriteTimeout). net/http clears them on Hijack; this makes sure.
// Closing it runs release.
func (s *Server) hijack(hj http.Hijacker, r *http.Request, subprotocol string, release func()) (*conn, []byte, error) {
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, nil, err
	}
	nc, counts := onClose(nc, release)
	c := &conn{srv: s, nc: nc, counts: counts}
	if n := brw.Reader.Buffered(); n > 0 {
		// The client sent frames right behind its handshake.
		early, _ := brw.Reader.Peek(n)
		c.early = bytes.NewReader(bytes.Clone(early))
	}
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, wsproto.AcceptKey(r.Header.Get("Sec-WebSocket-Key"))...)
	if subprotocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
	}
	b = append(b, "\r\n\r\n"...)
	return c, b, nil
}

// write101 writes the 101 response. The caller set the writing flag before
// the connection was registered; write101 releases it, starting a writer
// for anything queued meanwhile. If the write fails the connection ends
// (1006): the reader, started next, finds the socket closed and finishes.
func (c *conn) write101(resp []byte) {
	c.setWriteDeadline(time.Now().Add(c.srv.limits.WriteTimeout))
	_, err := c.nc.Write(resp)
	if err != nil {
		c.srv.log.Info("writing the 101 response failed", "connectionId", c.meta.id, "err", err)
		c.startClose(causeWriteFailed, wsproto.CloseAbnormal, "", nil)
		c.nc.Close()
	}
	c.mu.Lock()
	start := err == nil && len(c.queue) > 0
	c.writing = start
	if start {
		c.srv.wg.Add(1)
	}
	if !start {
		if err != nil {
			c.queue, c.queued = nil, 0
		}
		if c.state != stateOpen {
			closeOnce(c.flushed)
		}
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// checkSubprotocol returns why the subprotocol $connect chose cannot be sent
// back, or "": it must be one RFC 7230 token, and one the client offered.
func checkSubprotocol(p string, h http.Header) string {
	if !isToken(p) {
		return "not a single token"
	}
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, offered := range strings.Split(v, ",") {
			if strings.TrimSpace(offered) == p {
				return ""
			}
		}
	}
	return "not one the client offered"
}

// isToken reports whether s is an RFC 7230 token: one or more tchars.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// responseHeader finds a header in a proxy response, ignoring case.
func responseHeader(resp events.APIGatewayProxyResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return strings.Join(vs, ", ")
		}
	}
	return ""
}

// headerHasToken reports whether a comma-separated header contains token,
// ignoring case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
