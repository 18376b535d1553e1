package devstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store/postgres"
	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/queue"
)

// TestChatAcrossTwoClusterNodes: `switchboard dev --store postgres
// --cluster-listen …` on two nodes: a message Alice sends on node A
// reaches Bob on node B, through the chat's broadcast (one cluster
// message to B).
func TestChatAcrossTwoClusterNodes(t *testing.T) {
	t.Parallel()
	url := testutil.Postgres(t)
	dir := t.TempDir() // the dev secret, shared: a token verifies on both nodes
	var seed string
	var nodes []*cluster.Node
	var targets []*chattest.Target
	for i := range 2 {
		ccfg := cluster.Config{API: "chat", Listen: "127.0.0.1:0", Secret: "s", Logger: testutil.DiscardLogger()}
		if i > 0 {
			ccfg.Peers = []string{seed}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		node, err := cluster.Join(ctx, ccfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			seed = node.ClusterAddr().String()
		}
		store, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		st, err := devstack.New(devstack.Options{
			Store: store, Cluster: node, DataDir: dir, SweepInterval: time.Hour,
			FanoutQueue: queue.LocalOptions{Logger: testutil.DiscardLogger()},
			Logger:      testutil.DiscardLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := node.Serve(st.Gateway); err != nil {
			t.Fatal(err)
		}
		if err := st.Serve("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := st.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
			node.Close(ctx)
		})
		nodes = append(nodes, node)
		targets = append(targets, &chattest.Target{
			URL: st.URL(),
			Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
				return auth.MintDevToken(st.Secret, id, ttl, issuedAt)
			},
			Store: st.Store,
		})
	}
	// Each node reaches the other before clients come.
	testutil.Eventually(t, 10*time.Second, func() bool {
		return nodes[0].Reachable(t.Context(), nodes[1].NodePrefix()) && nodes[1].Reachable(t.Context(), nodes[0].NodePrefix())
	}, "the nodes reach each other")

	alice := targets[0].Connect(t, "alice", "Alice", "acme")
	bob := targets[1].Connect(t, "bob", "Bob", "acme")
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Across"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "hello from node A"}, nil)
	bob.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "hello from node A" })
	bob.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "hello from node B"}, nil)
	alice.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "hello from node B" })
}
