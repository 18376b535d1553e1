package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func startDevStack(t *testing.T) *devstack.Stack {
	t.Helper()
	st, err := devstack.New(devstack.Options{DataDir: t.TempDir(), Logger: testutil.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

func TestConnectCommand(t *testing.T) {
	st := startDevStack(t)
	tok, _ := st.Token("alice", "Alice", "acme", time.Hour)
	stdin = strings.NewReader(`{"action":"ping","requestId":"p1"}` + "\n" + `{"action":"nope","requestId":"p2"}` + "\n")
	defer func() { stdin = nil }()
	code, stdout, stderr := run("connect", st.URL(), "--token", tok, "--wait", "2s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"requestId":"p1"`, `"code":"UNKNOWN_ACTION"`, "closed: 1000"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("output lacks %s:\n%s", want, stdout)
		}
	}
	// A refused handshake says why.
	stdin = strings.NewReader("")
	code, _, stderr = run("connect", st.URL(), "--token", "bad")
	if code != 1 || !strings.Contains(stderr, "401") {
		t.Fatalf("bad token: %d %s", code, stderr)
	}
}

func TestPostCommand(t *testing.T) {
	st := startDevStack(t)
	tok, _ := st.Token("alice", "Alice", "acme", time.Hour)
	c, _, err := websocket.DefaultDialer.Dial(st.URL()+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conns, _ := st.Store.TenantConnections(context.Background(), "acme")
	if len(conns) != 1 {
		t.Fatalf("%d connections", len(conns))
	}
	id := conns[0].ConnectionID
	endpoint := "http://" + st.Addr() + "/dev"

	if code, _, stderr := run("post", "--endpoint", endpoint, id, "hello from the CLI"); code != 0 {
		t.Fatalf("post: %d %s", code, stderr)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello from the CLI" {
		t.Fatalf("received %q %v", p, err)
	}
	code, stdout, stderr := run("post", "--endpoint", endpoint, "--get", id)
	if code != 0 || !strings.Contains(stdout, "connectedAt") || !strings.Contains(stdout, "127.0.0.1") {
		t.Fatalf("get: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := run("post", "--endpoint", endpoint, "--delete", id); code != 0 {
		t.Fatalf("delete: %d %s", code, stderr)
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after delete: %v", err)
	}
	code, _, stderr = run("post", "--endpoint", endpoint, id, "again")
	if code != 1 || !strings.Contains(stderr, "gone") {
		t.Fatalf("post to a gone connection: %d %s", code, stderr)
	}
	if code, _, _ := run("post", id, "x"); code != 2 {
		t.Fatalf("post without --endpoint: %d", code)
	}
	// One id in 64 starts with "-": it is an id, not an unknown flag, in
	// either place.
	for _, args := range [][]string{{"-fRgnEEJEWNPZwA=", "x", "--endpoint", endpoint}, {"--endpoint", endpoint, "-fRgnEEJEWNPZwA=", "x"}} {
		if code, _, stderr := run(append([]string{"post"}, args...)...); code != 1 || !strings.Contains(stderr, "gone") {
			t.Fatalf("post %q: %d %s, want the connection gone", args, code, stderr)
		}
	}
}
