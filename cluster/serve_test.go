package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestThreeServeProcesses: three `switchboard serve` processes, each with
// its embedded NATS routed to the first, one client each; every node posts
// to every client through the management API (the AWS SDK), and a node
// that gets SIGTERM drains: its client sees 1001, and its id is 410 on the
// others; a node killed with SIGKILL leaves its ids 410 too.
func TestThreeServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := binary(t, "switchboard")

	// The $connect and $disconnect routes of every node: an HTTP handler
	// of the test's that records the connection ids.
	var mu sync.Mutex
	ids := map[string][]string{} // route key → ids
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.APIGatewayWebsocketProxyRequest
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		ids[ev.RequestContext.RouteKey] = append(ids[ev.RequestContext.RouteKey], ev.RequestContext.ConnectionID)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"statusCode":200}`))
	}))
	defer hook.Close()
	cfg := filepath.Join(dir, "api.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`stage: dev
routeSelectionExpression: $request.body.action
routes:
  $connect: {integration: {type: http, url: %[1]s/connect}}
  $disconnect: {integration: {type: http, url: %[1]s/disconnect}}
`, hook.URL)), 0o600)

	type proc struct {
		cmd    *exec.Cmd
		addr   string
		stderr *testutil.Buffer
		done   chan error
	}
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var procs []*proc
	for i := range 3 {
		p := &proc{addr: freeAddr(t), stderr: &testutil.Buffer{}, done: make(chan error, 1)}
		args := []string{"serve", "--config", cfg, "--addr", p.addr, "--no-tls", "--cluster-listen", routes[i]}
		if i > 0 {
			args = append(args, "--cluster-peers", routes[0])
		}
		p.cmd = exec.Command(bin, args...)
		p.cmd.Env = append(os.Environ(), "SWITCHBOARD_CLUSTER_SECRET=three-node-secret")
		p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		t.Cleanup(func() {
			p.cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("node %d:\n%s", i, p.stderr.String())
			}
		})
		procs = append(procs, p)
	}
	var clients []*websocket.Conn
	for i, p := range procs {
		var c *websocket.Conn
		testutil.Eventually(t, 30*time.Second, func() bool {
			var err error
			c, _, err = websocket.DefaultDialer.Dial("ws://"+p.addr+"/dev", nil)
			return err == nil
		}, "node %d serves", i)
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	mu.Lock()
	connIDs := append([]string(nil), ids["$connect"]...)
	mu.Unlock()
	if len(connIDs) != 3 {
		t.Fatalf("%d $connect events, want 3", len(connIDs))
	}
	// Which client has which id: the first 4 characters differ per node,
	// and each client connected in turn.
	ctx := context.Background()
	for i, p := range procs {
		mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{BaseEndpoint: aws.String("http://" + p.addr + "/dev"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
		for j, id := range connIDs {
			msg := fmt.Sprintf("from node %d to client %d", i, j)
			// The routes and their interest settle after the processes start.
			testutil.Eventually(t, 20*time.Second, func() bool {
				_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(msg)})
				return err == nil
			}, "node %d posts to client %d", i, j)
			if got := readText(t, clients[j]); got != msg {
				t.Fatalf("client %d got %q, want %q", j, got, msg)
			}
		}
	}

	// SIGTERM to node 2: its client is closed with 1001, its $disconnect
	// runs, and node 0 then answers 410 for it.
	procs[2].cmd.Process.Signal(syscall.SIGTERM)
	if ce := readClose(t, clients[2]); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", ce.Code)
	}
	if err := <-procs[2].done; err != nil {
		t.Fatalf("node 2 exited with %v", err)
	}
	procs[2].done <- nil
	mu.Lock()
	disc := strings.Join(ids["$disconnect"], ",")
	mu.Unlock()
	if !strings.Contains(disc, connIDs[2]) {
		t.Fatalf("$disconnect not run for %s (ran for %q)", connIDs[2], disc)
	}
	mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{BaseEndpoint: aws.String("http://" + procs[0].addr + "/dev"), Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connIDs[2]), Data: []byte("x")})
		return isGone(err)
	}, "410 for a connection of the node that left")

	// kill -9 node 1: its client's socket is reset, and once its embedded
	// server's route is gone node 0 answers 410 for its connection (not a
	// timeout).
	procs[1].cmd.Process.Kill()
	<-procs[1].done
	procs[1].done <- nil
	clients[1].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := clients[1].ReadMessage(); err == nil {
		t.Fatal("the client of a killed node read a message")
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connIDs[1]), Data: []byte("x")})
		return isGone(err)
	}, "410 for a connection of the node that was killed")
	// Node 0 still serves its own.
	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connIDs[0]), Data: []byte("still")}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, clients[0]); got != "still" {
		t.Fatalf("got %q", got)
	}
}
