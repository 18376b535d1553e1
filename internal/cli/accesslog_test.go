package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestAccessLogFlag: a bad --access-log value is refused by dev and serve
// with the values it takes, before anything starts.
func TestAccessLogFlag(t *testing.T) {
	for _, cmd := range [][]string{
		{"dev", "--access-log", "verbose", "--addr", "127.0.0.1:0"},
		{"serve", "--access-log", "verbose", "--config", "nowhere.yaml"},
	} {
		code, _, stderr := run(cmd...)
		if code != 1 || !strings.Contains(stderr, `--access-log "verbose": want all, connections or off`) {
			t.Errorf("%s: exit %d, stderr %q", cmd[0], code, stderr)
		}
	}
}

// lockedBuffer is an io.Writer that a test reads while serve writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeLogsAndMetrics: switchboard serve --log-format json writes one
// JSON line per connect, message and disconnect, naming the HTTP
// integration without its query and never the client's token; /metrics
// serves the route's invocations and the config's queue.
func TestServeLogsAndMetrics(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"statusCode":200,"body":"pong"}`))
	}))
	defer backend.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := filepath.Join(t.TempDir(), "api.yaml")
	yaml := "stage: live\nrouteSelectionExpression: $request.body.action\nroutes:\n  ping:\n    routeResponse: true\n" +
		"    integration: {type: http, url: \"" + backend.URL + "/ping?code=s3cr3t-key\"}\n" +
		"queues:\n  jobs:\n    integration: {type: http, url: \"" + backend.URL + "/jobs\"}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--config", path, "--addr", addr, "--log-format", "json", "--watch=false"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var c *websocket.Conn
	testutil.Eventually(t, 10*time.Second, func() bool {
		c, _, err = websocket.DefaultDialer.Dial("ws://"+addr+"/live?token=tok-s3cr3t", nil)
		return err == nil
	}, "serve listening")
	c.WriteMessage(websocket.TextMessage, []byte(`{"action":"ping"}`))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "pong" {
		t.Fatalf("reply %q, %v", p, err)
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.Close()

	lines := func(msg string) []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(stderr.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
				out = append(out, m)
			}
		}
		return out
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(lines("disconnect")) == 1 }, "a disconnect line")
	conn, msg := lines("connect"), lines("message")
	if len(conn) != 1 || conn[0]["status"] != 101.0 || conn[0]["path"] != "/live?token=REDACTED" {
		t.Errorf("connect lines: %v", conn)
	}
	if len(msg) != 1 || msg[0]["route"] != "ping" || msg[0]["integration"] != "http" || msg[0]["function"] != backend.URL+"/ping" || msg[0]["outcome"] != "ok" {
		t.Errorf("message lines: %v", msg)
	}
	if s := stderr.String(); strings.Contains(s, "s3cr3t") {
		t.Errorf("a secret in the log:\n%s", s)
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`switchboard_route_invocations_total{route="ping",integration="http",function="` + backend.URL + `/ping"} 1`,
		`switchboard_queue_depth{queue="jobs"} 0`,
		`switchboard_handshakes_refused_total{status="401"} 0`,
	} {
		if !strings.Contains(string(body), "\n"+want+"\n") {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
}
