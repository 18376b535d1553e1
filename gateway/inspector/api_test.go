package inspector_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/gateway/inspector"
)

// The page, its API and its stream are served to this machine's clients
// only, and never to another web page: a stranger, a client behind a
// proxy, a foreign Origin and a rebound Host name are refused, as the
// management API refuses them.
func TestInspectorAccessRule(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	resp, body := h.do(t, http.MethodGet, inspector.Path, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Switchboard inspector") {
		t.Fatalf("GET %s from loopback: %d", inspector.Path, resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want scripts from the page's origin only", csp)
	}
	for _, tc := range []struct {
		name, method, path string
		hdr                http.Header
	}{
		{"foreign Origin, page", http.MethodGet, inspector.Path, http.Header{"Origin": {"http://evil.example"}}},
		{"foreign Origin, stream", http.MethodGet, inspector.Path + "api/events", http.Header{"Origin": {"http://evil.example"}}},
		{"foreign Origin, post", http.MethodPost, inspector.Path + "api/connections/x/messages", http.Header{"Origin": {"http://evil.example"}, "Content-Type": {"text/plain"}}},
		{"cross-site fetch", http.MethodDelete, inspector.Path + "api/connections/x", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"another port of localhost", http.MethodGet, inspector.Path + "api/connections", http.Header{"Origin": {"http://localhost:3000"}}},
		{"rebound Host", http.MethodGet, inspector.Path + "api/connections", http.Header{"Host": {"evil.example"}}},
		{"through a proxy", http.MethodGet, inspector.Path, http.Header{"X-Forwarded-For": {"203.0.113.9"}}},
	} {
		req, _ := http.NewRequest(tc.method, h.http.URL+tc.path, strings.NewReader("hi"))
		for k, v := range tc.hdr {
			req.Header[k] = v
		}
		if host := tc.hdr.Get("Host"); host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, resp.StatusCode)
		}
	}
	// A client of another machine (the TCP peer is not loopback).
	for _, path := range []string{inspector.Path, inspector.Path + "api/connections", inspector.Path + "api/events"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.7:50000"
		w := httptest.NewRecorder()
		inspector.Mount(h.gw, h.gw).ServeHTTP(w, req)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only clients on this machine") {
			t.Errorf("a stranger's GET %s: %d %s, want 403", path, w.Code, w.Body)
		}
	}
	if h.gw.ConnectionCount() != 0 {
		t.Errorf("a refused request reached the gateway")
	}
}

