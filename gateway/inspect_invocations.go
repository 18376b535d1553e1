package gateway

import (
	"encoding/json"
	"maps"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// The event and response JSON of recent invocations, kept while an
// inspector watches, so that it can show them on demand.

// Limits of what is kept (docs/limits.md).
const (
	// DefaultInspectInvocations is how many invocations are kept.
	DefaultInspectInvocations = 200
	// DefaultInspectInvocationBytes bounds the bytes of all of them: the
	// oldest are forgotten first.
	DefaultInspectInvocationBytes = 4 << 20
	// DefaultInspectJSONBytes caps one event's or response's JSON: a longer
	// one is kept as a JSON string of its first bytes, marked Truncated.
	DefaultInspectJSONBytes = 64 << 10
)

// Invocation is one route invocation as the integration saw it: the event
// it was given and what it answered, with credentials redacted (the
// values of headers and query parameters whose name SecretName matches,
// and Sec-WebSocket-Protocol, which browsers use to carry tokens).
type Invocation struct {
	ID           uint64          `json:"id"`
	ConnectionID string          `json:"connectionId"`
	Route        string          `json:"route"`
	RequestID    string          `json:"requestId"`
	Event        json.RawMessage `json:"event"`
	Response     json.RawMessage `json:"response,omitempty"`
	Error        string          `json:"error,omitempty"`
	Truncated    bool            `json:"truncated,omitempty"`
}

// invocations are the kept ones, oldest first (guarded by inspectHub.mu).
type invocations struct {
	list  []*Invocation
	byID  map[uint64]*Invocation
	bytes int
	next  uint64
}

// keepInvocation records an invocation and returns its id (0 when nobody
// watches). resp is nil when the integration failed.
func (h *inspectHub) keepInvocation(ev *events.APIGatewayWebsocketProxyRequest, resp *events.APIGatewayProxyResponse, err error) uint64 {
	inv := &Invocation{ConnectionID: ev.RequestContext.ConnectionID, Route: ev.RequestContext.RouteKey, RequestID: ev.RequestContext.RequestID}
	inv.Event, inv.Truncated = capJSON(redactedEvent(ev))
	if resp != nil {
		r := *resp
		r.Headers, r.MultiValueHeaders = redactHeaders(r.Headers), redactMultiHeaders(r.MultiValueHeaders)
		var cut bool
		inv.Response, cut = capJSON(&r)
		inv.Truncated = inv.Truncated || cut
	}
	if err != nil {
		inv.Error = clip(err.Error(), DefaultInspectJSONBytes)
	}
	size := len(inv.Event) + len(inv.Response) + len(inv.Error) + 128
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return 0
	}
	v := &h.inv
	if v.byID == nil {
		v.byID = make(map[uint64]*Invocation)
	}
	v.next++
	inv.ID = v.next
	v.list = append(v.list, inv)
	v.byID[inv.ID] = inv
	v.bytes += size
	for len(v.list) > DefaultInspectInvocations || (v.bytes > DefaultInspectInvocationBytes && len(v.list) > 1) {
		old := v.list[0]
		v.list[0] = nil
		v.list = v.list[1:]
		delete(v.byID, old.ID)
		v.bytes -= len(old.Event) + len(old.Response) + len(old.Error) + 128
	}
	return inv.ID
}

// Invocation returns a kept invocation by the id its event carried.
func (s *Server) Invocation(id uint64) (Invocation, bool) {
	h := &s.insp
	h.mu.Lock()
	defer h.mu.Unlock()
	inv, ok := h.inv.byID[id]
	if !ok {
		return Invocation{}, false
	}
	return *inv, true
}

// capJSON marshals v, cut to DefaultInspectJSONBytes (as a JSON string).
func capJSON(v any) (json.RawMessage, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal("not JSON: " + err.Error())
		return b, false
	}
	if len(b) <= DefaultInspectJSONBytes {
		return b, false
	}
	cut, _ := json.Marshal(preview(b[:DefaultInspectJSONBytes]))
	return cut, true
}

// redactedEvent is ev with the credentials in its headers, query string,
// stage variables and authorizer context replaced by Redacted (the maps
// are copied: the integration has the originals).
func redactedEvent(ev *events.APIGatewayWebsocketProxyRequest) *events.APIGatewayWebsocketProxyRequest {
	e := *ev
	e.Headers, e.MultiValueHeaders = redactHeaders(e.Headers), redactMultiHeaders(e.MultiValueHeaders)
	e.QueryStringParameters = redactMap(e.QueryStringParameters, SecretName)
	e.MultiValueQueryStringParameters = redactMultiMap(e.MultiValueQueryStringParameters, SecretName)
	e.StageVariables = redactMap(e.StageVariables, SecretName)
	if m, ok := e.RequestContext.Authorizer.(map[string]any); ok {
		e.RequestContext.Authorizer = redactContext(m)
	}
	return &e
}

// redactContext is an authorizer's context with the values of the keys
// SecretName matches (an "accessToken" an authorizer passed on) replaced
// by Redacted.
func redactContext(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k := range out {
		if SecretName(k) {
			out[k] = Redacted
		}
	}
	return out
}

// secretHeader reports whether a header's value must not be shown.
func secretHeader(name string) bool {
	return SecretName(name) || strings.EqualFold(name, "Sec-WebSocket-Protocol")
}

func redactHeaders(m map[string]string) map[string]string { return redactMap(m, secretHeader) }

func redactMultiHeaders(m map[string][]string) map[string][]string {
	return redactMultiMap(m, secretHeader)
}

func redactMap(m map[string]string, secret func(string) bool) map[string]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k := range out {
		if secret(k) {
			out[k] = Redacted
		}
	}
	return out
}

func redactMultiMap(m map[string][]string, secret func(string) bool) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, vs := range m {
		if secret(k) {
			vs = []string{Redacted}
		}
		out[k] = vs
	}
	return out
}
