package gateway_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// BenchmarkConnectAuthorizeJoin is what each receiver of `switchboard
// bench fanout`'s join phase costs the gateway: a handshake through an
// authorizer shaped as chat's (a token in the query string, an Allow
// policy, a context of three strings) and a $connect route, then one
// message whose route answers (chat's joinRoom), then the close. Each op
// is one such connection, 64 at a time; allocs/op counts the client's
// (gorilla/websocket) too:
//
//	go test -run '^$' -bench ConnectAuthorizeJoin -benchtime 5000x ./gateway
func BenchmarkConnectAuthorizeJoin(b *testing.B) {
	authz := gateway.AuthorizerFunc(func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		if req.QueryStringParameters["token"] == "" {
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "u1",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn},
			}}},
			Context: map[string]any{"userId": "u1", "username": "Ada", "tenantId": "acme"},
		}, nil
	})
	ok := fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	echo := fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
	})
	srv, err := gateway.New(gateway.Options{
		Stage: "dev", Logger: testutil.DiscardLogger(),
		Limits:     gateway.Limits{ConnectRate: -1},
		Authorizer: &gateway.AuthorizerConfig{Authorizer: authz, IdentitySources: []string{"route.request.querystring.token"}},
		Routes: map[string]gateway.Route{
			"$connect": {Integration: ok},
			"$default": {RouteResponse: true, Integration: echo},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev?token=eyJhbGciOiJIUzI1NiJ9.e30.x"
	msg := []byte(`{"action":"joinRoom","data":{"roomId":"r1"},"requestId":"j1"}`)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				b.Error(err)
			} else if _, _, err := c.ReadMessage(); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
}
