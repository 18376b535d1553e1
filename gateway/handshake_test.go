package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

var connIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestPlainGETGets426(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	resp, err := http.Get(g.http.URL + "/dev")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if n := len(g.events.of("$connect")); n != 0 {
		t.Fatalf("$connect ran %d times for a plain GET", n)
	}
}

func TestConnectionIDShape(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		g.dial(t, "", nil)
		id := g.connID(t, i)
		if !connIDPattern.MatchString(id) {
			t.Fatalf("connection id %q is not 16 chars of URL-safe base64 with padding", id)
		}
		if raw, err := base64.URLEncoding.DecodeString(id); err != nil || len(raw) != 11 {
			t.Fatalf("connection id %q does not decode to 11 bytes: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("connection id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestConnectRouteDecidesTheUpgrade(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		resp   events.APIGatewayProxyResponse
		err    error
		panics bool
		want   int
	}{
		{name: "2xx accepts", resp: events.APIGatewayProxyResponse{StatusCode: 204}, want: http.StatusSwitchingProtocols},
		{name: "missing status accepts", resp: events.APIGatewayProxyResponse{}, want: http.StatusSwitchingProtocols},
		{name: "non-2xx is passed on", resp: events.APIGatewayProxyResponse{StatusCode: 401, Body: "secret"}, want: 401},
		{name: "redirect status is passed on", resp: events.APIGatewayProxyResponse{StatusCode: 302}, want: 302},
		{name: "500 is passed on", resp: events.APIGatewayProxyResponse{StatusCode: 500}, want: 500},
		{name: "1xx is 502", resp: events.APIGatewayProxyResponse{StatusCode: 103}, want: http.StatusBadGateway},
		{name: "101 is 502", resp: events.APIGatewayProxyResponse{StatusCode: 101}, want: http.StatusBadGateway},
		{name: "199 is 502", resp: events.APIGatewayProxyResponse{StatusCode: 199}, want: http.StatusBadGateway},
		{name: "status under 100 is 502", resp: events.APIGatewayProxyResponse{StatusCode: 42}, want: http.StatusBadGateway},
		{name: "status over 599 is 502", resp: events.APIGatewayProxyResponse{StatusCode: 600}, want: http.StatusBadGateway},
		{name: "handler error is 502", err: errors.New("boom"), want: http.StatusBadGateway},
		{name: "handler panic is 502", panics: true, want: http.StatusBadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := start(t, gateway.Options{Routes: map[string]gateway.Route{
				"$connect": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
					if tc.panics {
						panic("handler crashed")
					}
					return tc.resp, tc.err
				})},
			}}, "$disconnect")
			c, resp, err := g.tryDial("", nil)
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusSwitchingProtocols {
				if c != nil {
					t.Fatal("connected although $connect refused")
				}
				body, _ := io.ReadAll(resp.Body)
				if strings.Contains(string(body), "secret") {
					t.Fatalf("the $connect body reached the client: %q", body)
				}
				return
			}
			c.Close()
			g.events.waitFor(t, "$disconnect", 1)
		})
	}
}

func TestNoConnectRouteAcceptsEveryone(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$default")
	c := g.dial(t, "", nil)
	send(t, c, "hello")
	if ev := g.events.waitFor(t, "$default", 1)[0]; ev.Body != "hello" {
		t.Fatalf("body %q", ev.Body)
	}
}

func TestSubprotocolOnlyWhatConnectReturns(t *testing.T) {
	t.Parallel()
	var chosen atomic.Value
	chosen.Store("")
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$connect": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			resp := events.APIGatewayProxyResponse{StatusCode: 200}
			if p := chosen.Load().(string); p != "" {
				resp.Headers = map[string]string{"sec-websocket-protocol": p}
			}
			return resp, nil
		})},
	}})
	offer := http.Header{"Sec-WebSocket-Protocol": {"chat.v2, chat.v1"}}

	c, resp, err := g.tryDial("", offer)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "" {
		t.Fatalf("subprotocol %q accepted although $connect returned none", got)
	}

	chosen.Store("chat.v1")
	c, resp, err = g.tryDial("", offer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat.v1" || c.Subprotocol() != "chat.v1" {
		t.Fatalf("subprotocol %q / %q, want chat.v1", got, c.Subprotocol())
	}
}

