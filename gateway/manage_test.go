package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/sigv4"
)

func postInput(id, data string) *apigatewaymanagementapi.PostToConnectionInput {
	return &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(data)}
}

func TestManagementPostGetDelete(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect", "$disconnect", "$default")
	c := g.dial(t, "", http.Header{"User-Agent": {"ua-test"}})
	id := g.connID(t, 0)
	mgmt := g.management("", "")
	ctx := context.Background()

	if _, err := mgmt.PostToConnection(ctx, postInput(id, `{"hello":"world"}`)); err != nil {
		t.Fatalf("post: %v", err)
	}
	if got := readText(t, c); got != `{"hello":"world"}` {
		t.Fatalf("received %q", got)
	}

	before := time.Now().Add(-time.Second)
	send(t, c, "activity")
	g.events.waitFor(t, "$default", 1)
	info, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	connectedAt := g.events.of("$connect")[0].RequestContext.ConnectedAt
	if info.ConnectedAt == nil || info.ConnectedAt.UnixMilli() != connectedAt {
		t.Fatalf("connectedAt %v, want %d", info.ConnectedAt, connectedAt)
	}
	if info.LastActiveAt == nil || info.LastActiveAt.Before(before) {
		t.Fatalf("lastActiveAt %v", info.LastActiveAt)
	}
	if info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || aws.ToString(info.Identity.UserAgent) != "ua-test" {
		t.Fatalf("identity %+v", info.Identity)
	}

	if _, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if ce := readClose(t, c); ce.Code != 1000 {
		t.Fatalf("client got close %d, want 1000", ce.Code)
	}
	code, reason := g.disconnectOf(t, id)
	if code != 1000 || reason != "Connection Closed Normally" {
		t.Fatalf("$disconnect %d %q", code, reason)
	}
	// Gone from now on, for every verb.
	var gone *types.GoneException
	if _, err := mgmt.PostToConnection(ctx, postInput(id, "x")); !errors.As(err, &gone) {
		t.Fatalf("post after delete: %v, want GoneException", err)
	}
	if _, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); !errors.As(err, &gone) {
		t.Fatalf("get after delete: %v, want GoneException", err)
	}
	if _, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); !errors.As(err, &gone) {
		t.Fatalf("delete after delete: %v, want GoneException", err)
	}
}

func TestManagementErrors(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Limits: gateway.Limits{MaxMessageBytes: 1000}}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	mgmt := g.management("", "")
	ctx := context.Background()

	var gone *types.GoneException
	if _, err := mgmt.PostToConnection(ctx, postInput("AAAAAAAAAAAAAAA=", "x")); !errors.As(err, &gone) {
		t.Fatalf("unknown id: %v, want GoneException", err)
	}
	var tooLarge *types.PayloadTooLargeException
	if _, err := mgmt.PostToConnection(ctx, postInput(id, strings.Repeat("x", 1001))); !errors.As(err, &tooLarge) {
		t.Fatalf("large payload: %v, want PayloadTooLargeException", err)
	}
	if _, err := mgmt.PostToConnection(ctx, postInput(id, strings.Repeat("y", 1000))); err != nil {
		t.Fatalf("payload at the limit: %v", err)
	}
	if got := readText(t, c); got != strings.Repeat("y", 1000) {
		t.Fatalf("received %d bytes", len(got))
	}
	for _, bad := range []string{"short", "not-a-valid-id!!", "AAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA=x"} {
		_, err := mgmt.PostToConnection(ctx, postInput(bad, "x"))
		var apiErr interface{ ErrorCode() string }
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "BadRequestException" || !strings.Contains(err.Error(), "Invalid connectionId: "+bad) {
			t.Fatalf("malformed id %q: %v", bad, err)
		}
	}
}

