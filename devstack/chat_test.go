package devstack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/store"
)

type room struct {
	RoomID    string   `json:"roomId"`
	Name      string   `json:"name"`
	IsPrivate bool     `json:"isPrivate"`
	Members   []string `json:"members"`
}

type message struct {
	MessageID        string `json:"messageId"`
	RoomID           string `json:"roomId"`
	UserID           string `json:"userId"`
	Username         string `json:"username"`
	Content          string `json:"content"`
	MessageType      string `json:"messageType"`
	Edited           bool   `json:"edited"`
	Deleted          bool   `json:"deleted"`
	ReplyToMessageID string `json:"replyToMessageId"`
}

func TestAuthentication(t *testing.T) {
	e := startStack(t, "")
	good, _ := e.Token("alice", "Alice", "acme", time.Hour)
	expired, _ := e.Token("alice", "Alice", "acme", time.Second)
	e.clock.Add(time.Hour)
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"no token":     {"", 401},
		"garbage":      {"not.a.jwt", 401},
		"alg none":     {"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.", 401},
		"expired":      {expired, 401},
		"wrong secret": {strings.TrimSuffix(good, good[len(good)-4:]) + "AAAA", 401},
	} {
		if got := e.dialStatus(tc.token); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", name, got, tc.want)
		}
	}
	e.clock.Add(-time.Hour)
	c := e.connectToken(t, "alice", good)
	c.ok("ping", nil, nil)
	// The token may also come as ?authorization= (the header form is tested by the gateway).
	if got := e.dialStatus(good + "&x=1"); got != 101 {
		t.Fatalf("valid token: HTTP %d", got)
	}
}

func TestChatEndToEnd(t *testing.T) {
	t.Run("in-process", func(t *testing.T) { chatEndToEnd(t, startStack(t, "")) })
	// The same handlers pushing through the @connections HTTP API with the
	// AWS SDK client, as they do on AWS.
	t.Run("management-api", func(t *testing.T) { chatEndToEnd(t, startStackWith(t, "", true)) })
}