// The subprotocol $connect chooses goes into the 101 only if it is one
// token (RFC 7230) that the client offered; anything else is a 502, and the
// $connect route, which accepted the connection, hears of its end.
func TestSubprotocolMustBeAnOfferedToken(t *testing.T) {
	t.Parallel()
	var chosen atomic.Value
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$connect": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Sec-WebSocket-Protocol": chosen.Load().(string)}}, nil
		})},
	}}, "$disconnect")
	offer := "Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n"
	for i, bad := range []string{
		"chat.v1\r\nSet-Cookie: session=evil",
		"chat.v1, chat.v2",
		"chat v1",
		"chat.v3",
		"CHAT.V1",
	} {
		chosen.Store(bad)
		_, _, resp := g.rawHandshake(t, offer)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("$connect chose %q: status %d, want 502", bad, resp.StatusCode)
		}
		if v := resp.Header.Get("Set-Cookie"); v != "" {
			t.Fatalf("$connect chose %q: the response carries Set-Cookie %q", bad, v)
		}
		if resp.Header.Get("Sec-WebSocket-Protocol") != "" {
			t.Fatalf("$connect chose %q: the response carries a subprotocol", bad)
		}
		evs := g.events.waitFor(t, "$disconnect", i+1)
		if code := evs[i].RequestContext.DisconnectStatusCode; code != 1006 {
			t.Fatalf("$disconnect code %d, want 1006", code)
		}
	}
	chosen.Store("chat.v1")
	_, _, resp := g.rawHandshake(t, offer)
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != "chat.v1" {
		t.Fatalf("offered token: status %d, subprotocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	// Offered in a header of its own.
	_, _, resp = g.rawHandshake(t, "Sec-WebSocket-Protocol: chat.v2\r\nSec-WebSocket-Protocol: chat.v1\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("offered in a second header: status %d", resp.StatusCode)
	}
}

// Without a connection to hijack (HTTP/2, a wrapping ResponseWriter) the
// upgrade is refused with 500 before the authorizer and $connect run.
func TestUpgradeWithoutHijackerIs500(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g := start(t, gateway.Options{Authorizer: &gateway.AuthorizerConfig{Authorizer: allowAuthorizer(&calls)}}, "$connect", "$disconnect")
	req := httptest.NewRequest(http.MethodGet, "/dev", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	rec := httptest.NewRecorder() // not an http.Hijacker
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if calls.Load() != 0 || len(g.events.of("$connect")) != 0 || len(g.events.of("$disconnect")) != 0 {
		t.Fatalf("authorizer calls %d, $connect %d, $disconnect %d: want none", calls.Load(), len(g.events.of("$connect")), len(g.events.of("$disconnect")))
	}
}

// allowAuthorizer allows principal "user-1" with a context of mixed types,
// unless the token is "deny" (policy Deny) or "bad" (Unauthorized).
func allowAuthorizer(calls *atomic.Int32) gateway.AuthorizerFunc {
	return func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		calls.Add(1)
		effect := "Allow"
		switch req.QueryStringParameters["token"] {
		case "bad":
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		case "deny":
			effect = "Deny"
		case "crash":
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("database down")
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "user-1",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{req.MethodArn},
			}}},
			Context: map[string]any{"tenantId": "acme", "count": 123, "admin": true, "ratio": 1.5},
		}, nil
	}
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g := start(t, gateway.Options{Authorizer: &gateway.AuthorizerConfig{
		Authorizer:      allowAuthorizer(&calls),
		IdentitySources: []string{"route.request.querystring.token"},
	}}, "$connect", "$default", "$disconnect")

	for _, tc := range []struct {
		query     string
		want      int
		wantCalls int32
	}{
		{"", 401, 0},
		{"token=", 401, 0},
		{"other=x", 401, 0},
		{"token=bad", 401, 1},
		{"token=deny", 403, 2},
		{"token=crash", 500, 3},
	} {
		_, resp, err := g.tryDial(tc.query, nil)
		if err == nil || resp == nil || resp.StatusCode != tc.want {
			t.Fatalf("query %q: status %v err %v, want %d", tc.query, resp, err, tc.want)
		}
		if calls.Load() != tc.wantCalls {
			t.Fatalf("query %q: authorizer called %d times in all, want %d", tc.query, calls.Load(), tc.wantCalls)
		}
	}
	if n := len(g.events.of("$connect")); n != 0 {
		t.Fatalf("$connect ran %d times for refused connections", n)
	}

	c := g.dial(t, "token=good", nil)
	send(t, c, "hi")
	g.events.waitFor(t, "$default", 1)
	c.Close()
	g.events.waitFor(t, "$disconnect", 1)
	want := map[string]any{"principalId": "user-1", "tenantId": "acme", "count": "123", "admin": "true", "ratio": "1.5"}
	for _, key := range []string{"$connect", "$default", "$disconnect"} {
		got, _ := g.events.of(key)[0].RequestContext.Authorizer.(map[string]any)
		if len(got) != len(want) {
			t.Fatalf("%s authorizer context %v, want %v", key, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s authorizer[%q] = %#v, want %#v", key, k, got[k], v)
			}
		}
	}
}

