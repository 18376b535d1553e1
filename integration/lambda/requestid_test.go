package lambda_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/integration/lambda"
)

// TestRequestIDTiesFrameLogAndInvocation: a Node.js function behind a
// route, driven by a real WebSocket client. The request id the handler
// sees in its event (requestContext.requestId) is its invocation's
// (context.awsRequestId, Lambda-Runtime-Aws-Request-Id), the gateway's
// message line's, the invocation line's and that of the function's own
// console line, which is labelled with the function's name; all on one
// logger.
func TestRequestIDTiesFrameLogAndInvocation(t *testing.T) {
	t.Parallel()
	fn, rec := nodeFunction(t, "basic", "ws.handler", lambda.Options{FunctionName: "ws-fn"})
	gw, err := gateway.New(gateway.Options{
		Stage:  "dev",
		Logger: slog.New(rec),
		Routes: map[string]gateway.Route{
			"$default": {Integration: integration.Route(fn), RouteResponse: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	defer gw.Shutdown(context.Background())
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/dev", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"hello":1}`)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var ids struct{ EventRequestID, AwsRequestID string }
	if err := json.Unmarshal(p, &ids); err != nil || ids.EventRequestID == "" {
		t.Fatalf("answer %s: %v", p, err)
	}
	id := ids.EventRequestID
	if ids.AwsRequestID != id {
		t.Errorf("context.awsRequestId %q, event's requestId %q: want one id", ids.AwsRequestID, id)
	}
	msg := rec.waitFor(t, "of the gateway's message line", func(m map[string]string) bool { return m["msg"] == "message" })
	if msg["requestId"] != id || msg["integration"] != "lambda" || msg["function"] != "ws-fn" || msg["outcome"] != "ok" {
		t.Errorf("message line %v, want requestId %s, lambda ws-fn", msg, id)
	}
	inv := rec.waitFor(t, "of the invocation", func(m map[string]string) bool { return m["msg"] == "lambda: invocation" })
	if inv["requestId"] != id || inv["function"] != "ws-fn" || inv["route"] != "$default" {
		t.Errorf("invocation line %v, want requestId %s", inv, id)
	}
	out := rec.waitFor(t, "of the console line", func(m map[string]string) bool { return m["msg"] == "handling $default" })
	if out["requestId"] != id || out["function"] != "ws-fn" || out["stream"] != "stdout" {
		t.Errorf("console line %v, want requestId %s, function ws-fn", out, id)
	}
}
