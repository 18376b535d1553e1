package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestEmbeddedNATS: three nodes each running an embedded NATS server,
// routed to the first (routes are gossiped), need nothing else: a post
// through node C reaches a client of node A, and one through A reaches C's.
func TestEmbeddedNATS(t *testing.T) {
	t.Parallel()
	const secret = "route-secret"
	a := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: secret})
	seed := a.node.ClusterAddr().String()
	b := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: secret, Peers: []string{seed}})
	c := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: secret, Peers: []string{seed}})
	testutil.Eventually(t, 10*time.Second, func() bool {
		return a.node.Peers() == 2 && b.node.Peers() == 2 && c.node.Peers() == 2
	}, "a full mesh of routes (have %d %d %d)", a.node.Peers(), b.node.Peers(), c.node.Peers())

	clientA, idA := a.dial(t)
	clientC, idC := c.dial(t)
	ctx := context.Background()
	// Interest crosses the routes asynchronously: until it has, C sees no
	// responder for A's subjects.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := c.management().GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(idA)})
		return err == nil
	}, "node C reaches node A's connection")
	if _, err := c.management().PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(idA), Data: []byte("from C")}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, clientA); got != "from C" {
		t.Fatalf("got %q", got)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := a.management().PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(idC), Data: []byte("from A")})
		return err == nil
	}, "node A reaches node C's connection")
	if got := readText(t, clientC); got != "from A" {
		t.Fatalf("got %q", got)
	}
}

// TestEmbeddedWrongSecret: a node whose route secret differs is not routed
// to the cluster, and the refusal is logged.
func TestEmbeddedWrongSecret(t *testing.T) {
	t.Parallel()
	var seedLog testutil.Buffer
	a := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: "right", Logger: newLogger(&seedLog)})
	var badLog testutil.Buffer
	bad := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: "wrong", Peers: []string{a.node.ClusterAddr().String()}, PeerWait: time.Millisecond, Logger: newLogger(&badLog)})
	if !strings.Contains(badLog.String(), "no peer reachable yet") {
		t.Fatalf("the node with the wrong secret did not say it is alone; its log:\n%s", badLog.String())
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(seedLog.String(), "authentication error")
	}, "the seed logs the refused route; its log:\n%s", seedLog.String())
	// The stranger's own route to A is listed until it reads A's refusal.
	testutil.Eventually(t, 10*time.Second, func() bool {
		return a.node.Peers() == 0 && bad.node.Peers() == 0
	}, "the node with the wrong secret stayed routed (or the seed to it)")
	// Nothing crosses: A's ids are gone for the stranger.
	_, idA := a.dial(t)
	if err := bad.Post(context.Background(), idA, []byte("x")); err == nil {
		t.Fatal("a node with the wrong secret reached a connection of the cluster")
	}
}
