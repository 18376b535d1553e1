package devstack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestReapNodeAnnouncesOnce: the connections a dead node left in the store
// are removed by one surviving node's ReapNode (the cluster's OnNodeDead),
// and announced as the users in the room see it: Bob, whose two tabs were
// both on the dead node, leaves once and goes offline once; Alice, who
// also has a tab on a live node, neither leaves nor goes offline. The
// connections of the live nodes stay.
func TestReapNodeAnnouncesOnce(t *testing.T) {
	t.Parallel()
	testutil.Postgres(t)
	c := startCluster(t, clusterNodes, false)
	tg := c.target()
	ctx := t.Context()
	acme := "acme-reap"
	carol := tg.Connect(t, "carol", "Carol", acme) // node 0
	alice := tg.Connect(t, "alice", "Alice", acme) // node 1
	var room chattest.Room
	carol.OK("createRoom", map[string]any{"name": "Reap"}, &room)
	carol.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)

	// What the dead node left: its prefix is no live node's.
	const dead = "dEaD"
	for _, n := range c.nodes {
		if n.NodePrefix() == dead {
			t.Skip("a live node drew the dead prefix")
		}
	}
	now := c.clock.Now()
	put := func(rest, user, name string) {
		t.Helper()
		id := dead + rest + "="
		conn := store.Connection{ConnectionID: id, TenantID: acme, UserID: user, Username: name, ConnectedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := tg.Store.PutConnection(ctx, conn); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.Store.JoinRoom(ctx, store.Membership{TenantID: acme, RoomID: room.RoomID, ConnectionID: id,
			UserID: user, Username: name, JoinedAt: now, ExpiresAt: conn.ExpiresAt}, 0); err != nil {
			t.Fatal(err)
		}
	}
	put("bobTab00001", "bob", "Bob")
	put("bobTab00002", "bob", "Bob")
	put("aliceTab001", "alice", "Alice")

	if err := c.stacks[1].ReapNode(ctx, dead); err != nil {
		t.Fatal(err)
	}
	conns, err := tg.Store.TenantConnections(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 {
		t.Errorf("%d connections left, want 2 (carol's and alice's live ones): %+v", len(conns), conns)
	}
	for _, cn := range conns {
		if strings.HasPrefix(cn.ConnectionID, dead) {
			t.Errorf("connection %s of the dead node is still there", cn.ConnectionID)
		}
	}

	of := func(typ, user string, status ...string) func(chattest.Frame) bool {
		return func(f chattest.Frame) bool {
			d := string(f.Data)
			return f.Type == typ && strings.Contains(d, `"userId":"`+user+`"`) && (len(status) == 0 || strings.Contains(d, `"status":"`+status[0]+`"`))
		}
	}
	carol.Broadcast("user_left", room.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	carol.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "bob" && d["status"] == "offline" })
	carol.Quiet(of("user_left", "bob"), "a second user_left for bob")
	carol.Quiet(of("presence", "bob", "offline"), "a second offline for bob")
	carol.Quiet(of("user_left", "alice"), "user_left for alice, who is still in the room on a live node")
	carol.Quiet(of("presence", "alice", "offline"), "offline for alice, who is still online")

	// Again: nothing left to remove, nothing announced.
	if err := c.stacks[2].ReapNode(ctx, dead); err != nil {
		t.Fatal(err)
	}
	carol.Quiet(of("user_left", "bob"), "user_left for bob from a second clean-up")
}
