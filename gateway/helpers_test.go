package gateway_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// testGateway is a gateway served on a loopback port.
type testGateway struct {
	*gateway.Server
	http   *httptest.Server
	wsURL  string // ws://127.0.0.1:PORT/dev
	stage  string
	events *recorder
}

// recorder is an integration that records every event it gets, per route,
// and answers with respond (or 200 and no body).
type recorder struct {
	mu      sync.Mutex
	events  []events.APIGatewayWebsocketProxyRequest
	notify  chan struct{}
	respond func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) Invoke(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	respond := r.respond
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	if respond != nil {
		return respond(ev)
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// of returns the recorded events of one route key.
func (r *recorder) of(routeKey string) []events.APIGatewayWebsocketProxyRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.APIGatewayWebsocketProxyRequest
	for _, ev := range r.events {
		if ev.RequestContext.RouteKey == routeKey {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits until n events of routeKey were recorded and returns them.
func (r *recorder) waitFor(t *testing.T, routeKey string, n int) []events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	var evs []events.APIGatewayWebsocketProxyRequest
	testutil.Eventually(t, 5*time.Second, func() bool {
		evs = r.of(routeKey)
		return len(evs) >= n
	}, "%d %s events", n, routeKey)
	return evs
}

// start serves a gateway built from opts. Every route of opts without an
// integration, and $connect, $disconnect and $default when listed in
// recorded, gets the shared recorder.
func start(t *testing.T, opts gateway.Options, recorded ...string) *testGateway {
	t.Helper()
	rec := newRecorder()
	if opts.Stage == "" {
		opts.Stage = "dev"
	}
	if opts.Routes == nil {
		opts.Routes = map[string]gateway.Route{}
	}
	for _, key := range recorded {
		r := opts.Routes[key]
		r.Integration = rec
		opts.Routes[key] = r
	}
	if opts.Logger == nil {
		opts.Logger = testutil.DiscardLogger()
	}
	srv, err := gateway.New(opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	tg := &testGateway{Server: srv, http: hs, stage: opts.Stage, events: rec,
		wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/" + opts.Stage}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return tg
}

// dial connects a real WebSocket client; it fails the test on error.
func (g *testGateway) dial(t *testing.T, query string, header http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := g.tryDial(query, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (g *testGateway) tryDial(query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	u := g.wsURL
	if query != "" {
		u += "?" + query
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(u, header)
}

// management returns an SDK client for the management API.
func (g *testGateway) management(accessKey, secret string) *apigatewaymanagementapi.Client {
	opts := apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(g.http.URL + "/" + g.stage),
		Region:       "us-east-1",
	}
	if accessKey != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(accessKey, secret, "")
	} else {
		opts.Credentials = aws.AnonymousCredentials{}
	}
	return apigatewaymanagementapi.New(opts)
}

// readText reads one text message.
func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("got message type %d, want text", typ)
	}
	return string(p)
}

// readClose reads until the connection closes and returns the close frame.
func readClose(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// connID returns the connection id of the n-th recorded $connect.
func (g *testGateway) connID(t *testing.T, n int) string {
	t.Helper()
	evs := g.events.waitFor(t, "$connect", n+1)
	return evs[n].RequestContext.ConnectionID
}

func fn(f func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)) gateway.HandlerFunc {
	return func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return f(ev)
	}
}

// rawHandshake sends a WebSocket upgrade request by hand, with extra header
// lines ("Name: value\r\n" each), and reads the response. The reader
// returned holds whatever the gateway sent after the response.
func (g *testGateway) rawHandshake(t *testing.T, extra string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	u, err := url.Parse(g.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n", g.stage, u.Host, extra)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	nc.SetReadDeadline(time.Time{})
	return nc, br, resp
}

// rawDial completes a handshake by hand, for tests that send or expect
// exact bytes.
func (g *testGateway) rawDial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, br, resp := g.rawHandshake(t, "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: status %d", resp.StatusCode)
	}
	return nc, br
}

// readServerFrame reads one (unmasked) frame the gateway sent.
func readServerFrame(r io.Reader) (op wsproto.Opcode, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return wsproto.Opcode(h[0] & 0x0f), payload, nil
}

// closeCode is the status code of a close frame's payload (1005 if none).
func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(payload))
}