// What an operator sees: a connection with its identity and rooms, its
// frames in and out, each invocation with its JSON (credentials
// redacted), a post from the inspector that reaches the client, and a
// disconnect.
func TestInspectorConnectionsStreamAndActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ch := h.stream(t)

	// A refused handshake is an error event, with its status.
	if _, resp, err := websocket.DefaultDialer.Dial(h.ws+"?token=wrong", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %v", err)
	}
	refused := next(t, ch, "the refused connect", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindConnect })
	if refused.Outcome != "refused" || refused.Code != http.StatusUnauthorized || !refused.Failed() {
		t.Errorf("refused connect %+v: want refused, 401, an error", refused)
	}

	c := h.dial(t)

	conn := next(t, ch, "the connect event", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindConnect })
	if conn.Outcome != "ok" || conn.ConnectionID == "" || conn.Invocation == 0 {
		t.Fatalf("connect event %+v: want ok with an id and its $connect invocation", conn)
	}
	id := conn.ConnectionID

	msg := `{"action":"echo","n":1}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	in := next(t, ch, "the frame in", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindFrameIn })
	if in.ConnectionID != id || in.Preview != msg || in.Bytes != len(msg) {
		t.Errorf("frame in %+v: want %q from %s", in, msg, id)
	}
	inv := next(t, ch, "the invocation", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindInvocation })
	if inv.Route != "echo" || inv.Outcome != "ok" || inv.RequestID == "" || inv.Integration != "go" || inv.Invocation == 0 {
		t.Errorf("invocation %+v: want route echo, ok, a request id, integration go", inv)
	}
	out := next(t, ch, "the frame out", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindFrameOut })
	if want := `{"echo":` + msg + `}`; out.Preview != want {
		t.Errorf("frame out %q, want %q", out.Preview, want)
	}
	if _, got, err := c.ReadMessage(); err != nil || !strings.Contains(string(got), "echo") {
		t.Fatalf("echo: %q %v", got, err)
	}

	// The invocation's event and response.
	resp, body := h.do(t, http.MethodGet, fmt.Sprintf("%sapi/invocations/%d", inspector.Path, inv.Invocation), "", nil)
	var got gateway.Invocation
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("GET invocation: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(got.Event), `"body":"{\"action\":\"echo\",\"n\":1}"`) || !strings.Contains(string(got.Response), `"statusCode":200`) || got.RequestID != inv.RequestID {
		t.Errorf("invocation JSON: event %s response %s", got.Event, got.Response)
	}
	// $connect's event carries the credentials: redacted.
	_, body = h.do(t, http.MethodGet, fmt.Sprintf("%sapi/invocations/%d", inspector.Path, conn.Invocation), "", nil)
	for _, secret := range []string{secretToken, "b34r3r", secretProtocol} {
		if strings.Contains(body, secret) {
			t.Errorf("$connect invocation shows a credential (%s): %s", secret, body)
		}
	}
	if !strings.Contains(body, `"token":"REDACTED"`) || !strings.Contains(body, `"Authorization":"REDACTED"`) ||
		!strings.Contains(body, `"Sec-WebSocket-Protocol":"REDACTED"`) || !strings.Contains(body, `"room":"general"`) {
		t.Errorf("$connect invocation: want token, Authorization and Sec-WebSocket-Protocol redacted, room kept: %s", body)
	}
	if resp, _ := h.do(t, http.MethodGet, inspector.Path+"api/invocations/999999", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown invocation: %d, want 404", resp.StatusCode)
	}

	// The connection, with its identity, rooms and bytes.
	_, body = h.do(t, http.MethodGet, inspector.Path+"api/connections", "", nil)
	var list struct {
		Connections []gateway.InspectConn
		Total       int
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Total != 1 || len(list.Connections) != 1 {
		t.Fatalf("connections: %s (%v)", body, err)
	}
	ic := list.Connections[0]
	if ic.ID != id || ic.Identity["userId"] != "alice" || ic.Annotations["rooms"] != "general" ||
		ic.BytesIn != uint64(len(msg)) || ic.BytesOut != uint64(len(`{"echo":`+msg+`}`)) {
		t.Errorf("connection %+v", ic)
	}

	// A failing route is an error event.
	c.WriteMessage(websocket.TextMessage, []byte(`{"action":"boom"}`))
	bad := next(t, ch, "the failed invocation", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindInvocation && e.Route == "boom" })
	if bad.Outcome != "error" || !bad.Failed() || bad.Error == "" {
		t.Errorf("failed invocation %+v", bad)
	}
	c.ReadMessage() // Internal server error

	// Post from the inspector: the client receives it.
	octets := http.Header{"Content-Type": {"application/octet-stream"}}
	if resp, body := h.do(t, http.MethodPost, inspector.Path+"api/connections/"+id+"/messages", "from the inspector", octets); resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "from the inspector" {
		t.Fatalf("post: the client read %q, %v", got, err)
	}
	if resp, _ := h.do(t, http.MethodPost, inspector.Path+"api/connections/"+id+"/messages", "", octets); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty post: %d, want 400", resp.StatusCode)
	}
	big := strings.Repeat("x", gateway.DefaultMaxMessageBytes+1)
	if resp, _ := h.do(t, http.MethodPost, inspector.Path+"api/connections/"+id+"/messages", big, octets); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("post over the limit: %d, want 413", resp.StatusCode)
	}

	// Disconnect from the inspector: closed with 1000.
	if resp, body := h.do(t, http.MethodDelete, inspector.Path+"api/connections/"+id, "", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	_, _, err := c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("after disconnect the client read %v, want close 1000", err)
	}
	d := next(t, ch, "the disconnect", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindDisconnect })
	if d.ConnectionID != id || d.Code != 1000 {
		t.Errorf("disconnect event %+v", d)
	}
	if resp, _ := h.do(t, http.MethodPost, inspector.Path+"api/connections/"+id+"/messages", "late", octets); resp.StatusCode != http.StatusGone {
		t.Errorf("post to a closed connection: %d, want 410", resp.StatusCode)
	}
}
