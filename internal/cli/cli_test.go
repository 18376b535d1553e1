package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/gateway"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	if code, _, stderr := run(); code != 2 || !strings.Contains(stderr, "serve") {
		t.Fatalf("no args: %d %q", code, stderr)
	}
	if code, _, stderr := run("frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, stderr)
	}
	if code, _, stderr := run("serve"); code != 2 || !strings.Contains(stderr, "give exactly one of --config and --template") {
		t.Fatalf("serve without config: %d %q", code, stderr)
	}
	if code, _, _ := run("serve", "--bogus"); code != 2 {
		t.Fatalf("unknown flag: %d", code)
	}
}

func TestServeRefusesInvalidConfigBeforeListening(t *testing.T) {
	// Take a port, free it, and check nothing listens there afterwards.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := filepath.Join(t.TempDir(), "api.yaml")
	os.WriteFile(path, []byte("stage: dev\nrouteSelectionExpression: $request.body.action\nroutes:\n  send:\n    integration: {type: http, url: \"nowhere\"}\nlimits:\n  idleTimeout: soon\n"), 0o644)
	code, stdout, stderr := run("serve", "--config", path, "--addr", addr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"routes.send.integration: url:", "limits.idleTimeout"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("stderr %q does not name %s", stderr, want)
		}
	}
	if strings.Contains(stdout, "listening") {
		t.Fatalf("printed %q before failing", stdout)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("something listens although the config was invalid")
	}
	if code, _, stderr := run("serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("missing file: %d %q", code, stderr)
	}
}

func TestServeGatewayShutsDownOnCancel(t *testing.T) {
	f, err := config.Parse([]byte("stage: live\nrouteSelectionExpression: $request.body.action\n"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := f.Build(context.Background(), config.BuildEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	gw, err := gateway.New(rt.GatewayOptions())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan error, 1)
	log, _ := newLogger(&bytes.Buffer{}, "info", "text")
	go func() { done <- serveGateway(ctx, ln, gw, serveOptions{}, log, &stdout) }()
	url := "ws://" + ln.Addr().String() + "/live"
	var c *websocket.Conn
	deadline := time.Now().Add(5 * time.Second)
	for c == nil {
		c, _, err = websocket.DefaultDialer.Dial(url, nil)
		if err != nil && time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer c.Close()
	// The metrics are served beside the stage.
	resp, err := http.Get("http://" + ln.Addr().String() + gateway.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\nswitchboard_connections_open 1\n") {
		t.Errorf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
	cancel()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client got %v, want close 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serveGateway: %v", err)
	}
	if !strings.Contains(stdout.String(), url) {
		t.Fatalf("stdout %q does not show %s", stdout.String(), url)
	}
}

func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	if _, err := auth.LoadOrCreateDevSecret(dir); err != nil { // as switchboard dev does
		t.Fatal(err)
	}
	if code, _, stderr := run("token", "--data", dir); code != 2 || !strings.Contains(stderr, "--user is required") {
		t.Fatalf("token without --user: %d %q", code, stderr)
	}
	code, stdout, stderr := run("token", "--data", dir, "--user", "alice", "--name", "Alice", "--tenant", "acme", "--ttl", "5m")
	if code != 0 {
		t.Fatalf("token: %d %s", code, stderr)
	}
	secret, err := auth.LoadDevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{HS256Secret: secret, Issuer: auth.DevIssuer})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), strings.TrimSpace(stdout))
	if err != nil || id.UserID != "alice" || id.Username != "Alice" || id.TenantID != "acme" {
		t.Fatalf("token verifies as %+v, %v", id, err)
	}
	if d := time.Until(id.ExpiresAt); d < 4*time.Minute || d > 6*time.Minute {
		t.Fatalf("expires in %v, want about 5m", d)
	}
	// The same secret the next time.
	again, _ := auth.LoadOrCreateDevSecret(dir)
	if !bytes.Equal(again, secret) {
		t.Fatal("dev secret changed")
	}
}

// A second process on a data directory in use fails at once, saying why:
// the embedded store keeps an in-memory index that only its own writes
// keep up to date.
func TestDevRefusesADataDirInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(dir, sqlite.Options{}) // what a running switchboard dev holds
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, stderr := run("dev", "--addr", "127.0.0.1:0", "--data", dir)
	if code == 0 || !strings.Contains(stderr, "in use by another switchboard process") {
		t.Fatalf("dev on a directory in use: exit %d, stderr %q", code, stderr)
	}
}
