package gateway_test

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func TestRouteSelection(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{
		RouteSelectionExpression: "${request.body.service}/${request.body.action}",
		Routes:                   map[string]gateway.Route{"chat/join": {}, "chat/": {}, "x/1": {}, "x/true": {}},
	}, "chat/join", "chat/", "x/1", "x/true", "$default")
	c := g.dial(t, "", nil)
	for _, tc := range []struct{ body, route string }{
		{`{"service":"chat","action":"join"}`, "chat/join"},
		{`{"service":"chat"}`, "chat/"},
		{`{"service":"x","action":1}`, "x/1"},
		{`{"service":"x","action":true}`, "x/true"},
		{`{"service":"chat","action":"leave"}`, "$default"},
		{`not json`, "$default"},
		{`{"service":"chat","action":"join"`, "$default"},
	} {
		before := len(g.events.of(tc.route))
		send(t, c, tc.body)
		evs := g.events.waitFor(t, tc.route, before+1)
		if got := evs[len(evs)-1].Body; got != tc.body {
			t.Fatalf("route %s got body %q, want %q", tc.route, got, tc.body)
		}
	}
}

func TestNestedSelectionAndDollarKeys(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{
		RouteSelectionExpression: "$request.body.meta.kind",
		Routes:                   map[string]gateway.Route{"ping": {}},
	}, "ping", "$default", "$connect", "$disconnect")
	c := g.dial(t, "", nil)
	send(t, c, `{"meta":{"kind":"ping"}}`)
	g.events.waitFor(t, "ping", 1)
	// A message naming a $ route never reaches $connect or $disconnect.
	send(t, c, `{"meta":{"kind":"$disconnect"}}`)
	send(t, c, `{"meta":{"kind":"$connect"}}`)
	g.events.waitFor(t, "$default", 2)
	if n := len(g.events.of("$disconnect")); n != 0 {
		t.Fatalf("$disconnect ran %d times", n)
	}
	if n := len(g.events.of("$connect")); n != 1 {
		t.Fatalf("$connect ran %d times", n)
	}
}

var forbiddenFrame = regexp.MustCompile(`^\{"message": "Forbidden", "connectionId":"([A-Za-z0-9_-]{15}=)", "requestId":"([A-Za-z0-9_-]{15}=)"\}$`)

func TestNoRouteNoDefaultIsForbiddenFrame(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{"sendmessage": {}}}, "$connect", "sendmessage")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	for _, body := range []string{`{"action":"nope"}`, `plain text`, `{}`} {
		send(t, c, body)
		frame := readText(t, c)
		m := forbiddenFrame.FindStringSubmatch(frame)
		if m == nil {
			t.Fatalf("frame %q is not the Forbidden frame", frame)
		}
		if m[1] != id {
			t.Fatalf("Forbidden frame names connection %s, want %s", m[1], id)
		}
	}
	send(t, c, `{"action":"sendmessage"}`)
	g.events.waitFor(t, "sendmessage", 1)
}

func TestIntegrationErrorsGiveGatewayFrames(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{
		Routes: map[string]gateway.Route{
			"fail": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				return events.APIGatewayProxyResponse{}, errors.New("boom")
			})},
			"crash": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) { panic("nil map") })},
			"slow": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				time.Sleep(2 * time.Second) // an integration slower than IntegrationTimeout: what is tested
				return events.APIGatewayProxyResponse{Body: "late"}, nil
			}), RouteResponse: true},
		},
		Limits: gateway.Limits{IntegrationTimeout: 100 * time.Millisecond},
	}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	for _, tc := range []struct{ action, message string }{
		{"fail", "Internal server error"},
		{"crash", "Internal server error"},
		{"slow", "Endpoint request timed out"},
	} {
		send(t, c, fmt.Sprintf(`{"action":%q}`, tc.action))
		frame := readText(t, c)
		want := regexp.MustCompile(fmt.Sprintf(`^\{"message": "%s", "connectionId":"%s", "requestId":"[A-Za-z0-9_-]{15}="\}$`, tc.message, regexp.QuoteMeta(id)))
		if !want.MatchString(frame) {
			t.Fatalf("%s: frame %q, want %s", tc.action, frame, want)
		}
	}
	// The connection still works after all three.
	send(t, c, `{"action":"nothing"}`)
	if frame := readText(t, c); !forbiddenFrame.MatchString(frame) {
		t.Fatalf("frame %q", frame)
	}
}