func TestManagementRawPaths(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	escaped := strings.ReplaceAll(id, "=", "%3D")
	for i, path := range []string{
		"/dev/@connections/" + id,
		"/dev/%40connections/" + id,
		"/dev/%40connections/" + escaped,
		"/dev/@connections/" + escaped,
	} {
		body := "via " + path
		resp, err := http.Post(g.http.URL+path, "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s: status %d", i, path, resp.StatusCode)
		}
		if got := readText(t, c); got != body {
			t.Fatalf("got %q", got)
		}
	}
	// A raw 410 carries the error type header SDKs need.
	resp, err := http.Post(g.http.URL+"/dev/@connections/AAAAAAAAAAAAAAA=", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 410 || resp.Header.Get("x-amzn-ErrorType") != "GoneException" {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
	// Another stage is not this API.
	resp, err = http.Post(g.http.URL+"/prod/@connections/"+id, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("wrong stage: status %d", resp.StatusCode)
	}
}

func TestPostFromInsideConnectIsGone(t *testing.T) {
	t.Parallel()
	var g *testGateway
	postErr := make(chan error, 1)
	g = start(t, gateway.Options{Routes: map[string]gateway.Route{
		"$connect": {Integration: fn(func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			_, err := g.management("", "").PostToConnection(context.Background(), postInput(ev.RequestContext.ConnectionID, "too early"))
			postErr <- err
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		})},
	}})
	g.dial(t, "", nil)
	var gone *types.GoneException
	if err := <-postErr; !errors.As(err, &gone) {
		t.Fatalf("post during $connect: %v, want GoneException", err)
	}
}

func TestManagementRequiresSignatureWhenCredentialsSet(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Credentials: sigv4.Credentials{"AKIDSWITCHBOARD": "s3cret"}}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	ctx := context.Background()

	var forbidden *types.ForbiddenException
	for name, client := range map[string]*apigatewaymanagementapi.Client{
		"anonymous":    g.management("", ""),
		"wrong key":    g.management("AKIDOTHER", "s3cret"),
		"wrong secret": g.management("AKIDSWITCHBOARD", "guess"),
	} {
		if _, err := client.PostToConnection(ctx, postInput(id, "x")); !errors.As(err, &forbidden) {
			t.Fatalf("%s: %v, want ForbiddenException", name, err)
		}
	}
	// Unsigned raw requests too, and they learn nothing about ids.
	resp, err := http.Post(g.http.URL+"/dev/@connections/bad", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Fatalf("unsigned: %d %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}

	if _, err := g.management("AKIDSWITCHBOARD", "s3cret").PostToConnection(ctx, postInput(id, "signed")); err != nil {
		t.Fatalf("signed post: %v", err)
	}
	if got := readText(t, c); got != "signed" {
		t.Fatalf("got %q", got)
	}
}

func TestManagementRefusesNonLoopbackWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv, err := gateway.New(gateway.Options{Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	req, _ := http.NewRequest("POST", "http://127.0.0.1:8080/dev/@connections/AAAAAAAAAAAAAAA=", bytes.NewReader([]byte("x")))
	req.RemoteAddr = "192.0.2.7:4242"
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Header().Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Fatalf("non-loopback caller: %d %v", rec.Code, rec.Header())
	}
	req.RemoteAddr = "127.0.0.1:4242"
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 410 {
		t.Fatalf("loopback caller: %d, want 410", rec.Code)
	}
}

// The connection is registered before the 101 is written: whoever acts on
// the 101 (the client, or a backend it tells) finds it, and what is posted
// then reaches the client after the 101, never before it.
func TestPostRightAfterHandshake(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	ctx := context.Background()
	for i := range 200 {
		c := g.dial(t, "", nil)
		id := g.connID(t, i)
		if err := g.Post(ctx, id, []byte("first")); err != nil {
			t.Fatalf("connection %d: post right after the handshake: %v", i, err)
		}
		if _, err := g.Info(ctx, id); err != nil {
			t.Fatalf("connection %d: info right after the handshake: %v", i, err)
		}
		if got := readText(t, c); got != "first" {
			t.Fatalf("connection %d: got %q", i, got)
		}
		c.Close()
	}
}

// Without credentials the management API serves loopback callers only, and
// behind a reverse proxy on the same host every caller is loopback: a
// request carrying a header a proxy adds is refused.
func TestManagementRefusesProxiedRequestsWithoutCredentials(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{}, "$connect")
	g.dial(t, "", nil)
	id := g.connID(t, 0)
	target, _ := url.Parse(g.http.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target)) // adds X-Forwarded-For
	defer proxy.Close()
	var forbidden *types.ForbiddenException
	viaProxy := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(proxy.URL + "/dev"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
	})
	if _, err := viaProxy.DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); !errors.As(err, &forbidden) {
		t.Fatalf("DELETE through a local proxy: %v, want ForbiddenException", err)
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "x-real-ip"} {
		req, _ := http.NewRequest(http.MethodGet, g.http.URL+"/dev/@connections/"+id, nil)
		req.Header[h] = []string{"203.0.113.9"}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
			t.Fatalf("GET with %s: %d %q, want 403 ForbiddenException", h, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
		}
	}
	// Direct loopback callers are still served.
	if _, err := g.management("", "").GetConnection(context.Background(), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("direct GET: %v", err)
	}
}

