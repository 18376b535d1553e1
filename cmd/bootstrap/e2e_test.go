package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/auth"
	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/dynamolocal"
	"github.com/switchboard-ws/switchboard/store/dynamo"
)

// TestBootstrapBehindGateway runs the deployable artifact: the gateway
// drives the built bootstrap through the Lambda Runtime API (one function
// per handler, as on AWS), the handlers keep their state in DynamoDB Local
// and push through the gateway's @connections API with the AWS SDK.
func TestBootstrapBehindGateway(t *testing.T) {
	if os.Getenv("SWITCHBOARD_SKIP_DYNAMODB") == "1" {
		t.Skip("SWITCHBOARD_SKIP_DYNAMODB=1")
	}
	endpoint, stop, err := dynamolocal.Endpoint()
	if err != nil {
		t.Fatalf("DynamoDB Local: %v (set SWITCHBOARD_SKIP_DYNAMODB=1 to skip)", err)
	}
	defer stop()
	ctx := context.Background()
	table := fmt.Sprintf("bootstrap-e2e-%d", time.Now().UnixNano())
	if err := dynamo.CreateTable(ctx, dynamo.LocalClient(endpoint), table); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secret := "an-hs256-secret-of-at-least-32-bytes!"
	env := fmt.Sprintf(`{TABLE_NAME: %s, DYNAMODB_ENDPOINT: "%s", CALLBACK_URL: "http://%s/dev", JWT_SECRET: "%s",
      AWS_ACCESS_KEY_ID: local, AWS_SECRET_ACCESS_KEY: local, AWS_REGION: us-east-1, AWS_EC2_METADATA_DISABLED: "true"}`,
		table, endpoint, ln.Addr(), secret)
	fn := func(handler string) string {
		return fmt.Sprintf("{type: lambda, path: %s, handler: %s, timeout: 20s, concurrency: 2, environment: %s}", bin, handler, env)
	}
	var routes strings.Builder
	for _, a := range chat.Actions() {
		fmt.Fprintf(&routes, "  %s: {integration: %s}\n", a, fn("message"))
	}
	doc := fmt.Sprintf(`stage: dev
routeSelectionExpression: $request.body.action
routes:
  $connect: {integration: %s}
  $disconnect: {integration: %s}
  $default: {integration: %s}
%sauthorizer:
  identitySources: [route.request.querystring.token]
  integration: %s
`, fn("connect"), fn("disconnect"), fn("message"), routes.String(), fn("authorizer"))
	file, opts, err := config.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close(ctx)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go srv.Serve(ln)
	defer func() { gw.Shutdown(ctx); srv.Close() }()
	url := "ws://" + ln.Addr().String() + "/dev"

	token := func(user, tenant string) string {
		tok, err := auth.MintDevToken([]byte(secret), auth.Identity{UserID: user, Username: strings.ToUpper(user), TenantID: tenant}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, resp, err := websocket.DefaultDialer.Dial(url+"?token=forged", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("forged token: %v %v, want 401", resp, err)
	}
	alice := dialChat(t, url, token("alice", "acme"))
	bob := dialChat(t, url, token("bob", "acme"))
	eve := dialChat(t, url, token("eve", "other"))

	var room struct {
		RoomID string `json:"roomId"`
	}
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &room)
	alice.ok("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.ok("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	var msg struct {
		MessageID string `json:"messageId"`
	}
	bob.ok("sendMessage", map[string]any{"content": "hello from Lambda"}, &msg)
	alice.wait(`"type":"message"`, msg.MessageID)
	alice.fail("editMessage", map[string]any{"messageId": msg.MessageID, "content": "x"}, "NOT_AUTHOR")
	eve.fail("joinRoom", map[string]any{"roomId": room.RoomID}, "ROOM_NOT_FOUND")
	var hist struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	alice.ok("getRoomHistory", map[string]any{"roomId": room.RoomID}, &hist)
	if len(hist.Messages) != 1 || hist.Messages[0].Content != "hello from Lambda" {
		t.Fatalf("history %+v", hist.Messages)
	}
	alice.send(`{"action":"sendMessage","data":{"content":42},"requestId":"bad"}`)
	alice.wait(`"code":"INVALID_REQUEST"`, `"requestId":"bad"`)
	bob.conn.Close()
	alice.wait(`"type":"user_left"`, `"bob"`)
	alice.wait(`"type":"presence"`, `"offline"`)
}

type chatConn struct {
	t    *testing.T
	conn *websocket.Conn
	seq  int
}

func dialChat(t *testing.T, url, token string) *chatConn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url+"?token="+token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &chatConn{t: t, conn: c}
}

func (c *chatConn) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// wait reads until a frame contains every one of parts; cold starts of the
// functions make the first replies slow, hence the generous deadline.
func (c *chatConn) wait(parts ...string) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %v: %v", parts, err)
		}
		match := true
		for _, part := range parts {
			match = match && strings.Contains(string(p), part)
		}
		if match {
			return string(p)
		}
	}
}

func (c *chatConn) request(action string, data any) map[string]json.RawMessage {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("%s-%d", action, c.seq)
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	c.send(string(b))
	var r map[string]json.RawMessage
	json.Unmarshal([]byte(c.wait(`"requestId":"`+id+`"`)), &r)
	return r
}

func (c *chatConn) ok(action string, data, out any) {
	c.t.Helper()
	r := c.request(action, data)
	if string(r["type"]) != `"success"` {
		c.t.Fatalf("%s: %s", action, r["error"])
	}
	if out != nil {
		json.Unmarshal(r["data"], out)
	}
}

func (c *chatConn) fail(action string, data any, code string) {
	c.t.Helper()
	r := c.request(action, data)
	if string(r["code"]) != `"`+code+`"` {
		c.t.Fatalf("%s: code %s, want %s", action, r["code"], code)
	}
}
