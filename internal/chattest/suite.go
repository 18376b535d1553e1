package chattest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store"
)

// Room is a room as replies carry it.
type Room struct {
	RoomID    string   `json:"roomId"`
	Name      string   `json:"name"`
	IsPrivate bool     `json:"isPrivate"`
	Members   []string `json:"members"`
}

// Message is a message as replies and broadcasts carry it.
type Message struct {
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

// Authentication: the upgrade is refused with 401 without a valid token,
// and a valid one connects.
func Authentication(t *testing.T, tg *Target) {
	tenant := unique("acme")
	alice := auth.Identity{UserID: "alice", Username: "Alice", TenantID: tenant}
	mint := func(issuedAt time.Time, ttl time.Duration) string {
		t.Helper()
		tok, err := tg.Token(alice, issuedAt, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := tg.now()
	good := mint(now, time.Hour)
	cases := []struct {
		name, token string
	}{
		{"no token", ""},
		{"garbage", "not.a.jwt"},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9."},
		{"expired an hour ago", mint(now.Add(-2*time.Hour), time.Hour)},
		{"wrong secret", strings.TrimSuffix(good, good[len(good)-4:]) + "AAAA"},
	}
	check := func() {
		t.Helper()
		for _, tc := range cases {
			if got := tg.DialStatus("token=" + tc.token); got != 401 {
				t.Errorf("%s: HTTP %d, want 401", tc.name, got)
			}
		}
	}
	check()
	if tg.Clock != nil {
		// A token that expires while the clock moves on (and, an hour
		// later, the good one too).
		cases = append(cases, struct{ name, token string }{"expired by the clock", mint(now, time.Second)})
		tg.Clock.Add(time.Hour)
		check()
		tg.Clock.Add(-time.Hour)
	}
	c := tg.ConnectToken(t, "alice", good)
	c.OK("ping", nil, nil)
	if got := tg.DialStatus("token=" + good + "&x=1"); got != 101 {
		t.Fatalf("valid token with another parameter: HTTP %d", got)
	}
	// The token goes in ?token=: the authorizer's identity source, here
	// as in the AWS deployments, refuses a request without it before the
	// authorizer runs, even though the authorizer function would read
	// ?authorization= and an Authorization: Bearer header.
	if got := tg.DialStatus("authorization=" + good); got != 401 {
		t.Errorf("valid token as ?authorization=: HTTP %d, want 401", got)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(tg.dialURL(), http.Header{"Authorization": {"Bearer " + good}})
	if err == nil {
		conn.Close()
		t.Errorf("valid token in Authorization: Bearer without ?token=: connected, want 401")
	} else if resp == nil || resp.StatusCode != 401 {
		t.Errorf("valid token in Authorization: Bearer without ?token=: %v, want 401", err)
	}
}

// ChatEndToEnd: five users of two tenants, through every action.
func ChatEndToEnd(t *testing.T, tg *Target) {
	ctx := context.Background()
	acme, evil := unique("acme"), unique("evil")
	alice := tg.Connect(t, "alice", "Alice", acme)
	bob := tg.Connect(t, "bob", "Bob", acme)
	bob2 := tg.Connect(t, "bob", "Bob", acme) // Bob's second tab
	carol := tg.Connect(t, "carol", "Carol", acme)
	mallory := tg.Connect(t, "mallory", "Mallory", evil) // another tenant, same ids would not help her

	// Presence: Carol's arrival was announced to Alice once (one user, one entry).
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "carol" && d["status"] == "online" })
	var online struct {
		Users []struct {
			UserID      string `json:"userId"`
			Connections int    `json:"connections"`
		} `json:"users"`
	}
	alice.OK("getOnlineUsers", nil, &online)
	if len(online.Users) != 3 {
		t.Fatalf("online users of acme: %+v", online.Users)
	}
	for _, u := range online.Users {
		if u.UserID == "bob" && u.Connections != 2 {
			t.Fatalf("bob has %d connections, want 2", u.Connections)
		}
	}
	mallory.OK("getOnlineUsers", nil, &online)
	if len(online.Users) != 1 || online.Users[0].UserID != "mallory" {
		t.Fatalf("tenant evil sees %+v", online.Users)
	}

	// Rooms: a public one and a private one.
	var lobby, secret Room
	alice.OK("createRoom", map[string]any{"name": "  Lobby  ", "description": "everyone"}, &lobby)
	if lobby.Name != "Lobby" || lobby.IsPrivate {
		t.Fatalf("room %+v", lobby)
	}
	bob.Broadcast("room_update", lobby.RoomID, nil)
	alice.OK("createRoom", map[string]any{"name": "Secret", "isPrivate": true, "members": []string{"bob"}}, &secret)
	bob.Broadcast("room_update", secret.RoomID, nil)
	carol.Quiet(func(f Frame) bool { return f.Type == "room_update" && f.RoomID == secret.RoomID }, "private room_update", alice)

	var list struct {
		Rooms  []Room  `json:"rooms"`
		Cursor *string `json:"cursor"`
	}
	carol.OK("listRooms", nil, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].RoomID != lobby.RoomID {
		t.Fatalf("carol lists %+v", list.Rooms)
	}
	bob.OK("listRooms", map[string]any{"isPrivate": true}, &list)
	if len(list.Rooms) != 1 || list.Rooms[0].RoomID != secret.RoomID {
		t.Fatalf("bob's private rooms %+v", list.Rooms)
	}
	mallory.OK("listRooms", nil, &list)
	if len(list.Rooms) != 0 {
		t.Fatalf("another tenant lists %+v", list.Rooms)
	}

	// Joining: the private room is for members; another tenant's room does not exist.
	carol.Fails("joinRoom", map[string]any{"roomId": secret.RoomID}, "FORBIDDEN")
	mallory.Fails("joinRoom", map[string]any{"roomId": lobby.RoomID}, "ROOM_NOT_FOUND")
	mallory.Fails("getRoomHistory", map[string]any{"roomId": lobby.RoomID}, "ROOM_NOT_FOUND")
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	bob.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	alice.Broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	bob2.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil) // Bob's second tab: no second user_joined
	carol.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	alice.Broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "carol" })
	alice.Quiet(func(f Frame) bool {
		return f.Type == "user_joined" && strings.Contains(string(f.Data), `"bob"`)
	}, "second user_joined for bob", bob2)
	bob.OK("joinRoom", map[string]any{"roomId": secret.RoomID}, nil)

	// Sending: roomId may be omitted when in exactly one room.
	var m1 Message
	carol.OK("sendMessage", map[string]any{"content": "  hello <b>all</b>  "}, &m1)
	if m1.Content != "hello <b>all</b>" || m1.MessageType != "TEXT" || m1.UserID != "carol" || m1.RoomID != lobby.RoomID {
		t.Fatalf("stored message %+v", m1)
	}
	for _, c := range []*Client{alice, bob, bob2, carol} {
		c.Broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m1.MessageID })
	}
	mallory.Quiet(func(f Frame) bool { return f.Type == "message" }, "message from another tenant", carol)
	bob.Fails("sendMessage", map[string]any{"content": "which room?"}, "ROOM_REQUIRED") // bob is in two rooms
	var m2 Message
	bob.OK("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "hi carol", "replyToMessageId": m1.MessageID}, &m2)
	if m2.ReplyToMessageID != m1.MessageID {
		t.Fatalf("reply %+v", m2)
	}
	var s1 Message
	bob.OK("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "psst"}, &s1)
	bob.Fails("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "x", "replyToMessageId": m1.MessageID}, "MESSAGE_NOT_FOUND")
	bob.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "   "}, "INVALID_REQUEST")
	bob.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": strings.Repeat("x", 4097)}, "CONTENT_TOO_LARGE")
	bob.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "x", "messageType": "SYSTEM"}, "FORBIDDEN")
	bob.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "x", "messageType": "VIDEO"}, "INVALID_REQUEST")
	carol.Fails("sendMessage", map[string]any{"roomId": secret.RoomID, "content": "let me in"}, "NOT_IN_ROOM")
	mallory.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "from another tenant"}, "NOT_IN_ROOM")
	carol.Fails("sendMessage", map[string]any{"roomId": "no-such-room", "content": "x"}, "NOT_IN_ROOM")
	carol.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID + "\x00", "content": "x"}, "NOT_IN_ROOM")
	var img Message
	alice.OK("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "https://example.com/cat.png", "messageType": "IMAGE"}, &img)

	// Edit and delete: the author only.
	carol.Fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "hijacked"}, "NOT_AUTHOR")
	carol.Fails("deleteMessage", map[string]any{"messageId": m2.MessageID}, "NOT_AUTHOR")
	mallory.Fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "x"}, "MESSAGE_NOT_FOUND")
	var edited Message
	bob2.OK("editMessage", map[string]any{"messageId": m2.MessageID, "content": "hi Carol!"}, &edited)
	if !edited.Edited || edited.Content != "hi Carol!" {
		t.Fatalf("edited %+v", edited)
	}
	carol.Broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m2.MessageID && d["edited"] == true })
	bob.OK("deleteMessage", map[string]any{"messageId": m2.MessageID}, nil)
	carol.Broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["messageId"] == m2.MessageID && d["deleted"] == true })
	bob.Fails("editMessage", map[string]any{"messageId": m2.MessageID, "content": "undo"}, "MESSAGE_DELETED")

	// History: newest first, the deleted message in its place without content.
	var hist struct {
		Messages []Message `json:"messages"`
		Cursor   *string   `json:"cursor"`
	}
	carol.OK("getRoomHistory", map[string]any{"roomId": lobby.RoomID}, &hist)
	if len(hist.Messages) != 3 || hist.Messages[0].MessageID != img.MessageID || hist.Messages[1].MessageID != m2.MessageID || hist.Messages[2].MessageID != m1.MessageID {
		t.Fatalf("history %+v", hist.Messages)
	}
	if !hist.Messages[1].Deleted || hist.Messages[1].Content != "" {
		t.Fatalf("deleted message in history: %+v", hist.Messages[1])
	}
	carol.Fails("getRoomHistory", map[string]any{"roomId": secret.RoomID}, "FORBIDDEN")

	// Typing goes to the others, not to the typist's own tabs; it is rate
	// limited. The second typingStart goes right behind the first, without
	// waiting for its reply: the gateway runs a connection's messages in
	// order, so it is handled just after the first, well within the
	// interval (250 ms) even when each is a Lambda invocation.
	alice1 := alice.Request("typingStart", map[string]any{"roomId": lobby.RoomID})
	alice2 := alice.Request("typingStart", map[string]any{"roomId": lobby.RoomID})
	alice.Succeeded(alice.Reply(alice1), "typingStart", nil)
	typingAlice := func(on bool) func(map[string]any) bool {
		return func(d map[string]any) bool { return d["userId"] == "alice" && d["isTyping"] == on }
	}
	bob.Broadcast("typing", lobby.RoomID, typingAlice(true))
	alice.Failed(alice.Reply(alice2), "typingStart", "RATE_LIMITED")
	alice.OK("typingStop", map[string]any{"roomId": lobby.RoomID}, nil)
	bob2.Broadcast("typing", lobby.RoomID, typingAlice(true))
	bob2.Broadcast("typing", lobby.RoomID, typingAlice(false))
	alice.Quiet(func(f Frame) bool { return f.Type == "typing" }, "own typing broadcast")
	// The refused typingStart was not broadcast.
	bob.Broadcast("typing", lobby.RoomID, typingAlice(false))
	bob.Quiet(func(f Frame) bool {
		return f.Type == "typing" && strings.Contains(string(f.Data), `"alice"`)
	}, "typing broadcast of a rate-limited typingStart", alice)

	// Room presence: one entry per user.
	alice.OK("getOnlineUsers", map[string]any{"roomId": lobby.RoomID}, &online)
	if len(online.Users) != 3 {
		t.Fatalf("lobby online: %+v", online.Users)
	}

	// Leaving: Bob's first tab leaves, his second is still there: no user_left.
	bob.OK("leaveRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	bob2.OK("leaveRoom", nil, nil) // the only room of this tab
	alice.Broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "bob" })
	bob.Fails("leaveRoom", map[string]any{"roomId": lobby.RoomID}, "NOT_IN_ROOM")

	// Heartbeat answers and moves the expiry.
	var hb struct {
		ExpiresAt string `json:"expiresAt"`
	}
	carol.OK("heartbeat", nil, &hb)
	if hb.ExpiresAt == "" {
		t.Fatal("heartbeat without expiresAt")
	}

	// Disconnects: Carol leaves the lobby and goes offline.
	carol.Close()
	alice.Broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "carol" })
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "carol" && d["status"] == "offline" })
	// Bob closing one of two tabs is not going offline.
	bob.Close()
	bob2.OK("ping", nil, nil)
	// Wait for Bob's $disconnect to delete his connection (what it
	// announces follows at once: no round trip orders the check below
	// after it).
	Eventually(t, tg.timeout(), func() bool {
		cs, _ := tg.Store.TenantConnections(ctx, acme)
		return len(cs) == 2 // alice, bob2
	}, "acme connections in the store")
	alice.Quiet(func(f Frame) bool {
		return f.Type == "presence" && strings.Contains(string(f.Data), `"bob"`) && strings.Contains(string(f.Data), "offline")
	}, "bob offline while a tab is open")

	// The store afterwards.
	msgs, _, err := tg.Store.ListMessages(ctx, acme, lobby.RoomID, store.Page{Limit: 10})
	if err != nil || len(msgs) != 3 {
		t.Fatalf("stored lobby messages: %d %v", len(msgs), err)
	}
	if msgs[1].Content != "" || !msgs[1].Deleted || msgs[2].Content != "hello <b>all</b>" {
		t.Fatalf("stored %+v", msgs)
	}
	if _, err := tg.Store.GetMessage(ctx, evil, m1.MessageID); err == nil {
		t.Fatal("message visible from another tenant in the store")
	}
	cs, err := tg.Store.TenantConnections(ctx, acme)
	if err != nil || len(cs) != 2 {
		t.Fatalf("acme connections in the store: %+v %v", cs, err)
	}
	lobbyMembers, _ := tg.Store.RoomMembers(ctx, acme, lobby.RoomID)
	members := lobbyMembers.Slice()
	if len(members) != 1 || members[0].UserID != "alice" {
		t.Fatalf("lobby members in the store: %+v", members)
	}
}

