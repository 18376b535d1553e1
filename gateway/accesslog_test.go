package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// logRecorder keeps the JSON log lines a logger writes.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the records whose msg is msg.
func (l *logRecorder) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.text()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitLine waits for a record of msg that match accepts.
func (l *logRecorder) waitLine(t *testing.T, msg string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	testutil.Eventually(t, 5*time.Second, func() bool {
		for _, m := range l.lines(t, msg) {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	}, "a %q log line", msg)
	return found
}

func newLogRecorder(level slog.Level) (*logRecorder, *slog.Logger) {
	rec := &logRecorder{}
	return rec, slog.New(slog.NewJSONHandler(rec, &slog.HandlerOptions{Level: level}))
}

// The secrets of the access-log tests: none may appear in a log line.
const (
	secretToken  = "tok-s3cr3t-9f2a"
	secretHeader = "hdr-s3cr3t-77b1"
	secretSig    = "sig-s3cr3t-0c4d"
)

func echoHandler(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.RequestID}, nil
}

func boomHandler(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{}, errors.New("boom failed")
}

func slowHandler(ctx context.Context, _ events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	<-ctx.Done()
	return events.APIGatewayProxyResponse{}, ctx.Err()
}

func okHandler(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// startObserved serves a gateway with an authorizer (token=secretToken is
// allowed, any other token is refused with 401, token=deny with 403),
// $connect, $disconnect and the routes echo (two-way), boom (fails) and
// slow (times out), logging JSON at level.
func startObserved(t *testing.T, level slog.Level, al gateway.AccessLog) (*testGateway, *logRecorder) {
	t.Helper()
	rec, log := newLogRecorder(level)
	auth := gateway.AuthorizerFunc(func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		switch req.QueryStringParameters["token"] {
		case secretToken:
			return allowPolicy(req.MethodArn), nil
		case "deny":
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u"}, nil
		}
		return events.APIGatewayCustomAuthorizerResponse{}, gateway.ErrUnauthorized
	})
	g := start(t, gateway.Options{
		RouteSelectionExpression: "$request.body.action",
		Authorizer:               &gateway.AuthorizerConfig{Authorizer: auth, IdentitySources: []string{"route.request.querystring.token"}},
		Routes: map[string]gateway.Route{
			"$connect":    {Integration: gateway.HandlerFunc(okHandler)},
			"$disconnect": {Integration: gateway.HandlerFunc(okHandler)},
			"echo":        {Integration: gateway.HandlerFunc(echoHandler), RouteResponse: true},
			"boom":        {Integration: gateway.HandlerFunc(boomHandler)},
			"slow":        {Integration: gateway.HandlerFunc(slowHandler)},
		},
		Limits:    gateway.Limits{IntegrationTimeout: 200 * time.Millisecond},
		Logger:    log,
		AccessLog: al,
	})
	return g, rec
}

func allowPolicy(arn string) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
		Version:   "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{arn}}},
	}}
}

// dialStatus dials and returns the handshake's status.
func (g *testGateway) dialStatus(t *testing.T, query string) int {
	t.Helper()
	c, resp, err := g.tryDial(query, nil)
	if err == nil {
		c.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", query, err)
	}
	return resp.StatusCode
}

// TestAccessLogLines: one line per connect (accepted or refused), routed
// message and disconnect, with their fields; the message line's request id
// is the one the handler saw; no token or secret appears in any line.
func TestAccessLogLines(t *testing.T) {
	t.Parallel()
	g, rec := startObserved(t, slog.LevelInfo, gateway.AccessLog{})
	header := http.Header{"Authorization": {"Bearer " + secretHeader}}
	c := g.dial(t, "token="+secretToken+"&room=lobby&X-Amz-Signature="+secretSig, header)

	connect := rec.waitLine(t, "connect", func(m map[string]any) bool { return m["status"] == 101.0 })
	connID, _ := connect["connectionId"].(string)
	if connect["level"] != "INFO" || len(connID) != 16 || connect["sourceIp"] != "127.0.0.1" ||
		connect["authorizer"] == nil || connect["connectRoute"] == nil || connect["duration"] == nil {
		t.Errorf("connect line: %v", connect)
	}
	if p := connect["path"]; p != "/dev?token=REDACTED&room=lobby&X-Amz-Signature=REDACTED" {
		t.Errorf("connect line's path = %q", p)
	}

	send(t, c, `{"action":"echo"}`)
	handlerReqID := readText(t, c)
	msg := rec.waitLine(t, "message", func(m map[string]any) bool { return m["route"] == "echo" })
	if msg["level"] != "INFO" || msg["connectionId"] != connID || msg["requestId"] != handlerReqID ||
		msg["integration"] != "go" || msg["function"] != "gateway_test.echoHandler" ||
		msg["outcome"] != "ok" || msg["status"] != 200.0 || msg["duration"] == nil {
		t.Errorf("message line: %v (the handler saw requestId %q)", msg, handlerReqID)
	}

	send(t, c, `{"action":"boom"}`)
	readText(t, c) // Internal server error
	boom := rec.waitLine(t, "message", func(m map[string]any) bool { return m["route"] == "boom" })
	if boom["level"] != "WARN" || boom["outcome"] != "error" || boom["err"] != "boom failed" || boom["function"] != "gateway_test.boomHandler" {
		t.Errorf("failed message line: %v", boom)
	}

	if s := g.dialStatus(t, "token=wrong-"+secretToken); s != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", s)
	}
	refused := rec.waitLine(t, "connect", func(m map[string]any) bool { return m["status"] == 401.0 })
	if refused["reason"] == nil || refused["connectRoute"] != nil || refused["path"] != "/dev?token=REDACTED" {
		t.Errorf("refused connect line: %v", refused)
	}

	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye now"))
	readClose(t, c)
	bye := rec.waitLine(t, "disconnect", func(m map[string]any) bool { return m["connectionId"] == connID })
	if bye["level"] != "INFO" || bye["code"] != 4001.0 || bye["reason"] != "bye now" || bye["connected"] == nil {
		t.Errorf("disconnect line: %v", bye)
	}

	all := rec.text()
	for _, secret := range []string{secretToken, secretHeader, secretSig} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds the secret %q:\n%s", secret, all)
		}
	}
}

