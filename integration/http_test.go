package integration_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration"
)

// TestHTTPIntegrationEndToEnd puts routes and the authorizer of a gateway
// behind HTTP endpoints and drives it with a real WebSocket client.
func TestHTTPIntegrationEndToEnd(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []events.APIGatewayWebsocketProxyRequest
	record := func(ev events.APIGatewayWebsocketProxyRequest) {
		mu.Lock()
		seen = append(seen, ev)
		mu.Unlock()
	}
	mux := http.NewServeMux()
	mux.Handle("/auth", integration.AuthorizerHandler(func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		if req.QueryStringParameters["token"] != "letmein" {
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		}
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u1", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn}}},
		}, Context: map[string]any{"tenant": "t1", "n": 7}}, nil
	}))
	// A Node-style authorizer answer: Action and Resource as plain strings.
	mux.HandleFunc("/auth-node", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"principalId":"n1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`)
	})
	mux.Handle("/connect", integration.Handler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		record(ev)
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Sec-WebSocket-Protocol": "v1"}}, nil
	}))
	mux.Handle("/echo", integration.Handler(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		record(ev)
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo " + ev.Body}, nil
	}))
	mux.Handle("/fail", integration.Handler(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New("db down")
	}))
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>oops") })
	mux.HandleFunc("/null", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "null") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	handlers := httptest.NewServer(mux)
	defer handlers.Close()
	h := func(path string) gateway.Integration {
		return integration.Route(&integration.HTTP{URL: handlers.URL + path})
	}

	for _, authPath := range []string{"/auth", "/auth-node"} {
		t.Run(authPath, func(t *testing.T) {
			gw, err := gateway.New(gateway.Options{
				Stage:  "dev",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Authorizer: &gateway.AuthorizerConfig{
					Authorizer:      integration.Authorizer(&integration.HTTP{URL: handlers.URL + authPath}),
					IdentitySources: []string{"route.request.querystring.token"},
				},
				Routes: map[string]gateway.Route{
					"$connect": {Integration: h("/connect")},
					"echo":     {Integration: h("/echo"), RouteResponse: true},
					"fail":     {Integration: h("/fail"), RouteResponse: true},
					"garbage":  {Integration: h("/garbage"), RouteResponse: true},
					"null":     {Integration: h("/null"), RouteResponse: true},
					"slow":     {Integration: h("/slow"), RouteResponse: true},
				},
				Limits: gateway.Limits{IntegrationTimeout: 300 * time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			defer gw.Shutdown(context.Background())
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/dev"

			if authPath == "/auth" {
				_, resp, err := websocket.DefaultDialer.Dial(url+"?token=wrong", nil)
				if err == nil || resp == nil || resp.StatusCode != 401 {
					t.Fatalf("wrong token: %v %v, want 401", resp, err)
				}
			}
			c, resp, err := websocket.DefaultDialer.Dial(url+"?token=letmein", http.Header{"Sec-WebSocket-Protocol": {"v1"}})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if resp.Header.Get("Sec-WebSocket-Protocol") != "v1" {
				t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
			}
			roundtrip := func(action string) string {
				c.WriteMessage(websocket.TextMessage, []byte(`{"action":"`+action+`"}`))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, p, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("%s: %v", action, err)
				}
				return string(p)
			}
			if got := roundtrip("echo"); got != `echo {"action":"echo"}` {
				t.Fatalf("echo: %q", got)
			}
			for action, want := range map[string]string{"fail": "Internal server error", "garbage": "Internal server error", "slow": "Endpoint request timed out"} {
				if got := roundtrip(action); !strings.Contains(got, `"message": "`+want+`"`) {
					t.Fatalf("%s: %q, want %s frame", action, got, want)
				}
			}
			// null answers nothing; the next echo comes back first.
			c.WriteMessage(websocket.TextMessage, []byte(`{"action":"null"}`))
			if got := roundtrip("echo"); !strings.HasPrefix(got, "echo") {
				t.Fatalf("after null: %q", got)
			}
			mu.Lock()
			defer mu.Unlock()
			last := seen[len(seen)-1]
			auth, _ := last.RequestContext.Authorizer.(map[string]any)
			if authPath == "/auth" && (auth["principalId"] != "u1" || auth["tenant"] != "t1" || auth["n"] != "7") {
				t.Fatalf("authorizer context over HTTP: %v", auth)
			}
			if authPath == "/auth-node" && auth["principalId"] != "n1" {
				t.Fatalf("authorizer context over HTTP: %v", auth)
			}
			seen = nil
		})
	}
}

func TestHTTPInvokerErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/lambda-error":
			w.WriteHeader(500)
			io.WriteString(w, `{"errorMessage":"boom","errorType":"Error"}`)
		case "/401":
			w.WriteHeader(401)
		case "/text":
			w.WriteHeader(503)
			io.WriteString(w, "maintenance")
		}
	}))
	defer srv.Close()
	for path, want := range map[string]string{"/lambda-error": "boom", "/401": "Unauthorized", "/text": "maintenance"} {
		_, err := (&integration.HTTP{URL: srv.URL + path}).Invoke(context.Background(), []byte("{}"))
		var fe *integration.FunctionError
		if !errors.As(err, &fe) || fe.Error() != want {
			t.Fatalf("%s: %v, want FunctionError %q", path, err, want)
		}
	}
	srv.Close()
	_, err := (&integration.HTTP{URL: srv.URL}).Invoke(context.Background(), []byte("{}"))
	var fe *integration.FunctionError
	if err == nil || errors.As(err, &fe) {
		t.Fatalf("unreachable endpoint: %v, want a transport error", err)
	}
}

func TestDecodeProxyResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		status  int
		body    string
		wantErr bool
	}{
		{``, 0, "", false},
		{`null`, 0, "", false},
		{`{}`, 0, "", false},
		{`{"statusCode":201,"body":"x"}`, 201, "x", false},
		{`{"statusCode":"202"}`, 202, "", false}, // a numeric string is accepted
		{`{"statusCode":200.5}`, 0, "", true},
		{`[1,2]`, 0, "", true},
		{`{"statusCode":200,"headers":{"A":1}}`, 200, "", false},
	} {
		resp, err := integration.DecodeProxyResponse([]byte(tc.in))
		if (err != nil) != tc.wantErr || (err == nil && (resp.StatusCode != tc.status || resp.Body != tc.body)) {
			t.Errorf("%q: %+v %v", tc.in, resp, err)
		}
	}
}