// MalformedRequestsChangeNothing: every malformed frame gets an error reply
// with its code (and requestId when it has one); the store is unchanged
// and the connection still works.
func MalformedRequestsChangeNothing(t *testing.T, tg *Target) {
	ctx := context.Background()
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)

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
		alice.Send(tc.body)
		f := alice.Next(func(f Frame) bool { return f.Type == "error" }, "error reply to "+tc.body)
		if f.Code != tc.code || f.RequestID != tc.requestID || f.Error == "" || f.Timestamp == "" {
			t.Fatalf("%s: got %s, want code %s requestId %q", tc.body, f.Raw, tc.code, tc.requestID)
		}
		if tc.code == "INVALID_REQUEST" && strings.Contains(tc.body, `"content":42`) && !strings.Contains(f.Error, "data.content") {
			t.Fatalf("the error does not name the field: %q", f.Error)
		}
	}
	// Nothing changed, and the connection still works.
	msgs, _, _ := tg.Store.ListMessages(ctx, acme, lobby.RoomID, store.Page{Limit: 10})
	rooms, _, _ := tg.Store.ListRooms(ctx, acme, "alice", store.RoomsAll, store.Page{Limit: 10})
	if len(msgs) != 0 || len(rooms) != 1 {
		t.Fatalf("malformed requests changed the store: %d messages, %d rooms", len(msgs), len(rooms))
	}
	alice.OK("sendMessage", map[string]any{"content": "still here"}, nil)
}

