package inspector_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
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

const (
	secretToken    = "tok-s3cr3t-value"
	secretBearer   = "Bearer b34r3r-s3cr3t"
	secretProtocol = "pr0t0c0l-s3cr3t"
)

// harness is a gateway with an authorizer (token=secretToken), an echo
// route (two-way), a failing route, and the inspector mounted, served on
// loopback.
type harness struct {
	gw   *gateway.Server
	http *httptest.Server
	ws   string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessServed(t, func(h http.Handler) *httptest.Server { return httptest.NewServer(h) })
}

// newHarnessServed is newHarness with the HTTP server serve makes.
func newHarnessServed(t *testing.T, serve func(http.Handler) *httptest.Server) *harness {
	t.Helper()
	auth := gateway.AuthorizerFunc(func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		if req.QueryStringParameters["token"] != secretToken {
			return events.APIGatewayCustomAuthorizerResponse{}, gateway.ErrUnauthorized
		}
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "alice",
			Context: map[string]any{"userId": "alice", "tenantId": "acme"},
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn}}}}}, nil
	})
	ok := gateway.HandlerFunc(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp := events.APIGatewayProxyResponse{StatusCode: 200, Body: `{"echo":` + ev.Body + `}`}
		if p := ev.Headers["Sec-WebSocket-Protocol"]; p != "" {
			resp.Headers = map[string]string{"Sec-WebSocket-Protocol": strings.Split(p, ",")[0]}
		}
		return resp, nil
	})
	boom := gateway.HandlerFunc(func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, io.ErrUnexpectedEOF
	})
	gw, err := gateway.New(gateway.Options{
		Stage:      "dev",
		Authorizer: &gateway.AuthorizerConfig{Authorizer: auth, IdentitySources: []string{"route.request.querystring.token"}},
		Routes: map[string]gateway.Route{
			"$connect": {Integration: ok},
			"echo":     {Integration: ok, RouteResponse: true},
			"boom":     {Integration: boom},
		},
		Annotate: func(_ context.Context, id string) map[string]string { return map[string]string{"rooms": "general"} },
		Logger:   testutil.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := serve(inspector.Mount(gw, gw))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		hs.Close()
	})
	return &harness{gw: gw, http: hs, ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/dev"}
}

func (h *harness) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	hdr := http.Header{"Authorization": {secretBearer}, "Sec-WebSocket-Protocol": {secretProtocol}}
	c, _, err := websocket.DefaultDialer.Dial(h.ws+"?token="+secretToken+"&room=general", hdr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) do(t *testing.T, method, path, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// stream opens the event stream and returns its events as they come.
func (h *harness) stream(t *testing.T) <-chan gateway.InspectEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+inspector.Path+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET api/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan gateway.InspectEvent, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e gateway.InspectEvent
			if json.Unmarshal([]byte(line), &e) == nil && e.Kind != "" {
				ch <- e
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	// The headers came after the subscription was made.
	return ch
}

// next returns the first event from ch that matches, failing after 5 s.
func next(t *testing.T, ch <-chan gateway.InspectEvent, what string, match func(gateway.InspectEvent) bool) gateway.InspectEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s in the stream", what)
		}
	}
}
