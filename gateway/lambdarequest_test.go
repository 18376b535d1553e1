package gateway_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/gateway"
)

// viaJSON is what a Go Lambda authorizer decodes from the request's JSON.
func viaJSON(t testing.TB, r gateway.AuthorizerRequest) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	var out events.APIGatewayCustomAuthorizerRequestTypeRequest
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLambdaRequestMatchesJSON(t *testing.T) {
	t.Parallel()
	full := gateway.AuthorizerRequest{
		Type:      "REQUEST",
		MethodArn: "arn:aws:execute-api:us-east-1:000000000000:local/dev/$connect",
		Headers:   map[string]string{"Host": "127.0.0.1:8080", "Sec-WebSocket-Key": "abc==", "X-Empty": ""},
		MultiValueHeaders: map[string][]string{
			"Host": {"127.0.0.1:8080"}, "X-Two": {"a", "b"}, "X-None": {}, "X-Nil": nil,
		},
		QueryStringParameters:           map[string]string{"token": "eyJ.x.y", "a": "<&>"},
		MultiValueQueryStringParameters: map[string][]string{"token": {"eyJ.x.y"}, "a": {"1", "<&>"}},
		StageVariables:                  map[string]string{"v": "1"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID: "123", ResourceID: "res", Stage: "dev", RequestID: "req-1",
			Identity: events.APIGatewayRequestIdentity{
				SourceIP: "127.0.0.1", UserAgent: "Go-http-client/1.1", APIKey: "key", Caller: "c",
				ClientCert: &events.APIGatewayCustomAuthorizerRequestTypeRequestIdentityClientCert{
					ClientCertPem: "pem", IssuerDN: "CN=i", SerialNumber: "1", SubjectDN: "CN=s",
					Validity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentityClientCertValidity{NotAfter: "b", NotBefore: "a"},
				},
			},
			ResourcePath: "/", HTTPMethod: "GET", APIID: "local", ConnectedAt: 1700000000000,
			ConnectionID: "conn=", DomainName: "127.0.0.1", EventType: "CONNECT", ExtendedRequestID: "req-1",
			MessageDirection: "IN", RequestTime: "02/Jan/2006:15:04:05 +0000", RequestTimeEpoch: 1700000000000,
			RouteKey: "$connect", Authorizer: map[string]any{"x": "y"},
		},
	}
	invalid := full
	invalid.Headers = map[string]string{"X-Bad": "a\xffb\xfe\xfd", "X-Cut": "é"[:1], "ok\x80": "v"}
	invalid.MultiValueQueryStringParameters = map[string][]string{"q": {"\xc3\x28", "ok"}}
	invalid.RequestContext.Identity.SourceIP = "1.2.3.4\xff"
	for _, tc := range []struct {
		name string
		req  gateway.AuthorizerRequest
	}{
		{"full", full},
		{"zero", gateway.AuthorizerRequest{}},
		{"empty maps", gateway.AuthorizerRequest{Type: "REQUEST", Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
			QueryStringParameters: map[string]string{}, StageVariables: map[string]string{}}},
		{"invalid UTF-8", invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := tc.req.LambdaRequest(), viaJSON(t, tc.req)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LambdaRequest:\n got %#v\nwant %#v", got, want)
			}
		})
	}
	// The result shares nothing with the request: a handler may modify it.
	got := full.LambdaRequest()
	got.Headers["Host"] = "changed"
	got.MultiValueHeaders["X-Two"][0] = "changed"
	if full.Headers["Host"] != "127.0.0.1:8080" || full.MultiValueHeaders["X-Two"][0] != "a" {
		t.Error("changing LambdaRequest's result changed the request")
	}
}

func BenchmarkLambdaRequest(b *testing.B) {
	r := gateway.AuthorizerRequest{
		Type: "REQUEST", MethodArn: "arn:aws:execute-api:us-east-1:000000000000:local/dev/$connect",
		Headers: map[string]string{"Host": "127.0.0.1:8080", "Sec-WebSocket-Key": "abc==", "Sec-WebSocket-Version": "13",
			"User-Agent": "Go-http-client/1.1", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Port": "8080", "X-Forwarded-Proto": "http"},
		MultiValueHeaders: map[string][]string{"Host": {"127.0.0.1:8080"}, "Sec-WebSocket-Key": {"abc=="}, "Sec-WebSocket-Version": {"13"},
			"User-Agent": {"Go-http-client/1.1"}, "X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Port": {"8080"}, "X-Forwarded-Proto": {"http"}},
		QueryStringParameters:           map[string]string{"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.sig"},
		MultiValueQueryStringParameters: map[string][]string{"token": {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.sig"}},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{Stage: "dev", RequestID: "r", APIID: "local",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1", UserAgent: "Go-http-client/1.1"}},
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.LambdaRequest()
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			viaJSON(b, r)
		}
	})
}