func chatEndToEnd(t *testing.T, e *env) {
	ctx := context.Background()
	alice := e.connect(t, "alice", "Alice", "acme")
	bob := e.connect(t, "bob", "Bob", "acme")
	bob2 := e.connect(t, "bob", "Bob", "acme") // Bob's second tab
	carol := e.connect(t, "carol", "Carol", "acme")
	mallory := e.connect(t, "mallory", "Mallory", "evil") // another tenant, same ids would not help her

	// Presence: Carol's arrival was announced to Alice once (one user, one entry).
	alice.broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "carol" && d["status"] == "online" })
	var online struct {
		Users []struct {
			UserID      string `json:"userId"`
			Connections int    `json:"connections"`
		} `json:"users"`
	}
	alice.ok("getOnlineUsers", nil, &online)
	if len(online.Users) != 3 {
		t.Fatalf("online users of acme: %+v", online.Users)
	}
	for _, u := range online.Users {
		if u.UserID == "bob" && u.Connections != 2 {
			t.Fatalf("bob has %d connections, want 2", u.Connections)
		}
	}
	mallory.ok("getOnlineUsers", nil, &online)
	if len(online.Users) != 1 || online.Users[0].UserID != "mallory" {
		t.Fatalf("tenant evil sees %+v", online.Users)
	}

	// Rooms: a public one and a private one.
	var lobby, secret room
	alice.ok("createRoom", map[string]any{"name": "  Lobby  ", "description": "everyone"}, &lobby)
	if lobby.Name != "Lobby" || lobby.IsPrivate {
		t.Fatalf("room %+v", lobby)
	}
	bob.broadcast("room_update", lobby.RoomID, nil)
	alice.ok("createRoom", map[string]any{"name": "Secret", "isPrivate": true, "members": []string{"bob"}}, &secret)
	bob.broadcast("room_update", secret.RoomID, nil)
	carol.quiet(func(f frame) bool { return f.Type == "room_update" && f.RoomID == secret.RoomID }, "private room_update")

	var list struct {
		Rooms  []room  `json:"rooms"`
		Cursor *string `json:"cursor"`
	}
	carol.ok("listRooms", nil, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].RoomID != lobby.RoomID {
		t.Fatalf("carol lists %+v", list.Rooms)
	}
	bob.ok("listRooms", map[string]any{"isPrivate": true}, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].RoomID != secret.RoomID {
		t.Fatalf("bob's private rooms %+v", list.Rooms)
	}
	mallory.ok("listRooms", nil, &list)
	if len(list.Rooms) != 0 {
		t.Fatalf("another tenant lists %+v", list.Rooms)
	}

	// Joining: the private room is for members; another tenant's room does not exist.
	carol.fails("joinRoom", map[string]any{"roomId": secret.RoomID}, "FORBIDDEN")
	mallory.fails("joinRoom", map[string]any{"roomId": lobby.RoomID}, "ROOM_NOT_FOUND")
	mallory.fails("getRoomHistory", map[string]any{"roomId": lobby.RoomID}, "ROOM_NOT_FOUND")
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	bob.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	alice.broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	bob2.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil) // Bob's second tab: no second user_joined
	carol.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	alice.broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "carol" })
	alice.quiet(func(f frame) bool {
		return f.Type == "user_joined" && strings.Contains(string(f.Data), `"bob"`)
	}, "second user_joined for bob")
	bob.ok("joinRoom", map[string]any{"roomId": secret.RoomID}, nil)

	// Sending: roomId may be omitted when in exactly one room.
	var m1 message
	carol.ok("sendMessage", map[string]any{"content": "  hello <b>all</b>  "}, &m1)
	if m1.Content != "hello <b>all</b>" || m1.MessageType != "TEXT" || m1.UserID != "carol" || m1.RoomID != lobby.RoomID {
		t.Fatalf("stored message %+v", m1)
	}
	for _, c := range []*client{alice, bob, bob2, carol} {
		c.broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m1.MessageID })
	}
	mallory.quiet(func(f frame) bool { return f.Type == "message" }, "message from another tenant")
	bob.fails("sendMessage", map[string]any{"content": "which room?"}, "ROOM_REQUIRED") // bob is in two rooms
	var m2 message
	bob.ok("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "hi carol", "replyToMessageId": m1.MessageID}, &m2)
	if m2.ReplyToMessageID != m1.MessageID {
		t.Fatalf("reply %+v", m2)
	}
	var s1 message
	bob.ok("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "psst"}, &s1)
	bob.fails("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "x", "replyToMessageId": m1.MessageID}, "MESSAGE_NOT_FOUND")
	bob.fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "   "}, "INVALID_REQUEST")
	bob.fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": strings.Repeat("x", 4097)}, "CONTENT_TOO_LARGE")
	bob.fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "x", "messageType": "SYSTEM"}, "FORBIDDEN")
	bob.fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "x", "messageType": "VIDEO"}, "INVALID_REQUEST")
	carol.fails("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "let me in"}, "NOT_IN_ROOM")
	var img message
	alice.ok("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "https://example.com/cat.png", "messageType": "IMAGE"}, &img)

	// Edit and delete: the author only.
	carol.fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "hijacked"}, "NOT_AUTHOR")
	carol.fails("deleteMessage", map[string]any{"messageId": m2.MessageID}, "NOT_AUTHOR")
	mallory.fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "x"}, "MESSAGE_NOT_FOUND")
	var edited message
	bob2.ok("editMessage", map[string]any{"messageId": m2.MessageID, "content": "hi Carol!"}, &edited)
	if !edited.Edited || edited.Content != "hi Carol!" {
		t.Fatalf("edited %+v", edited)
	}
	carol.broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m2.MessageID && d["edited"] == true })
	bob.ok("deleteMessage", map[string]any{"messageId": m2.MessageID}, nil)
	carol.broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m2.MessageID && d["deleted"] == true })
	bob.fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "undo"}, "MESSAGE_DELETED")

	// History: newest first, the deleted message in its place without content.
	var hist struct {
		Messages []message `json:"messages"`
		Cursor   *string   `json:"cursor"`
	}
	carol.ok("getRoomHistory", map[string]any{"roomId": lobby.RoomID}, &hist)
	if len(hist.Messages) != 3 || hist.Messages[0].MessageID != img.MessageID || hist.Messages[1].MessageID != m2.MessageID || hist.Messages[2].MessageID != m1.MessageID {
		t.Fatalf("history %+v", hist.Messages)
	}
	if !hist.Messages[1].Deleted || hist.Messages[1].Content != "" {
		t.Fatalf("deleted message in history: %+v", hist.Messages[1])
	}
	carol.fails("getRoomHistory", map[string]any{"roomId": secret.RoomID}, "FORBIDDEN")

	// Typing goes to the others, not to the typist's own tabs; it is rate limited.
	alice.ok("typingStart", map[string]any{"roomId": lobby.RoomID}, nil)
	bob.broadcast("typing", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "alice" && d["isTyping"] == true })
	alice.fails("typingStart", map[string]any{"roomId": lobby.RoomID}, "RATE_LIMITED")
	alice.ok("typingStop", map[string]any{"roomId": lobby.RoomID}, nil)
	bob2.broadcast("typing", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "alice" && d["isTyping"] == false })
	alice.quiet(func(f frame) bool { return f.Type == "typing" }, "own typing broadcast")

	// Room presence: one entry per user.
	alice.ok("getOnlineUsers", map[string]any{"roomId": lobby.RoomID}, &online)
	if len(online.Users) != 3 {
		t.Fatalf("lobby online: %+v", online.Users)
	}

	// Leaving: Bob's first tab leaves, his second is still there: no user_left.
	bob.ok("leaveRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	bob2.ok("leaveRoom", nil, nil) // the only room of this tab
	alice.broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	bob.fails("leaveRoom", map[string]any{"roomId": lobby.RoomID}, "NOT_IN_ROOM")

	// Heartbeat answers and moves the expiry.
	var hb struct {
		ExpiresAt string `json:"expiresAt"`
	}
	carol.ok("heartbeat", nil, &hb)
	if hb.ExpiresAt == "" {
		t.Fatal("heartbeat without expiresAt")
	}

	// Disconnects: Carol leaves the lobby and goes offline.
	carol.close()
	alice.broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "carol" })
	alice.broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "carol" && d["status"] == "offline" })
	// Bob closing one of two tabs is not going offline.
	bob.close()
	bob2.ok("ping", nil, nil)
	alice.quiet(func(f frame) bool {
		return f.Type == "presence" && strings.Contains(string(f.Data), `"bob"`) && strings.Contains(string(f.Data), "offline")
	}, "bob offline while a tab is open")

	// The store afterwards.
	msgs, _, err := e.Store.ListMessages(ctx, "acme", lobby.RoomID, store.Page{Limit: 10})
	if err != nil || len(msgs) != 3 {
		t.Fatalf("stored lobby messages: %d %v", len(msgs), err)
	}
	if msgs[1].Content != "" || !msgs[1].Deleted || msgs[2].Content != "hello <b>all</b>" {
		t.Fatalf("stored %+v", msgs)
	}
	if _, err := e.Store.GetMessage(ctx, "evil", m1.MessageID); err == nil {
		t.Fatal("message visible from another tenant in the store")
	}
	eventually(t, func() bool {
		cs, _ := e.Store.TenantConnections(ctx, "acme")
		return len(cs) == 2 // alice, bob2
	}, "acme connections in the store")
	members, _ := e.Store.RoomMembers(ctx, "acme", lobby.RoomID)
	if len(members) != 1 || members[0].UserID != "alice" {
		t.Fatalf("lobby members in the store: %+v", members)
	}
}