func TestAuthorizerHeaderIdentitySource(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g := start(t, gateway.Options{Authorizer: &gateway.AuthorizerConfig{
		Authorizer:      allowAuthorizer(&calls),
		IdentitySources: []string{"route.request.header.Authorization"},
	}}, "$connect")
	if _, resp, _ := g.tryDial("token=x", nil); resp == nil || resp.StatusCode != 401 {
		t.Fatalf("missing header: %v, want 401", resp)
	}
	if calls.Load() != 0 {
		t.Fatal("authorizer called without its identity source")
	}
	g.dial(t, "", http.Header{"authorization": {"Bearer x"}})
	if calls.Load() != 1 {
		t.Fatalf("authorizer calls %d, want 1", calls.Load())
	}
}

func TestAuthorizerReceivesWebSocketRequest(t *testing.T) {
	t.Parallel()
	got := make(chan gateway.AuthorizerRequest, 1)
	g := start(t, gateway.Options{Authorizer: &gateway.AuthorizerConfig{
		Authorizer: authorizerFunc(func(req gateway.AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			got <- req
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "p", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:*"}, Effect: "Allow", Resource: []string{"arn:aws:execute-api:*:*:*/dev/*"}}},
			}}, nil
		}),
	}, APIID: "abc123", Region: "eu-west-1", AccountID: "123456789012"}, "$connect")
	g.dial(t, "token=t1&token=t2", http.Header{"X-Custom": {"v"}})
	req := <-got
	connectEv := g.events.waitFor(t, "$connect", 1)[0]
	if req.Type != "REQUEST" || req.MethodArn != "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/$connect" {
		t.Fatalf("type %q methodArn %q", req.Type, req.MethodArn)
	}
	if req.QueryStringParameters["token"] != "t2" || strings.Join(req.MultiValueQueryStringParameters["token"], ",") != "t1,t2" {
		t.Fatalf("query %v / %v", req.QueryStringParameters, req.MultiValueQueryStringParameters)
	}
	if req.Headers["X-Custom"] != "v" || req.RequestContext.EventType != "CONNECT" || req.RequestContext.ConnectionID != connectEv.RequestContext.ConnectionID {
		t.Fatalf("authorizer request %+v", req)
	}
}

// Every event gets its own copy of the authorizer context: a handler that
// modifies the map it got does not change what later events carry.
func TestAuthorizerContextIsCopiedPerEvent(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var mu sync.Mutex
	var seen []string
	g := start(t, gateway.Options{
		Authorizer: &gateway.AuthorizerConfig{Authorizer: allowAuthorizer(&calls)},
		Routes: map[string]gateway.Route{
			"$default": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				m := ev.RequestContext.Authorizer.(map[string]any)
				mu.Lock()
				seen = append(seen, m["tenantId"].(string))
				mu.Unlock()
				m["tenantId"] = "changed by a handler"
				return events.APIGatewayProxyResponse{}, nil
			})},
		},
	})
	c := g.dial(t, "token=t", nil)
	send(t, c, "one")
	send(t, c, "two")
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 2 }, "two messages")
	if seen[0] != "acme" || seen[1] != "acme" {
		t.Fatalf("tenantId on the messages: %q, want acme both times", seen)
	}
}

// A connect rate below one per second still admits a connection: the bucket
// holds at least one token.
func TestConnectRateBelowOnePerSecond(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{ConnectRate: 0.5}}, "$connect")
	c, resp, err := g.tryDial("", nil)
	if err != nil {
		t.Fatalf("first connection at 0.5/s: %v (%v)", err, resp)
	}
	c.Close()
	if _, resp, err := g.tryDial("", nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second connection at once: %v %v, want 429", resp, err)
	}
}

type authorizerFunc func(gateway.AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error)

func (f authorizerFunc) Authorize(_ context.Context, req gateway.AuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return f(req)
}

func TestConnectRateLimit(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{ConnectRate: 3}}, "$connect")
	refused := 0
	for i := 0; i < 6; i++ {
		c, resp, err := g.tryDial("", nil)
		if err == nil {
			c.Close()
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("dial %d: %v %v, want 429", i, resp, err)
		}
		if resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("dial %d: 429 with Retry-After %q, want 1", i, resp.Header.Get("Retry-After"))
		}
		refused++
	}
	// A bucket of 3 refills at 3/s: at least two of six quick dials are refused.
	if refused < 2 {
		t.Fatalf("%d of 6 refused, want at least 2", refused)
	}
	if n := len(g.events.of("$connect")); n != 6-refused {
		t.Fatalf("$connect ran %d times for %d accepted connections", n, 6-refused)
	}
}
