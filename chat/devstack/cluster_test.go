package devstack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestChatAcrossTwoClusterNodes: `switchboard dev --store postgres
// --cluster-listen …` on two nodes: a message Alice sends on node A
// reaches Bob on node B, through the chat's broadcast (one cluster
// message to B).
func TestChatAcrossTwoClusterNodes(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, false)
	tg := c.target()                                 // clients connect to the nodes in turn
	alice := tg.Connect(t, "alice", "Alice", "acme") // node A
	bob := tg.Connect(t, "bob", "Bob", "acme")       // node B
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Across"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "hello from node A"}, nil)
	bob.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "hello from node A" })
	bob.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "hello from node B"}, nil)
	alice.Broadcast("message", room.RoomID, func(m map[string]any) bool { return m["content"] == "hello from node B" })
}

// clusterTabs connects alice to the first node and two tabs of bob to the
// second and third, all in tenant, and checks where they landed.
func clusterTabs(t *testing.T, c *testCluster, tg *chattest.Target, tenant string) (alice, bob1, bob2 *chattest.Client) {
	t.Helper()
	alice = tg.Connect(t, "alice", "Alice", tenant) // node 0
	bob1 = tg.Connect(t, "bob", "Bob", tenant)      // node 1
	bob2 = tg.Connect(t, "bob", "Bob", tenant)      // node 2
	ctx := t.Context()
	nodeOf := func(id string) int {
		for i, n := range c.nodes {
			if strings.HasPrefix(id, n.NodePrefix()) {
				return i
			}
		}
		return -1
	}
	as, err := tg.Store.UserConnections(ctx, tenant, "alice")
	must(t, err)
	bs, err := tg.Store.UserConnections(ctx, tenant, "bob")
	must(t, err)
	if len(as) != 1 || len(bs) != 2 || nodeOf(as[0].ConnectionID) != 0 ||
		nodeOf(bs[0].ConnectionID)+nodeOf(bs[1].ConnectionID) != 3 || nodeOf(bs[0].ConnectionID)*nodeOf(bs[1].ConnectionID) != 2 {
		t.Fatalf("alice's connections %+v, bob's %+v: want alice's on node 0, bob's on nodes 1 and 2", as, bs)
	}
	return alice, bob1, bob2
}

// The broadcasts about bob a member of the room sees.
func bobLeft(roomID string) func(chattest.Frame) bool {
	return func(f chattest.Frame) bool {
		return f.Type == "user_left" && f.RoomID == roomID && strings.Contains(string(f.Data), `"bob"`)
	}
}

func bobPresence(status string) func(chattest.Frame) bool {
	return func(f chattest.Frame) bool {
		return f.Type == "presence" && strings.Contains(string(f.Data), `"bob"`) && strings.Contains(string(f.Data), `"`+status+`"`)
	}
}

// TestPresenceAcrossNodes: a user with tabs on two nodes is online once,
// joins a room once; closing one tab announces nothing; closing the last
// announces user_left and offline once, to a member on a third node.
func TestPresenceAcrossNodes(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t)
	c := startCluster(t, clusterNodes, false)
	tg := c.target()
	alice, bob1, bob2 := clusterTabs(t, c, tg, "acme-tabs")

	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "bob" && d["status"] == "online" })
	alice.Quiet(bobPresence("online"), "a second presence online for bob (his second tab)", bob1, bob2)
	var online struct {
		Users []struct {
			UserID      string `json:"userId"`
			Connections int    `json:"connections"`
		} `json:"users"`
	}
	alice.OK("getOnlineUsers", nil, &online)
	if len(online.Users) != 2 {
		t.Fatalf("online users: %+v, want alice and bob, once each", online.Users)
	}
	for _, u := range online.Users {
		if u.UserID == "bob" && u.Connections != 2 {
			t.Fatalf("bob has %d connections, want 2 (one per node)", u.Connections)
		}
	}

	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Tabs"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob1.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob2.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	alice.Broadcast("user_joined", room.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	alice.Quiet(func(f chattest.Frame) bool {
		return f.Type == "user_joined" && strings.Contains(string(f.Data), `"bob"`)
	},
		"a second user_joined for bob (his second tab)", bob2)

	// One tab closes (node 1): bob is still in the room and online.
	bob1.Close()
	chattest.Eventually(t, 10*time.Second, func() bool {
		n, err := tg.Store.CountUserConnections(t.Context(), "acme-tabs", "bob", 5)
		return err == nil && n == 1
	}, "bob's first tab's $disconnect")
	alice.Quiet(bobLeft(room.RoomID), "user_left for bob while his tab on another node is in the room", bob2)
	alice.Quiet(bobPresence("offline"), "presence offline for bob while his tab on another node is open")
	bob2.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": "still here"}, nil)
	alice.Broadcast("message", room.RoomID, func(d map[string]any) bool { return d["content"] == "still here" })

	// The last tab closes (node 2): once each, on node 0.
	bob2.Close()
	alice.Broadcast("user_left", room.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "bob" && d["status"] == "offline" })
	alice.Quiet(bobLeft(room.RoomID), "a second user_left for bob")
	alice.Quiet(bobPresence("offline"), "a second presence offline for bob")
}

// TestHeartbeatsAcrossNodes: the connection TTL across nodes. Bob's tab
// on node 2 heartbeats, his tab on node 1 does not: when node 1's tab
// expires, the sweepers of all three nodes remove it once and nobody hears
// anything (bob is still in the room and online through node 2). When the
// other tab expires too, a member on node 0 hears user_left and offline
// once.
func TestHeartbeatsAcrossNodes(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t)
	c := startCluster(t, clusterNodes, false)
	tg := c.target()
	ctx := t.Context()
	alice, bob1, bob2 := clusterTabs(t, c, tg, "acme-ttl")
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "TTL"}, &room)
	for _, cl := range []*chattest.Client{alice, bob1, bob2} {
		cl.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	}
	ttl := chat.DefaultConnectionTTL

	// Just before the TTL, alice and bob's second tab heartbeat; then the
	// first tab's records expire.
	c.clock.Add(ttl - time.Minute)
	alice.OK("heartbeat", nil, nil)
	bob2.OK("heartbeat", nil, nil)
	c.clock.Add(2 * time.Minute)
	n, err := c.sweepAll(ctx)
	must(t, err)
	if n != 2 {
		t.Fatalf("the sweepers removed %d items, want 2 (bob's first tab and its membership)", n)
	}
	if n, err := tg.Store.CountUserConnections(ctx, "acme-ttl", "bob", 5); err != nil || n != 1 {
		t.Fatalf("bob has %d live connections (%v), want 1", n, err)
	}
	alice.Quiet(bobLeft(room.RoomID), "user_left for bob while his heartbeating tab is in the room")
	alice.Quiet(bobPresence("offline"), "presence offline for bob while his heartbeating tab is open")

	// Only alice heartbeats now: bob's second tab expires.
	c.clock.Add(ttl - 2*time.Minute)
	alice.OK("heartbeat", nil, nil)
	c.clock.Add(3 * time.Minute)
	for range 3 {
		if _, err := c.sweepAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alice.Broadcast("user_left", room.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "bob" && d["status"] == "offline" })
	alice.Quiet(bobLeft(room.RoomID), "a second user_left for bob")
	alice.Quiet(bobPresence("offline"), "a second presence offline for bob")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
