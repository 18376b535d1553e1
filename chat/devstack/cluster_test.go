package devstack_test

import (
	"testing"

	"github.com/switchboard-ws/switchboard/internal/chattest"
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
