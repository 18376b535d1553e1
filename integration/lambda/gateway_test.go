package lambda_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/integration/lambda"
)

// TestGatewayEndToEnd puts a route of a gateway behind the echo function
// run as a local Lambda, and drives it with a real WebSocket client.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	fn := newFunction(t, lambda.Options{})
	gw, err := gateway.New(gateway.Options{
		Stage:  "dev",
		Logger: quiet,
		Routes: map[string]gateway.Route{
			"echo": {Integration: integration.Route(fn), RouteResponse: true},
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
	for _, msg := range []string{`{"action":"echo","n":1}`, `{"action":"echo","n":2}`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if want := "lambda echo: " + msg; string(p) != want {
			t.Fatalf("got %q, want %q", p, want)
		}
	}
}
