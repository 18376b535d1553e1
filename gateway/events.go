package gateway

import (
	"maps"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Event types of requestContext.eventType.
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// requestTimeLayout is requestContext.requestTime's format (CLF, UTC).
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// connMeta is what every event of one connection shares.
type connMeta struct {
	id          string
	connectedAt int64 // epoch ms
	sourceIP    string
	userAgent   string
	domainName  string
	authorizer  authContext // "" without an authorizer
}

// setRequestContext fills *rc, the fields every event has. In place: the
// context is 552 bytes, which a returned value costs each frame on the way
// (the handshake's goroutine, net/http's, grew its stack for them).
func (s *Server) setRequestContext(rc *events.APIGatewayWebsocketProxyRequestContext, m *connMeta, routeKey, eventType string, now time.Time) {
	// Field by field: a composite literal is built on the stack first.
	*rc = events.APIGatewayWebsocketProxyRequestContext{}
	reqID := newRequestID()
	rc.RouteKey = routeKey
	rc.EventType = eventType
	rc.ExtendedRequestID = reqID
	rc.RequestID = reqID
	rc.RequestTime = now.UTC().Format(requestTimeLayout)
	rc.RequestTimeEpoch = now.UnixMilli()
	rc.MessageDirection = "IN"
	rc.Stage = s.opts.Stage
	rc.ConnectedAt = m.connectedAt
	rc.Identity.SourceIP = m.sourceIP
	rc.Identity.UserAgent = m.userAgent
	rc.DomainName = m.domainName
	rc.ConnectionID = m.id
	rc.APIID = s.opts.APIID
	if m.authorizer != "" {
		rc.Authorizer = m.authorizer.event() // an interface: no typed nil
	}
}

// stageVariables returns a copy of the stage variables for one event (nil
// without any).
func (s *Server) stageVariables() map[string]string {
	return maps.Clone(s.opts.StageVariables)
}

// canonicalHeaderNames restores the spelling clients use for headers that
// net/http's canonicalization changes.
var canonicalHeaderNames = map[string]string{
	"Sec-Websocket-Key":        "Sec-WebSocket-Key",
	"Sec-Websocket-Version":    "Sec-WebSocket-Version",
	"Sec-Websocket-Extensions": "Sec-WebSocket-Extensions",
	"Sec-Websocket-Protocol":   "Sec-WebSocket-Protocol",
}

// connectHeaders builds the CONNECT event's headers: the handshake's headers
// with Host and X-Forwarded-*, without Connection and Upgrade.
func connectHeaders(r *http.Request) (map[string]string, map[string][]string) {
	// The exact size: a map of up to 8 entries is one group of slots, a
	// larger hint a table of two and a directory (twice the bytes).
	n := len(r.Header) + 4
	for _, k := range [...]string{"Connection", "Upgrade"} {
		if _, ok := r.Header[k]; ok {
			n--
		}
	}
	single := make(map[string]string, n)
	multi := make(map[string][]string, n)
	// The value lists share one array, each capped at its own length (a
	// handler that appends to one gets a copy).
	vals := 4 // set's
	for _, vs := range r.Header {
		vals += len(vs)
	}
	all := make([]string, 0, vals)
	list := func(vs ...string) []string {
		start := len(all)
		all = append(all, vs...)
		return all[start:len(all):len(all)]
	}
	for k, vs := range r.Header {
		if k == "Connection" || k == "Upgrade" || len(vs) == 0 {
			continue
		}
		if c, ok := canonicalHeaderNames[k]; ok {
			k = c
		}
		single[k] = vs[len(vs)-1]
		multi[k] = list(vs...)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	_, localPort, _ := net.SplitHostPort(localAddr(r))
	set := func(k, v string) { single[k] = v; multi[k] = list(v) }
	set("Host", r.Host)
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		set("X-Forwarded-For", prior+", "+host)
	} else {
		set("X-Forwarded-For", host)
	}
	set("X-Forwarded-Port", localPort)
	set("X-Forwarded-Proto", proto)
	return single, multi
}

func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

// disconnectHeaders are the stub headers AWS puts on DISCONNECT events.
func disconnectHeaders(host string) (map[string]string, map[string][]string) {
	return map[string]string{"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
		map[string][]string{"Host": {host}, "x-api-key": {""}, "X-Forwarded-For": {""}, "x-restapi": {""}}
}

// query returns the query string maps of the parsed query string q (the
// events get q itself as the multi-value map), or nils when it has none.
func query(q url.Values) (map[string]string, map[string][]string) {
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	for k, vs := range q {
		single[k] = vs[len(vs)-1]
	}
	return single, q
}
