package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func isGone(err error) bool {
	var g *types.GoneException
	return errors.As(err, &g)
}

// TestManagementAPIOnAnotherNode: the AWS SDK's management client pointed
// at node B posts to, describes and deletes a connection held by node A.
func TestManagementAPIOnAnotherNode(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	nodes := startCluster(t, url, 3)
	a, b := nodes[0], nodes[1]
	client, id := a.dial(t)
	if !strings.HasPrefix(id, a.node.NodePrefix()) || len(id) != 16 || id[15] != '=' {
		t.Fatalf("connection id %q: want 16 characters, padded, beginning with node A's prefix %q", id, a.node.NodePrefix())
	}
	mgmt := b.management()
	ctx := context.Background()

	if _, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("hello from B")}); err != nil {
		t.Fatalf("post through node B: %v", err)
	}
	if got := readText(t, client); got != "hello from B" {
		t.Fatalf("client on A got %q", got)
	}

	info, err := mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("get through node B: %v", err)
	}
	if aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || info.ConnectedAt == nil || info.LastActiveAt == nil || aws.ToString(info.Identity.UserAgent) == "" {
		t.Fatalf("connection info: ip %q ua %q connectedAt %v lastActiveAt %v", aws.ToString(info.Identity.SourceIp), aws.ToString(info.Identity.UserAgent), info.ConnectedAt, info.LastActiveAt)
	}

	if _, err := mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("delete through node B: %v", err)
	}
	if ce := readClose(t, client); ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d, want 1000", ce.Code)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return a.rec.disconnected(id) }, "$disconnect of %s on node A", id)

	// Gone now: 410 through B, typed as the SDK's GoneException.
	_, err = mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	if !isGone(err) {
		t.Fatalf("post to a deleted connection: %v, want GoneException", err)
	}
	// An id of node A's that A never had, and one of a node that does not
	// exist: 410 both, for POST, GET and DELETE.
	unknownOnA := a.node.NodePrefix() + "AAAAAAAAAAA="
	noNode := "____" + id[4:]
	if noNode[:4] == a.node.NodePrefix() || noNode[:4] == b.node.NodePrefix() || noNode[:4] == nodes[2].node.NodePrefix() {
		t.Skip("a node drew the prefix ____")
	}
	for _, unknown := range []string{unknownOnA, noNode} {
		_, err := mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(unknown), Data: []byte("x")})
		if !isGone(err) {
			t.Errorf("post %s: %v, want GoneException", unknown, err)
		}
		_, err = mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(unknown)})
		if !isGone(err) {
			t.Errorf("get %s: %v, want GoneException", unknown, err)
		}
		_, err = mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(unknown)})
		if !isGone(err) {
			t.Errorf("delete %s: %v, want GoneException", unknown, err)
		}
	}
	// A post over the limit is refused at B as it is alone.
	_, err = mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(unknownOnA), Data: make([]byte, 128*1024+1)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PayloadTooLargeException" {
		t.Errorf("oversized post: %v, want PayloadTooLargeException", err)
	}
}

// TestBroadcastIsOneMessagePerNode: a batch to connections on three nodes
// sent to node B reaches every client once, and is one NATS message to A
// and one to C (B's own are written locally).
func TestBroadcastIsOneMessagePerNode(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	nodes := startCluster(t, url, 3)
	obs := watch(t, url)
	sub, err := obs.SubscribeSync(cluster.Subjects("test", "batch"))
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.Flush(); err != nil {
		t.Fatal(err)
	}
	var clients []*websocket.Conn
	var ids []string
	for _, n := range nodes {
		for range 3 {
			c, id := n.dial(t)
			clients = append(clients, c)
			ids = append(ids, id)
		}
	}
	unknown := nodes[2].node.NodePrefix() + "AAAAAAAAAAA="
	body, _ := json.Marshal(map[string]any{"connectionIds": append(slices.Clone(ids), unknown), "data": "to everyone"})
	status, resp := nodes[1].postBatch(t, string(body))
	if status != 200 {
		t.Fatalf("batch: %d %s", status, resp)
	}
	var out struct{ Gone []string }
	if err := json.Unmarshal([]byte(resp), &out); err != nil || !slices.Equal(out.Gone, []string{unknown}) {
		t.Fatalf("batch answered %s, want gone = [%s]", resp, unknown)
	}
	for i, c := range clients {
		if got := readText(t, c); got != "to everyone" {
			t.Fatalf("client %d got %q", i, got)
		}
	}
	// Everything B published was delivered to obs before the PONG.
	if err := obs.Flush(); err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for {
		m, err := sub.NextMsg(0)
		if err != nil {
			break
		}
		perNode[strings.Split(m.Subject, ".")[3]]++
	}
	want := map[string]int{nodes[0].node.NodePrefix(): 1, nodes[2].node.NodePrefix(): 1}
	if fmt.Sprint(perNode) != fmt.Sprint(want) {
		t.Fatalf("NATS batch messages per node: %v, want %v (one per other node)", perNode, want)
	}

	// In-process, Server.PostFrame does the same.
	gone := nodes[0].PostFrame(context.Background(), ids, []byte("\x81\x02hi"))
	if len(gone) != 0 {
		t.Fatalf("PostFrame: gone %v", gone)
	}
	for i, c := range clients {
		if got := readText(t, c); got != "hi" {
			t.Fatalf("client %d got %q", i, got)
		}
	}
}