func TestMalformedRequestsChangeNothing(t *testing.T) {
	malformedRequestsChangeNothing(t, startStack(t, ""))
}

func malformedRequestsChangeNothing(t *testing.T, e *env) {
	ctx := context.Background()
	alice := e.connect(t, "alice", "Alice", "acme")
	var lobby room
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)

	for _, tc := range []struct {
		body, code, requestID string
	}{
		{`not json`, "INVALID_JSON", ""},
		{`{"action":"sendMessage","data":{"content":"x"`, "INVALID_JSON", ""},
		{`[1,2,3]`, "INVALID_JSON", ""},
		{`{"data":{},"requestId":"r1"}`, "INVALID_REQUEST", "r1"},
		{`{"action":42,"requestId":"r2"}`, "INVALID_REQUEST", "r2"},
		{`{"action":"fly","requestId":"r3"}`, "UNKNOWN_ACTION", "r3"},
		{`{"action":"sendMessage","data":"hello","requestId":"r4"}`, "INVALID_REQUEST", "r4"},
		{`{"action":"sendMessage","data":{"content":42},"requestId":"r5"}`, "INVALID_REQUEST", "r5"},
		{`{"action":"sendMessage","data":{"roomId":["x"],"content":"x"},"requestId":"r6"}`, "INVALID_REQUEST", "r6"},
		{`{"action":"createRoom","data":{"name":"x","isPrivate":"yes"},"requestId":"r7"}`, "INVALID_REQUEST", "r7"},
		{`{"action":"createRoom","data":{},"requestId":"r8"}`, "INVALID_REQUEST", "r8"},
		{`{"action":"listRooms","data":{"limit":1000},"requestId":"r9"}`, "INVALID_REQUEST", "r9"},
		{`{"action":"listRooms","data":{"cursor":"forged"},"requestId":"r10"}`, "INVALID_CURSOR", "r10"},
		{`{"action":"getRoomHistory","data":{"roomId":"` + lobby.RoomID + `","cursor":"!!"},"requestId":"r11"}`, "INVALID_CURSOR", "r11"},
		{`{"action":"joinRoom","data":{},"requestId":"r12"}`, "INVALID_REQUEST", "r12"},
		{`{"action":"joinRoom","data":{"roomId":"nope"},"requestId":"r13"}`, "ROOM_NOT_FOUND", "r13"},
		{`{"action":"editMessage","data":{"messageId":"nope","content":"x"},"requestId":"r14"}`, "MESSAGE_NOT_FOUND", "r14"},
		{`{"action":"deleteMessage","data":{},"requestId":"r15"}`, "INVALID_REQUEST", "r15"},
		{`{"action":"sendMessage","requestId":7}`, "INVALID_REQUEST", ""},
	} {
		alice.send(tc.body)
		f := alice.next(func(f frame) bool { return f.Type == "error" }, "error reply to "+tc.body)
		if f.Code != tc.code || f.RequestID != tc.requestID || f.Error == "" || f.Timestamp == "" {
			t.Fatalf("%s: got %s, want code %s requestId %q", tc.body, f.raw, tc.code, tc.requestID)
		}
		if tc.code == "INVALID_REQUEST" && strings.Contains(tc.body, `"content":42`) && !strings.Contains(f.Error, "data.content") {
			t.Fatalf("the error does not name the field: %q", f.Error)
		}
	}
	// Nothing changed, and the connection still works.
	msgs, _, _ := e.Store.ListMessages(ctx, "acme", lobby.RoomID, store.Page{Limit: 10})
	rooms, _, _ := e.Store.ListRooms(ctx, "acme", "alice", store.RoomsAll, store.Page{Limit: 10})
	if len(msgs) != 0 || len(rooms) != 1 {
		t.Fatalf("malformed requests changed the store: %d messages, %d rooms", len(msgs), len(rooms))
	}
	alice.ok("sendMessage", map[string]any{"content": "still here"}, nil)
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := startStack(t, dir)
	alice := e.connect(t, "alice", "Alice", "acme")
	var lobby room
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	var sent []string
	for i := 0; i < 20; i++ {
		var m message
		alice.ok("sendMessage", map[string]any{"content": "m" + string(rune('a'+i))}, &m)
		sent = append(sent, m.MessageID)
	}
	token, _ := e.Token("alice", "Alice", "acme", time.Hour)
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}

	e2 := startStack(t, dir)
	alice2 := e2.connectToken(t, "alice", token) // the same secret signs tokens after a restart
	var hist struct {
		Messages []message `json:"messages"`
	}
	alice2.ok("getRoomHistory", map[string]any{"roomId": lobby.RoomID, "limit": 100}, &hist)
	if len(hist.Messages) != len(sent) {
		t.Fatalf("%d messages after restart, want %d", len(hist.Messages), len(sent))
	}
	for i, m := range hist.Messages {
		if m.MessageID != sent[len(sent)-1-i] {
			t.Fatalf("message %d is %s, want %s", i, m.MessageID, sent[len(sent)-1-i])
		}
	}
}

