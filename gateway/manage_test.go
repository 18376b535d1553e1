package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/sigv4"
)

func postInput(id, data string) *apigatewaymanagementapi.PostToConnectionInput {
	return &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(data)}
}

func TestManagementPostGetDelete(t *testing.T) {
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
	srv, err := gateway.New(gateway.Options{Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	req, _ := http.NewRequest("POST", "http://gw/dev/@connections/AAAAAAAAAAAAAAA=", bytes.NewReader([]byte("x")))
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