// With credentials, a signed request is served whichever way it came.
func TestManagementSignedThroughProxy(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Credentials: sigv4.Credentials{"AKIDSWITCHBOARD": "s3cret"}}, "$connect")
	c := g.dial(t, "", nil)
	id := g.connID(t, 0)
	target, _ := url.Parse(g.http.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	client := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(proxy.URL + "/dev"), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSWITCHBOARD", "s3cret", ""),
	})
	if _, err := client.PostToConnection(context.Background(), postInput(id, "via proxy")); err != nil {
		t.Fatalf("signed post through a proxy: %v", err)
	}
	if got := readText(t, c); got != "via proxy" {
		t.Fatalf("got %q", got)
	}
}

// readTracker is a request body that records whether it was read.
type readTracker struct {
	r    io.Reader
	read bool
}

func (b *readTracker) Read(p []byte) (int, error) { b.read = true; return b.r.Read(p) }

// Strangers, and bodies over the message limit that say so, are refused
// before the body is read.
func TestManagementRefusesBeforeReadingTheBody(t *testing.T) {
	t.Parallel()
	srv, err := gateway.New(gateway.Options{Stage: "dev", Limits: gateway.Limits{MaxMessageBytes: 1000}, Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for _, tc := range []struct {
		name   string
		remote string
		header string
		size   int64
		want   int
	}{
		{"non-loopback caller", "192.0.2.7:4242", "", 10, 403},
		{"through a proxy", "127.0.0.1:4242", "X-Forwarded-For", 10, 403},
		{"cross-origin", "127.0.0.1:4242", "Origin", 10, 403},
		{"declared over the limit", "127.0.0.1:4242", "", 1001, 413},
	} {
		body := &readTracker{r: strings.NewReader(strings.Repeat("x", int(tc.size)))}
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/dev/@connections/AAAAAAAAAAAAAAA=", body)
		req.RemoteAddr = tc.remote
		req.ContentLength = tc.size
		if tc.header != "" {
			req.Header.Set(tc.header, "http://203.0.113.9")
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.name, rec.Code, tc.want)
		}
		if body.read {
			t.Fatalf("%s: the body was read", tc.name)
		}
	}
	// A body over the limit without a declared length: 413 once the limit
	// is passed.
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/dev/@connections/AAAAAAAAAAAAAAA=", io.MultiReader(strings.NewReader(strings.Repeat("x", 1001))))
	req.RemoteAddr = "127.0.0.1:4242"
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 413 || rec.Header().Get("x-amzn-ErrorType") != "PayloadTooLargeException" {
		t.Fatalf("chunked body over the limit: %d %q", rec.Code, rec.Header().Get("x-amzn-ErrorType"))
	}
}

// A signed post over the message limit is a 413, whatever its size (a body
// over 1 MiB used to be cut and fail its signature check: 403).
func TestManagementSignedOversizePostIs413(t *testing.T) {
	t.Parallel()
	g := start(t, gateway.Options{Credentials: sigv4.Credentials{"AKID": "SECRET"}}, "$connect")
	g.dial(t, "", nil)
	id := g.connID(t, 0)
	var tooLarge *types.PayloadTooLargeException
	for _, n := range []int{200 << 10, 2 << 20} {
		_, err := g.management("AKID", "SECRET").PostToConnection(context.Background(), postInput(id, strings.Repeat("x", n)))
		if !errors.As(err, &tooLarge) {
			t.Fatalf("signed post of %d bytes: %v, want PayloadTooLargeException", n, err)
		}
	}
}
