package devstack_test

import (
	"context"
	"testing"
	"time"

	sbclient "github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/internal/chattest"
)

// TestListsNotLive: a client is told when the lists it would keep from
// broadcasts are not live (docs/protocol.md, "Lists that are not live"):
// the joinRoom and getOnlineUsers replies say whether a room's joins and
// leaves, or the tenant's presence, are announced (announced), and the
// broadcasts whose fan-out counted the recipients anyway (message and
// typing to the room, room_update to the tenant) say announced: false
// above the threshold, so that a member learns when its room crossed it.
// Both on the wire (chattest) and through the Go SDK.
func TestListsNotLive(t *testing.T) {
	t.Parallel()
	_, tg := startStack(t, stackOptions{announceMax: 2, presenceMax: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	alice := tg.Connect(t, "alice", "Alice", "acme")
	bob, err := sbclient.Dial(ctx, sbclient.Options{URL: tg.URL, Token: tg.MintToken(t, "bob", "Bob", "acme"), NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "Big"}, &room)
	type joined struct {
		AlreadyJoined bool  `json:"alreadyJoined"`
		Announced     *bool `json:"announced"`
	}
	// join is the join that brings a user into the room: its reply says
	// whether the room is announced.
	join := func(c *chattest.Client) joined {
		t.Helper()
		var j joined
		c.OK("joinRoom", map[string]any{"roomId": room.RoomID}, &j)
		if j.Announced == nil {
			t.Fatalf("the joinRoom reply has no announced")
		}
		return j
	}
	online := func(roomID string) (users int, announced bool) {
		t.Helper()
		var o struct {
			Users     []struct{} `json:"users"`
			Announced *bool      `json:"announced"`
		}
		data := map[string]any{}
		if roomID != "" {
			data["roomId"] = roomID
		}
		alice.OK("getOnlineUsers", data, &o)
		if o.Announced == nil {
			t.Fatalf("the getOnlineUsers reply (roomId %q) has no announced", roomID)
		}
		return len(o.Users), *o.Announced
	}
	// bobHears waits for bob's next event of type typ and says whether it
	// told bob that the lists are not live.
	bobHears := func(typ string) bool {
		t.Helper()
		for {
			select {
			case ev := <-bob.Events():
				if ev.Type == typ {
					return ev.NotAnnounced
				}
			case <-ctx.Done():
				t.Fatalf("bob: no %s event", typ)
			}
		}
	}
	send := func(content string) {
		t.Helper()
		alice.OK("sendMessage", map[string]any{"roomId": room.RoomID, "content": content}, nil)
	}

	// Two connections in a room of at most two announced: live.
	if j := join(alice); !*j.Announced {
		t.Errorf("alice's join, the room's first connection: announced false")
	}
	r, err := bob.JoinRoomReply(ctx, room.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Announced == nil || !*r.Announced || r.Room.RoomID != room.RoomID {
		t.Errorf("bob's join (SDK), the second connection: %+v, want announced", r)
	}
	if n, live := online(room.RoomID); n != 2 || !live {
		t.Errorf("getOnlineUsers of the room of 2: %d users, announced %v; want 2, true", n, live)
	}
	if n, live := online(""); n != 2 || !live {
		t.Errorf("getOnlineUsers of the tenant of 2 connections: %d users, announced %v; want 2, true", n, live)
	}
	send("small")
	if bobHears("message") {
		t.Errorf("a message in a room of 2 says announced: false")
	}

	// The third connection takes the room over the threshold.
	carol := tg.Connect(t, "carol", "Carol", "acme")
	if j := join(carol); *j.Announced {
		t.Errorf("carol's join, the room's third connection: announced true")
	}
	// A join that announces nothing (alice is in already) counts nothing
	// either: its reply leaves announced out (getOnlineUsers says).
	var again joined
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, &again)
	if again.Announced != nil || !again.AlreadyJoined {
		t.Errorf("alice's second join of the room of 3: %+v, want alreadyJoined, announced absent", again)
	}
	if n, live := online(room.RoomID); n != 3 || live {
		t.Errorf("getOnlineUsers of the room of 3: %d users, announced %v; want 3, false", n, live)
	}
	// A member who missed the crossing hears it with the next message.
	send("big")
	if !bobHears("message") {
		t.Errorf("a message in a room of 3 does not say announced: false (SDK)")
	}
	f := carol.Next(func(f chattest.Frame) bool { return f.Type == "message" }, "the message in the room of 3")
	if f.Announced == nil || *f.Announced {
		t.Errorf("a message in a room of 3: %s, want announced: false", f.Raw)
	}
	carol.OK("typingStart", map[string]any{"roomId": room.RoomID}, nil)
	if !bobHears("typing") {
		t.Errorf("typing in a room of 3 does not say announced: false")
	}

	// The tenant: presence is live up to 3 connections.
	if _, live := online(""); !live {
		t.Errorf("getOnlineUsers of the tenant of 3 connections: announced false")
	}
	tg.Connect(t, "dave", "Dave", "acme")
	if n, live := online(""); n != 4 || live {
		t.Errorf("getOnlineUsers of the tenant of 4 connections: %d users, announced %v; want 4, false", n, live)
	}
	alice.OK("createRoom", map[string]any{"name": "Another"}, nil)
	if !bobHears("room_update") {
		t.Errorf("room_update in a tenant of 4 connections does not say announced: false")
	}
	all, err := bob.OnlineUsersReply(ctx, sbclient.OnlineUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Users) != 4 || all.Total != 4 || all.Announced || all.RoomID != "" {
		t.Errorf("OnlineUsersReply (SDK) of the tenant of 4: %+v, want 4 users, not announced", all)
	}
	// A limit lists the first by name, and counts all.
	some, err := bob.OnlineUsersReply(ctx, sbclient.OnlineUsersInput{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(some.Users) != 2 || some.Users[0].UserID != "alice" || some.Users[1].UserID != "bob" || some.Total != 4 || some.Announced {
		t.Errorf("OnlineUsersReply (SDK) of the tenant of 4, limit 2: %+v, want alice and bob of 4", some)
	}
	for _, bad := range []any{0, 1001, 1.5, "2"} {
		alice.Fails("getOnlineUsers", map[string]any{"limit": bad}, "INVALID_REQUEST")
	}

	// Back to two: live again, and the messages say nothing.
	carol.OK("leaveRoom", map[string]any{"roomId": room.RoomID}, nil)
	in, err := bob.OnlineUsersReply(ctx, sbclient.OnlineUsersInput{RoomID: room.RoomID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Users) != 2 || in.Total != 2 || !in.Announced || in.RoomID != room.RoomID {
		t.Errorf("OnlineUsersReply (SDK) of the room back to 2: %+v, want 2 users, announced", in)
	}
	send("small again")
	if bobHears("message") {
		t.Errorf("a message in the room back to 2 says announced: false")
	}
}
