package gateway

import (
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The inspector's events of handshakes and invocations; the callers test
// insp.watching first.

// inspectConnect records a handshake: accepted (101) or refused.
func (s *Server) inspectConnect(rec *connectRecord, status int) {
	e := InspectEvent{Kind: EventKindConnect, ConnectionID: rec.connID, Route: RouteConnect,
		DurationMs: millis(time.Since(rec.start)), Invocation: rec.invocation, Outcome: outcomeOK}
	if status != http.StatusSwitchingProtocols {
		e.Outcome = "refused"
		e.Code = status
		e.Error = http.StatusText(status)
		if rec.reason != "" {
			e.Error += ": " + rec.reason
		}
	}
	s.insp.publish(e)
}

// inspectInvocation keeps an invocation's event and response and records
// it.
func (s *Server) inspectInvocation(ev *events.APIGatewayWebsocketProxyRequest, resp *events.APIGatewayProxyResponse, err error, rs *routeStats, d time.Duration, outcome string) {
	e := InspectEvent{Kind: EventKindInvocation, ConnectionID: ev.RequestContext.ConnectionID,
		Route: rs.route, RequestID: ev.RequestContext.RequestID, Integration: rs.kind, Function: rs.name,
		DurationMs: millis(d), Outcome: outcome}
	if err != nil {
		e.Error = err.Error()
	}
	e.Invocation = s.insp.keepInvocation(ev, responseOrNil(resp, err), err)
	s.insp.publish(e)
}

// responseOrNil is resp unless the integration failed.
func responseOrNil(resp *events.APIGatewayProxyResponse, err error) *events.APIGatewayProxyResponse {
	if err != nil {
		return nil
	}
	return resp
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