// HistoryPagination: 25 messages come in three pages of at most 10, each
// message once, with cursors that do not leak keys.
func HistoryPagination(t *testing.T, tg *Target) {
	alice := tg.Connect(t, "alice", "Alice", unique("acme"))
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	for i := 0; i < 25; i++ {
		alice.OK("sendMessage", map[string]any{"content": "message"}, nil)
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
			Messages []Message `json:"messages"`
			Cursor   *string   `json:"cursor"`
		}
		alice.OK("getRoomHistory", data, &page)
		pages++
		if len(page.Messages) > 10 {
			t.Fatalf("page %d has %d messages, limit 10", pages, len(page.Messages))
		}
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

// GhostConnectionExpires: a connection whose $disconnect never ran
// disappears from presence after its expiry, and the tenant hears of it.
func GhostConnectionExpires(t *testing.T, tg *Target) {
	ctx := context.Background()
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)

	// A ghost: a connection record whose WebSocket is long gone.
	ghost := putGhost(t, tg, acme, lobby.RoomID, "Ghost", tg.now())
	var online struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	alice.OK("getOnlineUsers", nil, &online)
	if len(online.Users) != 2 {
		t.Fatalf("online before expiry: %+v", online.Users)
	}

	// Alice keeps heartbeating; the ghost cannot.
	var hb struct {
		ExpiresAt string `json:"expiresAt"`
	}
	if tg.Clock != nil {
		tg.Clock.Add(6 * time.Minute)
		alice.OK("heartbeat", nil, &hb)
		tg.Clock.Add(6 * time.Minute)
	} else {
		// On the real clock: the ghost's records are made to expire now
		// (with its room membership, as a heartbeat moves both), as if
		// its ten minutes had passed without a heartbeat.
		alice.OK("heartbeat", nil, &hb)
		if err := tg.Store.TouchConnection(ctx, ghost.ConnectionID, tg.now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	// Reads ignore the expired ghost even before the sweeper ran.
	alice.OK("getOnlineUsers", nil, &online)
	if len(online.Users) != 1 || online.Users[0].UserID != "alice" {
		t.Fatalf("online after expiry: %+v", online.Users)
	}
	n, err := tg.Sweep(ctx)
	if err != nil || n < 2 {
		t.Fatalf("sweep removed %d items: %v", n, err)
	}
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "ghost" && d["status"] == "offline" })
	alice.Broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == "ghost" })
	if _, _, err := tg.Store.DeleteConnection(ctx, ghost.ConnectionID); err == nil {
		t.Fatal("the ghost is still in the store")
	}
	if ms, err := tg.Store.RoomMembers(ctx, acme, lobby.RoomID); err != nil || ms.Len() != 1 || ms.Slice()[0].UserID != "alice" {
		t.Fatalf("lobby members after the sweep: %+v %v", ms, err)
	}
	// Alice, who heartbeated, is untouched, with the expiry her heartbeat set.
	cs, err := tg.Store.TenantConnections(ctx, acme)
	if err != nil || len(cs) != 1 || cs[0].UserID != "alice" {
		t.Fatalf("connections after the sweep: %+v %v", cs, err)
	}
	if got := cs[0].ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z"); got != hb.ExpiresAt {
		t.Fatalf("alice's stored expiry %s, the heartbeat said %s", got, hb.ExpiresAt)
	}
	alice.OK("sendMessage", map[string]any{"content": "still here"}, nil)
}

