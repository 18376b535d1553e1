package inspector_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/websocket"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/gateway/inspector"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// A refusal is served with the page's security headers too: it echoes the
// Host and Origin it refused, and must never be rendered, sniffed or
// framed.
func TestInspectorRefusalsCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, hdr := range []http.Header{
		{"Origin": {"http://evil.example"}},
		{"X-Forwarded-For": {"203.0.113.9"}},
	} {
		resp, _ := h.do(t, http.MethodGet, inspector.Path+"api/connections", "", hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%v: %d, want 403", hdr, resp.StatusCode)
		}
		if resp.Header.Get("Content-Security-Policy") != inspector.CSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
			resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%v: a refusal without the security headers: %v", hdr, resp.Header)
		}
	}
}

// A message is posted only with a Content-Type no web form can send: a page
// of an origin management.allowedOrigins lets through (or a browser that
// sends no Origin) cannot make the server post, since the inspector never
// answers the preflight a JSON or binary body needs.
func TestInspectorPostNeedsANonFormContentType(t *testing.T) {
	t.Parallel()
	gw, err := gateway.New(gateway.Options{Stage: "dev", AllowedOrigins: []string{"https://admin.example"}, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(inspector.Mount(gw, gw))
	t.Cleanup(func() { gw.Shutdown(context.Background()); hs.Close() })
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	list, _ := gw.InspectConnections(t.Context())
	if len(list) != 1 {
		t.Fatalf("%d connections", len(list))
	}
	url := hs.URL + inspector.Path + "api/connections/" + list[0].ID + "/messages"
	post := func(ct, origin, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "TEXT/PLAIN", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "not a type;;"} {
		for _, origin := range []string{"", "https://admin.example"} {
			if got := post(ct, origin, "forged"); got != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Type %q, Origin %q: %d, want 415", ct, origin, got)
			}
		}
	}
	for _, ct := range []string{"application/json", "application/octet-stream"} {
		if got := post(ct, "", `"`+ct+`"`); got != http.StatusOK {
			t.Fatalf("Content-Type %s: %d, want 200", ct, got)
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{`"application/json"`, `"application/octet-stream"`} {
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("the client read %q, %v; want %s (and no forged message)", got, err, want)
		}
	}
}

// The stream begins by naming the server process, so that a page that
// reconnects to a restarted server (whose events are numbered from 1
// again) does not take its events for ones it has seen.
func TestInspectorStreamNamesItsServer(t *testing.T) {
	t.Parallel()
	hello := func(h *harness) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+inspector.Path+"api/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() || sc.Text() != "event: hello" || !sc.Scan() {
			t.Fatalf("the stream begins with %q, want event: hello", sc.Text())
		}
		var d struct{ Server string }
		line, _ := strings.CutPrefix(sc.Text(), "data: ")
		if err := json.Unmarshal([]byte(line), &d); err != nil || d.Server == "" {
			t.Fatalf("hello %q: want {\"server\": id}", sc.Text())
		}
		return d.Server
	}
	a, b := newHarness(t), newHarness(t)
	first := hello(a)
	if again := hello(a); again != first {
		t.Errorf("one server, two names: %s, %s", first, again)
	}
	if other := hello(b); other == first {
		t.Errorf("two servers named alike: %s", first)
	}
}

// An integration's error can be megabytes (a function's errorMessage): the
// event in the ring and the stream carries its start only, and the kept
// invocation a bounded part.
func TestInspectorBoundsErrors(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	fail := gateway.HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New(huge)
	})
	gw, err := gateway.New(gateway.Options{Stage: "dev", Routes: map[string]gateway.Route{"$default": {Integration: fail}}, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(inspector.Mount(gw, gw))
	t.Cleanup(func() { gw.Shutdown(context.Background()); hs.Close() })
	h := &harness{gw: gw, http: hs, ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"}
	ch := h.stream(t)
	c, _, err := websocket.DefaultDialer.Dial(h.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	inv := next(t, ch, "the failed invocation", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindInvocation })
	if len(inv.Error) > gateway.DefaultInspectErrorBytes+len("…") || !strings.HasPrefix(inv.Error, "éé") || !strings.HasSuffix(inv.Error, "…") {
		t.Errorf("the event's error is %d bytes, want at most %d, cut with …", len(inv.Error), gateway.DefaultInspectErrorBytes)
	}
	kept, ok := gw.Invocation(inv.Invocation)
	if !ok || len(kept.Error) > gateway.DefaultInspectJSONBytes+len("…") {
		t.Errorf("the kept invocation's error is %d bytes, want at most %d", len(kept.Error), gateway.DefaultInspectJSONBytes)
	}
}

// Credentials an application passed where the inspector shows them are
// redacted: an authorizer context's token (the connection's identity, and
// requestContext.authorizer of each event) and a secret stage variable.
func TestInspectorRedactsIdentityAndStageVariables(t *testing.T) {
	t.Parallel()
	const ctxSecret, stageSecret = "ctx-s3cr3t", "stage-s3cr3t"
	auth := gateway.AuthorizerFunc(func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "alice",
			Context: map[string]any{"userId": "alice", "accessToken": ctxSecret},
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn}}}}}, nil
	})
	ok := gateway.HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	gw, err := gateway.New(gateway.Options{Stage: "dev", Logger: testutil.DiscardLogger(),
		Authorizer:     &gateway.AuthorizerConfig{Authorizer: auth},
		StageVariables: map[string]string{"apiKey": stageSecret, "table": "rooms"},
		Routes:         map[string]gateway.Route{"$connect": {Integration: ok}, "$default": {Integration: ok}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(inspector.Mount(gw, gw))
	t.Cleanup(func() { gw.Shutdown(context.Background()); hs.Close() })
	h := &harness{gw: gw, http: hs, ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"}
	ch := h.stream(t)
	c, _, err := websocket.DefaultDialer.Dial(h.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	conn := next(t, ch, "the connect", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindConnect })
	inv := next(t, ch, "the invocation", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindInvocation })
	for _, path := range []string{"api/connections", fmt.Sprintf("api/invocations/%d", conn.Invocation), fmt.Sprintf("api/invocations/%d", inv.Invocation)} {
		resp, body := h.do(t, http.MethodGet, inspector.Path+path, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"userId":"alice"`) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if strings.Contains(body, ctxSecret) || strings.Contains(body, stageSecret) || !strings.Contains(body, `"accessToken":"REDACTED"`) {
			t.Errorf("%s shows a credential: %s", path, body)
		}
	}
}

// A client that closes without a code (a browser's ws.close() sends no
// status: 1005) closed normally: its disconnect is no error.
func TestInspectorCloseWithoutCodeIsNoError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ch := h.stream(t)
	c := h.dial(t)
	c.WriteControl(websocket.CloseMessage, nil, time.Now().Add(5*time.Second))
	d := next(t, ch, "the disconnect", func(e gateway.InspectEvent) bool { return e.Kind == gateway.EventKindDisconnect })
	if d.Code != 1005 || d.Failed() {
		t.Errorf("disconnect %+v (failed %v): want 1005, not failed", d, d.Failed())
	}
}