func TestRouteResponses(t *testing.T) {
	t.Parallel()
	echo := fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "echo:" + ev.Body}, nil
	})
	g := start(t, gateway.Options{Routes: map[string]gateway.Route{
		"twoway": {Integration: echo, RouteResponse: true},
		"oneway": {Integration: echo},
		"empty": {Integration: fn(func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}), RouteResponse: true},
	}})
	c := g.dial(t, "", nil)
	send(t, c, `{"action":"oneway"}`)
	send(t, c, `{"action":"empty"}`)
	send(t, c, `{"action":"twoway"}`)
	// Messages of one connection are dispatched in order, so the first
	// frame to arrive is the two-way route's: the others sent nothing.
	if got := readText(t, c); got != `echo:{"action":"twoway"}` {
		t.Fatalf("got %q", got)
	}
}

func TestMessageEventFields(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{APIID: "api123", DomainName: "example.test", StageVariables: map[string]string{"env": "test"}},
		"$connect", "$default", "$disconnect")
	c := g.dial(t, "a=1&b=2&b=3", http.Header{"User-Agent": {"switchboard-test/1.0"}})
	send(t, c, "one")
	send(t, c, "two")
	msgs := g.events.waitFor(t, "$default", 2)
	c.Close()
	disc := g.events.waitFor(t, "$disconnect", 1)[0]
	conn := g.events.of("$connect")[0]

	all := []events.APIGatewayWebsocketProxyRequest{conn, msgs[0], msgs[1], disc}
	wantTypes := []string{"CONNECT", "MESSAGE", "MESSAGE", "DISCONNECT"}
	seenReq := map[string]bool{}
	for i, ev := range all {
		rc := ev.RequestContext
		if rc.EventType != wantTypes[i] || rc.MessageDirection != "IN" || rc.Stage != "dev" || rc.APIID != "api123" || rc.DomainName != "example.test" {
			t.Fatalf("event %d: %+v", i, rc)
		}
		if rc.ConnectedAt != conn.RequestContext.ConnectedAt || rc.ConnectionID != conn.RequestContext.ConnectionID {
			t.Fatalf("event %d: connectedAt/connectionId differ from $connect's", i)
		}
		if rc.RequestID == "" || rc.RequestID != rc.ExtendedRequestID || seenReq[rc.RequestID] {
			t.Fatalf("event %d: requestId %q extendedRequestId %q (must be new per event and equal)", i, rc.RequestID, rc.ExtendedRequestID)
		}
		seenReq[rc.RequestID] = true
		parsed, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.RequestTime)
		if err != nil || rc.RequestTime[len(rc.RequestTime)-5:] != "+0000" {
			t.Fatalf("event %d: requestTime %q: %v", i, rc.RequestTime, err)
		}
		if d := time.UnixMilli(rc.RequestTimeEpoch).Sub(parsed); d < 0 || d >= time.Second {
			t.Fatalf("event %d: requestTimeEpoch %d and requestTime %q disagree", i, rc.RequestTimeEpoch, rc.RequestTime)
		}
		if rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "switchboard-test/1.0" {
			t.Fatalf("event %d: identity %+v", i, rc.Identity)
		}
		if ev.IsBase64Encoded {
			t.Fatalf("event %d: isBase64Encoded", i)
		}
		if ev.StageVariables["env"] != "test" {
			t.Fatalf("event %d: stage variables missing on %s", i, rc.EventType)
		}
		isMsg := rc.EventType == "MESSAGE"
		if (rc.MessageID != nil) != isMsg {
			t.Fatalf("event %d: messageId %v on %s", i, rc.MessageID, rc.EventType)
		}
		if isMsg {
			if id, _ := rc.MessageID.(string); !connIDPattern.MatchString(id) {
				t.Fatalf("messageId %v", rc.MessageID)
			}
			if ev.Headers != nil || ev.QueryStringParameters != nil || ev.MultiValueHeaders != nil {
				t.Fatalf("MESSAGE event carries headers or query: %+v", ev)
			}
		}
	}
	if msgs[0].Body != "one" || msgs[1].Body != "two" {
		t.Fatalf("bodies %q %q", msgs[0].Body, msgs[1].Body)
	}
	if msgs[0].RequestContext.MessageID == msgs[1].RequestContext.MessageID {
		t.Fatal("messageId repeated")
	}

	// CONNECT: handshake headers with Host and X-Forwarded-*, no Connection/Upgrade; the query.
	h := conn.Headers
	for _, k := range []string{"Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "User-Agent"} {
		if h[k] == "" || len(conn.MultiValueHeaders[k]) == 0 {
			t.Fatalf("CONNECT headers lack %s: %v", k, h)
		}
	}
	for _, k := range []string{"Connection", "Upgrade"} {
		if _, ok := h[k]; ok {
			t.Fatalf("CONNECT headers carry %s", k)
		}
	}
	if h["X-Forwarded-For"] != "127.0.0.1" || h["X-Forwarded-Proto"] != "http" {
		t.Fatalf("X-Forwarded headers %v", h)
	}
	if conn.QueryStringParameters["a"] != "1" || conn.QueryStringParameters["b"] != "3" || len(conn.MultiValueQueryStringParameters["b"]) != 2 {
		t.Fatalf("query %v / %v", conn.QueryStringParameters, conn.MultiValueQueryStringParameters)
	}
	// DISCONNECT: stub headers only, no query.
	if len(disc.Headers) != 4 || disc.Headers["Host"] != "example.test" || disc.QueryStringParameters != nil {
		t.Fatalf("DISCONNECT headers %v query %v", disc.Headers, disc.QueryStringParameters)
	}
	for _, k := range []string{"x-api-key", "X-Forwarded-For", "x-restapi"} {
		if v, ok := disc.Headers[k]; !ok || v != "" {
			t.Fatalf("DISCONNECT stub header %s = %q, %v", k, v, ok)
		}
	}
}