func TestHistoryPagination(t *testing.T) { historyPagination(t, startStack(t, "")) }

func historyPagination(t *testing.T, e *env) {
	alice := e.connect(t, "alice", "Alice", "acme")
	var lobby room
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	for i := 0; i < 25; i++ {
		alice.ok("sendMessage", map[string]any{"content": "message"}, nil)
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		data := map[string]any{"roomId": lobby.RoomID, "limit": 10}
		if cursor != "" {
			data["cursor"] = cursor
		}
		var page struct {
			Messages []message `json:"messages"`
			Cursor   *string   `json:"cursor"`
		}
		alice.ok("getRoomHistory", data, &page)
		pages++
		for _, m := range page.Messages {
			if seen[m.MessageID] {
				t.Fatalf("message %s on two pages", m.MessageID)
			}
			seen[m.MessageID] = true
		}
		if page.Cursor == nil {
			break
		}
		if strings.Contains(*page.Cursor, "TENANT") || strings.Contains(*page.Cursor, lobby.RoomID) {
			t.Fatalf("cursor leaks keys: %s", *page.Cursor)
		}
		cursor = *page.Cursor
	}
	if len(seen) != 25 || pages != 3 {
		t.Fatalf("%d messages over %d pages", len(seen), pages)
	}
}

// TestGhostConnectionExpires: a connection whose $disconnect never ran
// disappears from presence after its expiry, and the tenant hears of it.
func TestGhostConnectionExpires(t *testing.T) { ghostConnectionExpires(t, startStack(t, "")) }