// GoneConnectionIsRemovedOnPost: a connection record whose socket is gone
// is removed the first time a broadcast gets 410 for it.
func GoneConnectionIsRemovedOnPost(t *testing.T, tg *Target) {
	ctx := context.Background()
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	// Older than the handlers' grace for connections still in their handshake.
	ghost := putGhost(t, tg, acme, lobby.RoomID, "GoneGon", tg.now().Add(-time.Minute))

	alice.OK("sendMessage", map[string]any{"content": "anyone?"}, nil)
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == "ghost" && d["status"] == "offline" })
	if _, err := tg.Store.GetConnection(ctx, ghost.ConnectionID); err == nil {
		t.Fatal("gone connection still stored")
	}
	if ms, err := tg.Store.ConnectionRooms(ctx, ghost.ConnectionID); err != nil || len(ms) != 0 {
		t.Fatalf("gone connection's memberships: %+v %v", ms, err)
	}
}

// HeartbeatAfterExpiry: a connection whose record expired while its socket
// stayed open (a laptop asleep) sends a heartbeat. Before the expiry was
// processed, nobody was told it left: the connection comes back with its
// rooms and the reply says so (restored, rooms). After the expiry was
// processed (the room got user_left), the connection comes back without
// them: rooms is empty and the client joins again.
//
// On the real clock, a system that processes expiries on its own (a TTL
// sweeper on a timer, as serve runs on DynamoDB Local) may process Bob's
// between the moment his record is made expired and his heartbeat: his
// heartbeat is then the second case, not the first. The first part is
// then tried again with another Bob (a fresh user, so that what the lost
// race announced matches nothing awaited later), up to five
// times.
func HeartbeatAfterExpiry(t *testing.T, tg *Target) {
	// With a sweep every 2 s and a heartbeat taking well under 0.2 s, the
	// chance that every attempt loses the race is under 1e-5.
	const expiryAttempts = 5
	ctx := context.Background()
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	type heartbeat struct {
		ExpiresAt string    `json:"expiresAt"`
		Restored  bool      `json:"restored"`
		Rooms     *[]string `json:"rooms"`
	}

	// Bob's record expires (Alice's does not): on the clock, ten minutes
	// without a heartbeat; on the real clock, the record is made expired.
	var bob *Client
	bobID := "bob"
	expireBob := func() {
		t.Helper()
		if tg.Clock != nil {
			tg.Clock.Add(6 * time.Minute)
			alice.OK("heartbeat", nil, nil)
			tg.Clock.Add(6 * time.Minute)
			return
		}
		cs, err := tg.Store.UserConnections(ctx, acme, bobID)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s's connections: %+v %v", bobID, cs, err)
		}
		if err := tg.Store.TouchConnection(ctx, cs[0].ConnectionID, tg.now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	// Not processed yet: back with the lobby, and the lobby heard nothing.
	var hb heartbeat
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			bobID = fmt.Sprintf("bob%d", attempt)
		}
		bob = tg.Connect(t, bobID, "Bob", acme)
		alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == bobID && d["status"] == "online" })
		bob.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
		alice.Broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == bobID })
		expireBob()
		hb = heartbeat{}
		bob.OK("heartbeat", nil, &hb)
		lostRace := tg.Clock == nil && hb.Restored && hb.Rooms != nil && len(*hb.Rooms) == 0
		if !lostRace || attempt == expiryAttempts {
			break
		}
		t.Logf("attempt %d: the system processed %s's expiry before his heartbeat; again with another user", attempt, bobID)
		bob.Close()
	}
	if !hb.Restored || hb.Rooms == nil || len(*hb.Rooms) != 1 || (*hb.Rooms)[0] != lobby.RoomID || hb.ExpiresAt == "" {
		t.Fatalf("heartbeat after expiry: %+v, want restored with the lobby", hb)
	}
	bobLeft := func(f Frame) bool {
		return f.Type == "user_left" && f.RoomID == lobby.RoomID && strings.Contains(string(f.Data), `"`+bobID+`"`)
	}
	bob.OK("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "back"}, nil)
	alice.Broadcast("message", lobby.RoomID, func(d map[string]any) bool { return d["content"] == "back" })
	// (Before any round trip of Bob's: ping is a heartbeat.)
	cs, err := tg.Store.UserConnections(ctx, acme, bobID)
	if err != nil || len(cs) != 1 || cs[0].ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z") != hb.ExpiresAt {
		t.Fatalf("bob's connection after the restore: %+v %v (heartbeat said %s)", cs, err, hb.ExpiresAt)
	}
	alice.Quiet(bobLeft, "user_left for bob, who was restored", bob)
	bobOnline := func(f Frame) bool {
		return f.Type == "presence" && strings.Contains(string(f.Data), `"`+bobID+`"`) && strings.Contains(string(f.Data), `"online"`)
	}
	alice.Quiet(bobOnline, "presence online for bob, who was never announced offline", bob)
	if ms, err := tg.Store.RoomMembers(ctx, acme, lobby.RoomID); err != nil || ms.Len() != 2 {
		t.Fatalf("lobby members after the restore: %+v %v", ms, err)
	}
	// A heartbeat in time is an ordinary one.
	hb = heartbeat{}
	bob.OK("heartbeat", nil, &hb)
	if hb.Restored || hb.Rooms != nil {
		t.Fatalf("heartbeat in time: %+v", hb)
	}

	// Processed: the sweep told the lobby Bob left; he comes back without it.
	expireBob()
	if n, err := tg.Sweep(ctx); err != nil || n < 2 {
		t.Fatalf("sweep removed %d items: %v", n, err)
	}
	alice.Broadcast("user_left", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == bobID })
	hb = heartbeat{}
	bob.OK("heartbeat", nil, &hb)
	if !hb.Restored || hb.Rooms == nil || len(*hb.Rooms) != 0 {
		t.Fatalf("heartbeat after a processed expiry: %+v, want restored without rooms", hb)
	}
	// The tenant heard him go offline, so it hears him come back.
	alice.Broadcast("presence", "", func(d map[string]any) bool { return d["userId"] == bobID && d["status"] == "online" })
	bob.Fails("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "am I in?"}, "NOT_IN_ROOM")
	bob.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	alice.Broadcast("user_joined", lobby.RoomID, func(d map[string]any) bool { return d["userId"] == bobID })
	bob.OK("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": "back again"}, nil)
}

// putGhost stores a connection of user "ghost", connected at at and
// expiring ten minutes later, as a member of roomID: a record whose
// WebSocket does not exist.
func putGhost(t *testing.T, tg *Target, tenant, roomID, idPrefix string, at time.Time) store.Connection {
	t.Helper()
	ctx := context.Background()
	ghost := store.Connection{ConnectionID: ghostID(idPrefix), TenantID: tenant, UserID: "ghost", Username: "Ghost",
		ConnectedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	if err := tg.Store.PutConnection(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Store.JoinRoom(ctx, store.Membership{TenantID: tenant, RoomID: roomID, ConnectionID: ghost.ConnectionID,
		UserID: "ghost", Username: "Ghost", JoinedAt: at, ExpiresAt: ghost.ExpiresAt}, 0); err != nil {
		t.Fatal(err)
	}
	return ghost
}