// TestAccessLogLevels: --access-log connections keeps the message lines out
// of an Info log but not the connect and disconnect lines; off removes them
// all, and a failure is still logged.
func TestAccessLogLevels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		al               gateway.AccessLog
		connect, message bool
	}{
		{"connections", gateway.AccessLog{MessageLevel: slog.LevelDebug}, true, false},
		{"off", gateway.AccessLog{Off: true}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, rec := startObserved(t, slog.LevelInfo, tc.al)
			c := g.dial(t, "token="+secretToken, nil)
			send(t, c, `{"action":"echo"}`)
			readText(t, c)
			send(t, c, `{"action":"boom"}`)
			readText(t, c)
			rec.waitLine(t, "message", func(m map[string]any) bool { return m["route"] == "boom" && m["level"] == "WARN" })
			c.Close()
			if tc.connect {
				rec.waitLine(t, "connect", func(m map[string]any) bool { return m["status"] == 101.0 })
			}
			if got := len(rec.lines(t, "message")); got != 1 {
				t.Errorf("%d message lines, want only the failure's", got)
			}
			if got := len(rec.lines(t, "connect")) > 0; got != tc.connect {
				t.Errorf("connect line written: %v, want %v", got, tc.connect)
			}
		})
	}
}

// TestRouteMetrics: after a known sequence of connects and messages over
// real WebSocket clients, the per-route counters and histograms and the
// refused handshakes have the values that sequence gives.
func TestRouteMetrics(t *testing.T) {
	t.Parallel()
	g, _ := startObserved(t, slog.LevelError, gateway.AccessLog{})
	h := g.WithMetrics()
	for _, q := range []string{"token=wrong", "", "token=deny"} {
		g.dialStatus(t, q)
	}
	c := g.dial(t, "token="+secretToken, nil)
	for range 2 {
		send(t, c, `{"action":"echo"}`)
		readText(t, c)
	}
	for _, action := range []string{"boom", "slow", "nope"} {
		send(t, c, fmt.Sprintf(`{"action":%q}`, action))
		readText(t, c) // Internal server error, the timeout, Forbidden
	}
	c.Close()
	var m map[string]float64
	label := func(route, function string) string {
		return fmt.Sprintf(`{route=%q,integration="go",function=%q}`, route, "gateway_test."+function)
	}
	disc := "switchboard_route_invocations_total" + label("$disconnect", "okHandler")
	testutil.Eventually(t, 5*time.Second, func() bool {
		m = scrape(t, h)
		return m[disc] == 1
	}, "$disconnect counted")
	want := map[string]float64{
		"switchboard_route_invocations_total" + label("$connect", "okHandler"):                                            1,
		"switchboard_route_invocations_total" + label("echo", "echoHandler"):                                              2,
		"switchboard_route_errors_total" + label("echo", "echoHandler"):                                                   0,
		"switchboard_route_invocations_total" + label("boom", "boomHandler"):                                              1,
		"switchboard_route_errors_total" + label("boom", "boomHandler"):                                                   1,
		"switchboard_route_timeouts_total" + label("slow", "slowHandler"):                                                 1,
		"switchboard_route_errors_total" + label("slow", "slowHandler"):                                                   0,
		"switchboard_route_duration_seconds_count" + label("echo", "echoHandler"):                                         2,
		strings.TrimSuffix("switchboard_route_duration_seconds_bucket"+label("echo", "echoHandler"), "}") + `,le="+Inf"}`: 2,
		// The timeout (200 ms) is above the 0.1 s bound.
		strings.TrimSuffix("switchboard_route_duration_seconds_bucket"+label("slow", "slowHandler"), "}") + `,le="0.1"}`: 0,
		`switchboard_messages_unrouted_total`:                1,
		`switchboard_handshakes_refused_total{status="401"}`: 2,
		`switchboard_handshakes_refused_total{status="403"}`: 1,
		`switchboard_handshakes_refused_total{status="429"}`: 0,
		`switchboard_handshakes_refused_total{status="503"}`: 0,
	}
	for name, v := range want {
		if got, ok := m[name]; !ok || got != v {
			t.Errorf("%s = %v (served: %v), want %v", name, got, ok, v)
		}
	}
	if s := m["switchboard_route_duration_seconds_sum"+label("slow", "slowHandler")]; s < 0.2 {
		t.Errorf("slow route's latency sum %v s, want at least its 0.2 s timeout", s)
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                               "",
		"room=lobby":                     "room=lobby",
		"token=abc&room=1":               "token=REDACTED&room=1",
		"access_token=a&Authorization=b": "access_token=REDACTED&Authorization=REDACTED",
		"X-Amz-Credential=AKIA%2F&X-Amz-Security-Token=t&X-Amz-Date=20260101": "X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Date=20260101",
		"api_key=k&key=v&flag":   "api_key=REDACTED&key=REDACTED&flag",
		"%zz=secret&password=pw": "REDACTED&password=REDACTED",
	} {
		if got := gateway.RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
