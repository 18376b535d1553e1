package cluster_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestFrozenNodeIsJudgedDead: a node whose machine is lost without a TCP
// reset (here: its process stopped with SIGSTOP, so its sockets stay open
// and nothing answers) loses its routes to the route pings, and the other
// node then answers 410 for its connections instead of timing out on every
// post forever (nats-server's own route pings would take a minute or more).
func TestFrozenNodeIsJudgedDead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs switchboard processes")
	}
	t.Parallel()
	s := newServeNodes(t)
	routes := []string{freeAddr(t), freeAddr(t)}
	section := func(i int) string {
		peers := "[]"
		if i > 0 {
			peers = "[" + routes[0] + "]"
		}
		return fmt.Sprintf(`cluster:
  listen: %s
  peers: %s
  secret: frozen-node-secret
  routePingInterval: 1s
  beatInterval: 500ms
  deadAfter: 2s
`, routes[i], peers)
	}
	var procs []*serveProc
	for i := range 2 {
		procs = append(procs, s.start(s.config(fmt.Sprintf("node%d", i), section(i)), nil))
	}
	c0, id0 := s.dial("ws://" + procs[0].addr + "/dev")
	c1, id1 := s.dial("ws://" + procs[1].addr + "/dev")
	crossPost(t, []string{procs[0].addr, procs[1].addr}, []*websocket.Conn{c0, c1}, []string{id0, id1})

	if err := procs[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { procs[1].cmd.Process.Signal(syscall.SIGCONT) })
	m := mgmt(procs[0].addr)
	ctx := context.Background()
	testutil.Eventually(t, 30*time.Second, func() bool {
		_, err := m.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id1), Data: []byte("x")})
		return isGone(err)
	}, "410 for a connection of the frozen node")
	// Node 0 still serves its own client.
	if _, err := m.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id0), Data: []byte("still")}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, c0); got != "still" {
		t.Fatalf("got %q", got)
	}
}