func TestConnectWithoutQueryHasNoQueryMaps(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	g.dial(t, "", nil)
	ev := g.events.waitFor(t, "$connect", 1)[0]
	if ev.QueryStringParameters != nil || ev.MultiValueQueryStringParameters != nil {
		t.Fatalf("query maps present without a query string: %v", ev.QueryStringParameters)
	}
	if ev.RequestContext.Authorizer != nil {
		t.Fatalf("authorizer context without an authorizer: %v", ev.RequestContext.Authorizer)
	}
}

// Without Options.DomainName, domainName is the local address the client
// reached (the listener's), never the Host header: the client chooses that,
// and handlers build their callback URL from domainName.
func TestDomainNameDefaultsToLocalAddress(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect", "$default", "$disconnect")
	c := g.dial(t, "", http.Header{"Host": {"attacker.example:80"}})
	send(t, c, "hi")
	g.events.waitFor(t, "$default", 1)
	c.Close()
	g.events.waitFor(t, "$disconnect", 1)
	want := g.http.Listener.Addr().String()
	for _, key := range []string{"$connect", "$default", "$disconnect"} {
		if got := g.events.of(key)[0].RequestContext.DomainName; got != want {
			t.Fatalf("%s domainName %q, want %q", key, got, want)
		}
	}
	if h := g.events.of("$connect")[0].Headers["Host"]; h != "attacker.example:80" {
		t.Fatalf("CONNECT Host header %q: the event still carries the client's Host", h)
	}
	if h := g.events.of("$disconnect")[0].Headers["Host"]; h != want {
		t.Fatalf("DISCONNECT Host header %q, want %q", h, want)
	}
}

// Stage variables reach every event, each event with its own copy.
func TestStageVariablesOnEveryEvent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	handler := fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		mu.Lock()
		seen = append(seen, ev.RequestContext.RouteKey+"="+ev.StageVariables["k"])
		mu.Unlock()
		if ev.StageVariables != nil {
			ev.StageVariables["k"] = "changed by a handler" // its own copy only
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	g := start(t, gateway.Options{StageVariables: map[string]string{"k": "v"}, Routes: map[string]gateway.Route{
		"$connect": {Integration: handler}, "$default": {Integration: handler}, "$disconnect": {Integration: handler},
	}})
	c := g.dial(t, "", nil)
	send(t, c, "one")
	send(t, c, "two")
	c.Close()
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 4 }, "4 events")
	g.dial(t, "", nil)
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 5 }, "the second $connect")
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(seen, " "), "$connect=v $default=v $default=v $disconnect=v $connect=v"; got != want {
		t.Fatalf("events saw %s, want %s", got, want)
	}
}
