package devstack_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// natsConnected reads the node's switchboard_cluster_nats_connected.
func natsConnected(n *cluster.Node) bool {
	var b bytes.Buffer
	n.WriteMetrics(&b)
	return strings.Contains(b.String(), "\nswitchboard_cluster_nats_connected 1\n")
}

// TestChatMessageAcknowledgedDuringNATSOutage: two chat nodes on
// PostgreSQL and an external NATS that goes away. Alice (node A) sends a
// message meanwhile: it is acknowledged, since it is stored; Bob (node B)
// gets no live broadcast of it (what he sees: nothing, his connection
// stays open), and once NATS is back he finds it in the room's history;
// new messages reach him live again.
func TestChatMessageAcknowledgedDuringNATSOutage(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	const user, pass = "chat", "chat-nats-test"
	startNATS := func() *server.Server {
		t.Helper()
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, Username: user, Password: pass, NoSigs: true, NoLog: true})
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats server did not start")
		}
		return ns
	}
	ns := startNATS()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	c := &testCluster{clock: chattest.NewClock()}
	dir := t.TempDir()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, st := range c.stacks {
			st.Close(ctx)
		}
		for _, node := range c.nodes {
			node.Close(ctx)
		}
	})
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		node, err := cluster.Join(ctx, cluster.Config{API: "chat", URL: "nats://127.0.0.1:" + strconv.Itoa(port), User: user, Password: pass, Logger: testutil.DiscardLogger()})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
		store, err := postgres.Open(t.Context(), url, postgres.Options{Now: c.clock.Now, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		st, err := devstack.New(devstack.Options{
			Store: store, Cluster: node, DataDir: dir, SweepInterval: time.Hour,
			FanoutQueue: queue.LocalOptions{Logger: testutil.DiscardLogger()},
			Now:         c.clock.Now,
			Logger:      testutil.DiscardLogger(),
		})
		if err != nil {
			store.Close()
			t.Fatal(err)
		}
		if err := node.Serve(st.Gateway); err != nil {
			t.Fatal(err)
		}
		if err := st.Serve("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		c.stacks = append(c.stacks, st)
	}
	tg := c.target()
	alice := tg.Connect(t, "alice", "Alice", "acme") // node A
	bob := tg.Connect(t, "bob", "Bob", "acme")       // node B
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Outage"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "before"}, nil)
	bob.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "before" })

	ns.Shutdown()
	ns.WaitForShutdown()
	testutil.Eventually(t, 10*time.Second, func() bool { return !natsConnected(c.nodes[0]) && !natsConnected(c.nodes[1]) }, "the nodes see NATS gone")
	var sent struct {
		MessageID string `json:"messageId"`
	}
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "during the outage"}, &sent)
	bob.Quiet(func(f chattest.Frame) bool {
		return f.Type == "message" && strings.Contains(string(f.Data), "during the outage")
	}, "live broadcast across a NATS outage", alice)

	ns = startNATS()
	testutil.Eventually(t, 20*time.Second, func() bool { return natsConnected(c.nodes[0]) && natsConnected(c.nodes[1]) }, "the nodes reconnect to NATS")
	var hist struct {
		Messages []struct {
			MessageID string `json:"messageId"`
			Content   string `json:"content"`
		} `json:"messages"`
	}
	bob.OK("getRoomHistory", map[string]any{"roomId": room.RoomID}, &hist)
	found := false
	for _, m := range hist.Messages {
		found = found || (m.Content == "during the outage" && (sent.MessageID == "" || m.MessageID == sent.MessageID))
	}
	if !found {
		t.Fatalf("the message acknowledged during the outage is not in Bob's history: %+v", hist.Messages)
	}
	// Live again: the nodes' subscriptions are back (tried until then:
	// the other node may reconnect a moment later).
	testutil.Eventually(t, 20*time.Second, func() bool { return c.nodes[0].Reachable(t.Context(), c.nodes[1].NodePrefix()) }, "node A reaches node B")
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "after"}, nil)
	bob.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "after" })
}
