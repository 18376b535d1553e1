// Package broadcast_test runs the broadcast example as a user would: the
// switchboard binary serving api.yaml, the example's handler program behind
// it, and real WebSocket clients.
package broadcast_test

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// build returns the binaries of packages of this module, in order, each
// linked once for the suite (testutil.GoBinary); dir is unused.
func build(t testing.TB, dir string, pkgs ...string) []string {
	t.Helper()
	out := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		out[i] = testutil.GoBinary(t, testutil.Build{Dir: "../..", Pkg: pkg})
	}
	return out
}

// startProcess starts cmd and returns the first stdout line matching re.
func startProcess(t testing.TB, cmd *exec.Cmd, re *regexp.Regexp) (*exec.Cmd, string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-found:
		return cmd, s
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start", cmd.Path)
	}
	return nil, ""
}

func TestBroadcastExample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bins := build(t, dir, "./cmd/switchboard", "./examples/broadcast/handler")
	switchboard, handler := bins[0], bins[1]

	_, handlerURL := startProcess(t, exec.Command(handler, "-addr", "127.0.0.1:0"), regexp.MustCompile(`listening on (http://\S+)`))
	serve := exec.Command(switchboard, "serve", "--config", "api.yaml", "--addr", "127.0.0.1:0")
	serve.Env = append(serve.Environ(), "BROADCAST_HANDLER="+handlerURL, "SWITCHBOARD_CA_DIR="+filepath.Join(dir, "ca"))
	var stderr strings.Builder
	serve.Stderr = &stderr
	serve, wsURL := startProcess(t, serve, regexp.MustCompile(`WebSocket:\s+(ws://\S+)`))

	var clients []*websocket.Conn
	for i := 0; i < 3; i++ {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", wsURL, err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	read := func(c *websocket.Conn) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(p)
	}

	// Everyone, the sender included, gets the message.
	clients[1].WriteMessage(websocket.TextMessage, []byte(`{"action":"sendmessage","message":"hi"}`))
	for i, c := range clients {
		if got := read(c); got != "hi" {
			t.Fatalf("client %d got %q", i, got)
		}
	}
	// No $default route: anything else gets the Forbidden frame.
	clients[0].WriteMessage(websocket.TextMessage, []byte(`{"action":"join"}`))
	if got := read(clients[0]); !regexp.MustCompile(`^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$`).MatchString(got) {
		t.Fatalf("got %q, want the Forbidden frame", got)
	}
	// A client that leaves is forgotten; the others still get messages.
	clients[2].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	// (Whether or not its $disconnect ran yet, a post to it now is a 410.)
	clients[0].WriteMessage(websocket.TextMessage, []byte(`{"action":"sendmessage","message":"second"}`))
	for i, c := range clients[:2] {
		if got := read(c); got != "second" {
			t.Fatalf("client %d got %q", i, got)
		}
	}

	// SIGTERM: clients are told the server is going away, the process exits 0.
	serve.Process.Signal(syscall.SIGTERM)
	for _, c := range clients[:2] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("after SIGTERM: %v, want close 1001", err)
		}
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("switchboard serve exited with %v\n%s", err, stderr.String())
	}
}
