package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/switchboard-ws/switchboard/wsproto"
)

// serveWebSocket runs the opening handshake: the authorizer and the $connect
// route run while the upgrade waits, and decide whether it completes.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		writeJSONMessage(w, http.StatusUpgradeRequired, "Upgrade Required")
		return
	}
	switch {
	case r.Method != http.MethodGet:
		writeJSONMessage(w, http.StatusMethodNotAllowed, "WebSocket upgrade requires GET")
		return
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		writeJSONMessage(w, http.StatusBadRequest, "Connection header must contain Upgrade")
		return
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeJSONMessage(w, http.StatusUpgradeRequired, "Unsupported Sec-WebSocket-Version")
		return
	case !wsproto.ValidKey(r.Header.Get("Sec-WebSocket-Key")):
		writeJSONMessage(w, http.StatusBadRequest, "Invalid Sec-WebSocket-Key")
		return
	case !s.limiter.allow():
		writeJSONMessage(w, http.StatusTooManyRequests, "Too Many Requests")
		return
	}
	if !s.track() {
		writeJSONMessage(w, http.StatusServiceUnavailable, "Server is shutting down")
		return
	}
	defer s.wg.Done()

	now := time.Now()
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	meta := connMeta{
		id:          newID(),
		connectedAt: now.UnixMilli(),
		sourceIP:    sourceIP,
		userAgent:   r.UserAgent(),
		domainName:  s.opts.DomainName,
	}
	if meta.domainName == "" {
		meta.domainName = r.Host
	}
	headers, multiHeaders := connectHeaders(r)
	qs, multiQS := query(r)

	if a := s.opts.Authorizer; a != nil {
		if !identityPresent(a.IdentitySources, r, s.opts.StageVariables) {
			writeJSONMessage(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		req := AuthorizerRequest{
			Type:                            "REQUEST",
			MethodArn:                       s.methodArn,
			Headers:                         headers,
			MultiValueHeaders:               multiHeaders,
			QueryStringParameters:           qs,
			MultiValueQueryStringParameters: multiQS,
			StageVariables:                  s.opts.StageVariables,
			RequestContext:                  s.requestContext(&meta, RouteConnect, EventConnect, now),
		}
		resp, err := s.authorize(req)
		status, why := authzOutcome(resp, err, s.methodArn)
		if status == 0 {
			meta.authorizer, why = authorizerContext(resp)
			if why != nil {
				status = http.StatusInternalServerError
			}
		}
		if status != 0 {
			s.log.Info("connection refused by authorizer", "status", status, "reason", why, "sourceIp", sourceIP)
			writeJSONMessage(w, status, http.StatusText(status))
			return
		}
	}

	var subprotocol string
	if route, ok := s.routes[RouteConnect]; ok {
		ev := events.APIGatewayWebsocketProxyRequest{
			Headers:                         headers,
			MultiValueHeaders:               multiHeaders,
			QueryStringParameters:           qs,
			MultiValueQueryStringParameters: multiQS,
			StageVariables:                  s.opts.StageVariables,
			RequestContext:                  s.requestContext(&meta, RouteConnect, EventConnect, now),
		}
		resp, err := s.invoke(s.ctx, route.Integration, ev, s.limits.ConnectTimeout)
		switch {
		case errors.Is(err, errIntegrationTimeout):
			s.log.Warn("$connect timed out", "connectionId", meta.id)
			writeJSONMessage(w, http.StatusGatewayTimeout, "Endpoint request timed out")
			return
		case err != nil:
			s.log.Warn("$connect integration failed", "connectionId", meta.id, "err", err)
			writeJSONMessage(w, http.StatusBadGateway, "Internal server error")
			return
		}
		status := resp.StatusCode
		if status == 0 {
			status = http.StatusOK
		}
		if status < 200 || status > 299 {
			s.log.Debug("$connect refused the connection", "connectionId", meta.id, "status", status)
			if status < 100 || status > 999 {
				status = http.StatusBadGateway
			}
			w.WriteHeader(status)
			return
		}
		subprotocol = responseHeader(resp, "Sec-WebSocket-Protocol")
	}

	c, err := s.hijack(w, r, subprotocol)
	if err != nil {
		s.log.Info("handshake failed after $connect", "connectionId", meta.id, "err", err)
		// The $connect route accepted this connection: tell $disconnect.
		c := &conn{srv: s, meta: meta, state: stateClosed, closeCode: wsproto.CloseAbnormal, readerDone: true}
		s.disconnected(c)
		return
	}
	c.meta = meta
	c.lastActive.Store(now.UnixNano())
	s.reg.add(c)
	s.wg.Add(1)
	go c.readLoop()
	if s.closing.Load() {
		// Shutdown began while $connect ran and may have missed this one.
		c.closeWith(wsproto.CloseGoingAway, "Going away")
	}
}

// hijack takes the TCP connection from net/http and completes the upgrade.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request, subprotocol string) (*conn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("response writer cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	c := &conn{srv: s, nc: nc, rd: nc}
	if n := brw.Reader.Buffered(); n > 0 {
		// The client sent frames right behind its handshake.
		early, _ := brw.Reader.Peek(n)
		c.rd = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(wsproto.AcceptKey(r.Header.Get("Sec-WebSocket-Key")))
	if subprotocol != "" {
		b.WriteString("\r\nSec-WebSocket-Protocol: ")
		b.WriteString(subprotocol)
	}
	b.WriteString("\r\n\r\n")
	nc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout))
	if _, err := io.WriteString(nc, b.String()); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
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
