package devstack_test

import (
	"slices"
	"testing"
)

// TestGetOnlineUsersWithoutRoomIsTheTenant pins what docs/protocol.md says
// of getOnlineUsers: without roomId it lists every online user of the
// tenant, even when the connection is in exactly one room (unlike
// sendMessage, leaveRoom and the typing actions, where that room is
// meant); with roomId, that room's online members.
func TestGetOnlineUsersWithoutRoomIsTheTenant(t *testing.T) {
	t.Parallel()
	_, tg := startStack(t, stackOptions{dir: t.TempDir()})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	tg.Connect(t, "bob", "Bob", "acme") // online, in no room
	tg.Connect(t, "mallory", "Mallory", "other")
	var room struct {
		RoomID string `json:"roomId"`
	}
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)

	type online struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
		RoomID *string `json:"roomId"`
	}
	ids := func(o online) []string {
		var out []string
		for _, u := range o.Users {
			out = append(out, u.UserID)
		}
		slices.Sort(out)
		return out
	}
	var tenant online
	alice.OK("getOnlineUsers", map[string]any{}, &tenant)
	if got := ids(tenant); !slices.Equal(got, []string{"alice", "bob"}) || tenant.RoomID != nil {
		t.Errorf("getOnlineUsers without roomId from a connection in one room: %v (roomId %v), want the tenant [alice bob] and no roomId", got, tenant.RoomID)
	}
	var inRoom online
	alice.OK("getOnlineUsers", map[string]any{"roomId": room.RoomID}, &inRoom)
	if got := ids(inRoom); !slices.Equal(got, []string{"alice"}) || inRoom.RoomID == nil || *inRoom.RoomID != room.RoomID {
		t.Errorf("getOnlineUsers of the room: %v (roomId %v), want [alice] and the roomId", got, inRoom.RoomID)
	}
}
