package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// errIntegrationTimeout is returned by invoke when the integration did not
// answer within its timeout.
var errIntegrationTimeout = errors.New("integration timed out")

// selectRoute applies the route selection expression to a message body and
// returns the route key to run, or "" when no route matches and there is no
// $default route.
func (s *Server) selectRoute(body string) string {
	if key, ok := s.selector.Select([]byte(body)); ok && key != "" && !strings.HasPrefix(key, "$") {
		if _, found := s.routes[key]; found {
			return key
		}
	}
	if _, found := s.routes[RouteDefault]; found {
		return RouteDefault
	}
	return ""
}

// handleMessage runs one inbound message through its route.
func (s *Server) handleMessage(c *conn, body string) {
	routeKey := s.selectRoute(body)
	if routeKey == "" {
		s.obs.unrouted.Add(1)
		c.enqueue(gatewayFrame("Forbidden", c.meta.id, newRequestID()), true)
		return
	}
	route := s.routes[routeKey]
	ev := &events.APIGatewayWebsocketProxyRequest{Body: body, StageVariables: s.stageVariables()}
	s.setRequestContext(&ev.RequestContext, &c.meta, routeKey, EventMessage, time.Now())
	ev.RequestContext.MessageID = newRequestID()
	start := time.Now()
	resp, err := s.invoke(s.ctx, route.Integration, ev, s.limits.IntegrationTimeout)
	d := time.Since(start)
	reqID := ev.RequestContext.RequestID
	rs := s.obs.route(routeKey)
	outcome := outcomeOf(err)
	rs.observe(d, outcome)
	s.logMessage(c, rs, reqID, d, outcome, resp.StatusCode, err)
	if s.insp.watching.Load() {
		s.inspectInvocation(ev, &resp, err, rs, d, outcome)
	}
	switch {
	case errors.Is(err, errIntegrationTimeout):
		c.enqueue(gatewayFrame("Endpoint request timed out", c.meta.id, reqID), true)
	case err != nil:
		c.enqueue(gatewayFrame("Internal server error", c.meta.id, reqID), true)
	case route.RouteResponse && resp.Body != "":
		c.enqueue(wsproto.TextFrame([]byte(resp.Body)), true)
	}
}

// gatewayFrame is the frame API Gateway itself sends for Forbidden, Internal
// server error and timeouts, byte for byte.
func gatewayFrame(message, connectionID, requestID string) []byte {
	return wsproto.TextFrame(fmt.Appendf(nil, `{"message": %q, "connectionId":%q, "requestId":%q}`, message, connectionID, requestID))
}

// invoke calls an integration with a timeout. A panic in an in-process
// handler is an error, as a crashed Lambda is.
//
// The integration runs in a goroutine of its own so that the timeout can
// answer without it (one kept from an earlier call when one waits:
// callers.go). That goroutine is the server's (s.calls): Shutdown
// waits for it, bounded by its context, as it may run user code that never
// returns; while it runs past the timeout it is counted in s.overdue.
//
// ev is the caller's, read (copied for the integration) by the goroutine
// that runs it, possibly after invoke returned on a timeout: the caller
// must not change it once it called invoke. A pointer, so that the event
// (672 bytes) is built in one place on the heap, not copied through the
// frames of the goroutines that make it.
func (s *Server) invoke(parent context.Context, in Integration, ev *events.APIGatewayWebsocketProxyRequest, timeout time.Duration) (events.APIGatewayProxyResponse, error) {
	type result struct {
		resp events.APIGatewayProxyResponse
		err  error
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	ch := make(chan result, 1)
	var late overdue
	s.goCall(func() {
		defer late.finish(&s.overdue)
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("handler panicked: %v", p)}
			}
		}()
		resp, err := in.Invoke(ctx, *ev)
		ch <- result{resp, err}
	})
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() == context.DeadlineExceeded {
			return r.resp, errIntegrationTimeout
		}
		return r.resp, r.err
	case <-ctx.Done():
		late.abandon(&s.overdue)
		if parent.Err() != nil {
			return events.APIGatewayProxyResponse{}, parent.Err()
		}
		return events.APIGatewayProxyResponse{}, errIntegrationTimeout
	}
}

// authorize calls the authorizer with a timeout, turning a panic into an
// error. req is read by the goroutine that runs the authorizer, as
// invoke's ev is.
func (s *Server) authorize(req *AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	type result struct {
		resp events.APIGatewayCustomAuthorizerResponse
		err  error
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.limits.ConnectTimeout)
	defer cancel()
	ch := make(chan result, 1)
	var late overdue
	s.goCall(func() { // owned as invoke's is
		defer late.finish(&s.overdue)
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("authorizer panicked: %v", p)}
			}
		}()
		resp, err := s.opts.Authorizer.Authorizer.Authorize(ctx, *req)
		ch <- result{resp, err}
	})
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		late.abandon(&s.overdue)
		return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorizer: %w", errIntegrationTimeout)
	}
}

// disconnected runs $disconnect for a connection that ended. It is called
// exactly once per connection that completed its handshake.
func (s *Server) disconnected(c *conn) {
	c.mu.Lock()
	code, reason := int(c.closeCode), c.closeReason
	c.mu.Unlock()
	s.logDisconnect(c, code, reason)
	if s.insp.watching.Load() {
		s.insp.publish(InspectEvent{Kind: EventKindDisconnect, ConnectionID: c.meta.id, Code: code, Reason: reason})
	}
	route, ok := s.routes[RouteDisconnect]
	if !ok {
		return
	}
	now := time.Now()
	ev := &events.APIGatewayWebsocketProxyRequest{StageVariables: s.stageVariables()}
	s.setRequestContext(&ev.RequestContext, &c.meta, RouteDisconnect, EventDisconnect, now)
	ev.Headers, ev.MultiValueHeaders = disconnectHeaders(c.meta.domainName)
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	s.wg.Go(func() {
		// Not s.ctx: Shutdown cancels that when it stops waiting, and
		// $disconnect must still run, bounded by its own timeout.
		start := time.Now()
		resp, err := s.invoke(context.Background(), route.Integration, ev, s.limits.IntegrationTimeout)
		d := time.Since(start)
		rs := s.obs.route(RouteDisconnect)
		rs.observe(d, outcomeOf(err))
		if s.insp.watching.Load() {
			s.inspectInvocation(ev, &resp, err, rs, d, outcomeOf(err))
		}
		if err != nil {
			s.log.Warn("$disconnect integration failed", "connectionId", c.meta.id, "err", err)
		}
	})
}

// overdue tells whether a call's goroutine outlived the timeout: the caller
// marks it abandoned when it answers without it, the goroutine marks it
// finished; whichever comes second keeps the server's count right.
type overdue struct{ state atomic.Int32 } // 0 running, 1 abandoned, 2 finished

// abandon counts the call in n unless it already finished.
func (o *overdue) abandon(n *atomic.Int64) {
	if o.state.CompareAndSwap(0, 1) {
		n.Add(1)
	}
}

// finish uncounts the call from n if it was abandoned.
func (o *overdue) finish(n *atomic.Int64) {
	if !o.state.CompareAndSwap(0, 2) {
		n.Add(-1)
	}
}