func ghostConnectionExpires(t *testing.T, e *env) {
	ctx := context.Background()
	alice := e.connect(t, "alice", "Alice", "acme")
	var lobby room
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)

	// A ghost: a connection record whose WebSocket is long gone.
	now := e.clock.Now()
	ghost := store.Connection{ConnectionID: "GhostGhostGhost=", TenantID: "acme", UserID: "ghost", Username: "Ghost",
		ConnectedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := e.Store.PutConnection(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.JoinRoom(ctx, store.Membership{TenantID: "acme", RoomID: lobby.RoomID, ConnectionID: ghost.ConnectionID,
		UserID: "ghost", Username: "Ghost", JoinedAt: now, ExpiresAt: ghost.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	var online struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	alice.ok("getOnlineUsers", nil, &online)
	if len(online.Users) != 2 {
		t.Fatalf("online before expiry: %+v", online.Users)
	}

	// Alice keeps heartbeating; the ghost cannot.
	e.clock.Add(6 * time.Minute)
	alice.ok("heartbeat", nil, nil)
	e.clock.Add(6 * time.Minute)

	// Reads ignore the expired ghost even before the sweeper ran.
	alice.ok("getOnlineUsers", nil, &online)
	if len(online.Users) != 1 || online.Users[0].UserID != "alice" {
		t.Fatalf("online after expiry: %+v", online.Users)
	}
	n, err := e.Sweep(ctx)
	if err != nil || n < 2 {
		t.Fatalf("sweep removed %d items: %v", n, err)
	}
	alice.broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "ghost" && d["status"] == "offline" })
	alice.broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "ghost" })
	if _, _, err := e.Store.DeleteConnection(ctx, ghost.ConnectionID); err == nil {
		t.Fatal("the ghost is still in the store")
	}
	// Alice, who heartbeated, is untouched.
	alice.ok("sendMessage", map[string]any{"content": "still here"}, nil)
}

// TestGoneConnectionIsRemovedOnPost: a connection record whose socket is
// gone is removed the first time a broadcast gets 410 for it.
func TestGoneConnectionIsRemovedOnPost(t *testing.T) {
	for _, viaAPI := range []bool{false, true} {
		e := startStackWith(t, "", viaAPI)
		goneConnectionIsRemovedOnPost(t, e)
	}
}

func goneConnectionIsRemovedOnPost(t *testing.T, e *env) {
	ctx := context.Background()
	alice := e.connect(t, "alice", "Alice", "acme")
	var lobby room
	alice.ok("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.ok("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	old := e.clock.Now().Add(-time.Minute)
	ghost := store.Connection{ConnectionID: "GoneGoneGoneGon=", TenantID: "acme", UserID: "ghost", Username: "Ghost",
		ConnectedAt: old, ExpiresAt: old.Add(10 * time.Minute)}
	e.Store.PutConnection(ctx, ghost)
	e.Store.JoinRoom(ctx, store.Membership{TenantID: "acme", RoomID: lobby.RoomID, ConnectionID: ghost.ConnectionID, UserID: "ghost", Username: "Ghost", JoinedAt: old, ExpiresAt: ghost.ExpiresAt})

	alice.ok("sendMessage", map[string]any{"content": "anyone?"}, nil)
	alice.broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "ghost" && d["status"] == "offline" })
	if _, err := e.Store.GetConnection(ctx, ghost.ConnectionID); err == nil {
		t.Fatal("gone connection still stored")
	}
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