// TestNodeDrains: a node that shuts down closes its clients with 1001 and
// runs $disconnect for each; then its ids are 410 on the other nodes.
func TestNodeDrains(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	nodes := startCluster(t, url, 2)
	a, b := nodes[0], nodes[1]
	c1, id1 := a.dial(t)
	c2, id2 := a.dial(t)
	// The clients read while the node drains, and answer its close.
	codes := make(chan int, 2)
	for _, c := range []*websocket.Conn{c1, c2} {
		go func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						codes <- ce.Code
					} else {
						codes <- -1
					}
					return
				}
			}
		}()
	}
	a.stop(t)
	for range 2 {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	if !a.rec.disconnected(id1) || !a.rec.disconnected(id2) {
		t.Fatalf("$disconnect not run for every connection of the drained node: %v", a.rec.disconnects)
	}
	_, err := b.management().PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id1), Data: []byte("x")})
	if !isGone(err) {
		t.Fatalf("post to a connection of a node that left: %v, want GoneException", err)
	}
}

// TestWrongCredentialsCannotJoin: a node with the wrong NATS password does
// not join and says why.
func TestWrongCredentialsCannotJoin(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cluster.Join(ctx, cluster.Config{API: "test", URL: url, User: natsUser, Password: "wrong", Logger: testutil.DiscardLogger()})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("Join with the wrong password: %v, want an authorization error", err)
	}
	_, err = cluster.Join(ctx, cluster.Config{API: "test", URL: url, Logger: testutil.DiscardLogger()})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("Join without credentials: %v, want an authorization error", err)
	}
}

// TestConfigErrors: a wrong config names its field.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  cluster.Config
		want string
	}{
		{cluster.Config{}, "url or listen"},
		{cluster.Config{URL: "nats://x:4222", Listen: "127.0.0.1:0"}, "url and listen"},
		{cluster.Config{Listen: "127.0.0.1:0"}, "secret: required"},
		{cluster.Config{Listen: "nohost", Secret: "s"}, "listen:"},
		{cluster.Config{Listen: "127.0.0.1:0", Secret: "s", Peers: []string{"h"}}, "peers[0]"},
		{cluster.Config{URL: "nats://x:4222", API: "a.b"}, "api:"},
		{cluster.Config{URL: "host:4222"}, "url:"},
		{cluster.Config{URL: "nats://x:4222", CertFile: "c"}, "certFile and keyFile"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestPostFrameBadIDs: in process, ids that are not ids are gone, and do
// not spoil the batch of the node they seem to belong to.
func TestPostFrameBadIDs(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	nodes := startCluster(t, url, 2)
	client, id := nodes[1].dial(t)
	bad := []string{"", "ab", id[:4] + "!!!!!!!!!!!=", id[:15]}
	gone := nodes[0].PostFrame(context.Background(), append([]string{id}, bad...), []byte("\x81\x02ok"))
	if !slices.Equal(gone, bad) {
		t.Fatalf("gone %q, want %q", gone, bad)
	}
	if got := readText(t, client); got != "ok" {
		t.Fatalf("got %q", got)
	}
}

// TestLateResponderIsNotGone: a node whose subscription is not known yet
// (it just began serving, its interest still crossing the routes) has no
// responder for a moment; a post to one of its live connections in that
// moment is tried again within ResponderGrace, not answered 410 (which
// would make a chat delete a live connection).
func TestLateResponderIsNotGone(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	cfg := cluster.Config{API: "late", URL: url, User: natsUser, Password: natsPass, ResponderGrace: 30 * time.Second}
	a := startNode(t, cfg)
	b := startNodeUnserved(t, cfg, gateway.Limits{})
	c, id := b.dial(t)

	done := make(chan error, 1)
	go func() { done <- a.Post(context.Background(), id, []byte("hello across")) }()
	// The pace under test: A's first try finds no responder; without the
	// grace it has long been answered (410) when B begins to serve.
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("post before B serves ended with %v, want it waiting for B", err)
	default:
	}
	if err := b.node.Serve(b.Server); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("post once B serves: %v", err)
	}
	if got := readText(t, c); got != "hello across" {
		t.Fatalf("client on B got %q", got)
	}
}
