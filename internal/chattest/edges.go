package chattest

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// EnvelopeEdgeCases: each edge case of the request envelope that
// docs/protocol.md describes gets the answer it states — a frame that is
// not a JSON object (null included) INVALID_JSON; a missing, null or
// empty action INVALID_REQUEST; a requestId that is not a string (or too
// long) INVALID_REQUEST without it; fields nobody knows ignored; a limit
// is a whole number however written; getOnlineUsers without roomId lists
// the tenant.
func EnvelopeEdgeCases(t *testing.T, tg *Target) {
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	bob := tg.Connect(t, "bob", "Bob", acme)
	var lobby Room
	alice.OK("createRoom", map[string]any{"name": "Lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)
	long := strings.Repeat("r", 129)
	for _, tc := range []struct {
		name, body, code, requestID string
	}{
		{"null frame", `null`, "INVALID_JSON", ""},
		{"number frame", `42`, "INVALID_JSON", ""},
		{"string frame", `"sendMessage"`, "INVALID_JSON", ""},
		{"boolean frame", `true`, "INVALID_JSON", ""},
		{"array frame", `[{"action":"ping"}]`, "INVALID_JSON", ""},
		{"empty frame", ``, "INVALID_JSON", ""},
		{"missing action", `{"data":{},"requestId":"e1"}`, "INVALID_REQUEST", "e1"},
		{"null action", `{"action":null,"requestId":"e2"}`, "INVALID_REQUEST", "e2"},
		{"empty action", `{"action":"","requestId":"e3"}`, "INVALID_REQUEST", "e3"},
		{"action not a string", `{"action":["ping"],"requestId":"e4"}`, "INVALID_REQUEST", "e4"},
		{"unknown action", `{"action":"launchMissiles","requestId":"e5"}`, "UNKNOWN_ACTION", "e5"},
		{"action in the wrong case", `{"action":"SendMessage","requestId":"e6"}`, "UNKNOWN_ACTION", "e6"},
		{"requestId a number", `{"action":"ping","requestId":17}`, "INVALID_REQUEST", ""},
		{"requestId an object", `{"action":"ping","requestId":{"id":"x"}}`, "INVALID_REQUEST", ""},
		{"requestId a boolean", `{"action":"ping","requestId":true}`, "INVALID_REQUEST", ""},
		{"requestId too long", `{"action":"ping","requestId":"` + long + `"}`, "INVALID_REQUEST", ""},
		{"data a list", `{"action":"listRooms","data":[],"requestId":"e7"}`, "INVALID_REQUEST", "e7"},
		{"data a number", `{"action":"listRooms","data":1,"requestId":"e8"}`, "INVALID_REQUEST", "e8"},
		{"oversized content", `{"action":"sendMessage","data":{"roomId":"` + lobby.RoomID + `","content":"` + strings.Repeat("x", 4097) + `"},"requestId":"e9"}`, "CONTENT_TOO_LARGE", "e9"},
		{"limit a fraction", `{"action":"listRooms","data":{"limit":2.5},"requestId":"e10"}`, "INVALID_REQUEST", "e10"},
		{"limit a string", `{"action":"listRooms","data":{"limit":"10"},"requestId":"e11"}`, "INVALID_REQUEST", "e11"},
		{"limit zero", `{"action":"getRoomHistory","data":{"roomId":"` + lobby.RoomID + `","limit":0},"requestId":"e12"}`, "INVALID_REQUEST", "e12"},
	} {
		alice.Send(tc.body)
		f := alice.Next(func(f Frame) bool { return f.Type == "error" }, "error reply to "+tc.name)
		if f.Code != tc.code || f.RequestID != tc.requestID || f.Error == "" || len(f.Data) != 0 {
			t.Errorf("%s: got %.300s, want code %s requestId %q", tc.name, f.Raw, tc.code, tc.requestID)
		}
	}
	// Fields nobody knows are ignored, at the top and in data; a null
	// requestId is none; a limit written 1e1 is 10.
	for _, tc := range []struct{ name, body, requestID string }{
		{"extra top-level field", `{"action":"ping","requestId":"s1","extra":{"x":1}}`, "s1"},
		{"extra data field", `{"action":"sendMessage","data":{"roomId":"` + lobby.RoomID + `","content":"hi","color":"red"},"requestId":"s2"}`, "s2"},
		{"limit in exponent form", `{"action":"listRooms","data":{"limit":1e1},"requestId":"s3"}`, "s3"},
		{"null data", `{"action":"listRooms","data":null,"requestId":"s4"}`, "s4"},
		{"null cursor", `{"action":"getRoomHistory","data":{"roomId":"` + lobby.RoomID + `","cursor":null},"requestId":"s5"}`, "s5"},
	} {
		alice.Send(tc.body)
		f := alice.Next(func(f Frame) bool { return f.RequestID == tc.requestID }, "reply to "+tc.name)
		if f.Type != "success" {
			t.Errorf("%s: got %.300s, want success", tc.name, f.Raw)
		}
	}
	alice.Send(`{"action":"ping","requestId":null}`)
	if f := alice.Next(func(f Frame) bool { return f.IsReply() && f.RequestID == "" }, "reply to a null requestId"); f.Type != "success" {
		t.Errorf("null requestId: got %s, want success", f.Raw)
	}
	// getOnlineUsers without roomId: the tenant's online users (bob is in
	// no room), with it: the room's.
	var all, inRoom struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
		RoomID *string `json:"roomId"`
	}
	bob.OK("getOnlineUsers", nil, &all)
	if len(all.Users) != 2 || all.RoomID != nil {
		t.Errorf("getOnlineUsers without roomId: %+v, want alice and bob and no roomId", all)
	}
	alice.OK("getOnlineUsers", map[string]any{"roomId": lobby.RoomID}, &inRoom)
	if len(inRoom.Users) != 1 || inRoom.Users[0].UserID != "alice" || inRoom.RoomID == nil || *inRoom.RoomID != lobby.RoomID {
		t.Errorf("getOnlineUsers of the lobby: %+v, want alice", inRoom)
	}
	// One message (the extra-field one) and the one room: nothing else
	// changed.
	msgs, _, err := tg.Store.ListMessages(context.Background(), acme, lobby.RoomID, store.Page{Limit: 10})
	if err != nil || len(msgs) != 1 {
		t.Errorf("the store holds %d messages (%v), want 1", len(msgs), err)
	}
}

// RoomTextRules: room names, descriptions and member ids follow the rule
// usernames do (protocol.CheckText): no control characters, no
// bidirectional controls, not blank once invisible characters are removed.
// Each refusal names the field and changes nothing; names of every script
// pass.
func RoomTextRules(t *testing.T, tg *Target) {
	ctx := context.Background()
	acme := unique("acme")
	alice := tg.Connect(t, "alice", "Alice", acme)
	bad := []struct {
		name  string
		data  map[string]any
		field string
	}{
		{"NUL in name", map[string]any{"name": "a\x00b"}, "data.name"},
		{"ESC in name", map[string]any{"name": "\x1b[31mred"}, "data.name"},
		{"newline in name", map[string]any{"name": "two\nlines"}, "data.name"},
		{"tab in name", map[string]any{"name": "a\tb"}, "data.name"},
		{"DEL in name", map[string]any{"name": "a\x7fb"}, "data.name"},
		{"C1 control in name", map[string]any{"name": "a\u0085b"}, "data.name"},
		{"right-to-left override in name", map[string]any{"name": "\u202egnp.exe"}, "data.name"},
		{"left-to-right embedding in name", map[string]any{"name": "a\u202ab"}, "data.name"},
		{"bidi isolate in name", map[string]any{"name": "a\u2067b\u2069"}, "data.name"},
		{"right-to-left mark in name", map[string]any{"name": "a\u200fb"}, "data.name"},
		{"line separator in name", map[string]any{"name": "a\u2028b"}, "data.name"},
		{"paragraph separator in name", map[string]any{"name": "a\u2029b"}, "data.name"},
		{"only zero-width space", map[string]any{"name": "\u200b"}, "data.name"},
		{"zero-width characters and BOM", map[string]any{"name": "\u200b\u200c\u200d\ufeff"}, "data.name"},
		{"only combining marks", map[string]any{"name": strings.Repeat("\u0301", 8)}, "data.name"},
		{"99 combining marks", map[string]any{"name": "a" + strings.Repeat("\u0301", 99)}, "data.name"},
		{"hangul fillers", map[string]any{"name": "\u3164\u3164"}, "data.name"},
		{"soft hyphens and word joiners", map[string]any{"name": "\u00ad\u2060"}, "data.name"},
		{"braille blank", map[string]any{"name": "\u2800"}, "data.name"},
		{"NUL in description", map[string]any{"name": "ok", "description": "a\x00b"}, "data.description"},
		{"newline in description", map[string]any{"name": "ok", "description": "one\ntwo"}, "data.description"},
		{"override in description", map[string]any{"name": "ok", "description": "x\u202ey"}, "data.description"},
		{"blank description", map[string]any{"name": "ok", "description": "\u200b\u200b"}, "data.description"},
		{"NUL in member id", map[string]any{"name": "ok", "isPrivate": true, "members": []string{"bob\x00"}}, "data.members"},
		{"override in member id", map[string]any{"name": "ok", "isPrivate": true, "members": []string{"\u202ebob"}}, "data.members"},
		{"blank member id", map[string]any{"name": "ok", "isPrivate": true, "members": []string{"\u200b"}}, "data.members"},
	}
	for _, tc := range bad {
		f := alice.Fails("createRoom", tc.data, "INVALID_REQUEST")
		if !strings.Contains(f.Error, tc.field) {
			t.Errorf("%s: the error %q does not name %s", tc.name, f.Error, tc.field)
		}
	}
	rooms, _, err := tg.Store.ListRooms(ctx, acme, "alice", store.RoomsAll, store.Page{Limit: 100})
	if err != nil || len(rooms) != 0 {
		t.Fatalf("refused rooms were stored: %d (%v)", len(rooms), err)
	}
	good := []map[string]any{
		{"name": "général"},
		{"name": "Zoe\u0308 and friends", "description": "accents, composed or not"},
		{"name": "日本語の部屋", "description": "CJK"},
		{"name": "غرفة", "description": "Arabic (right to left by itself, no override)"},
		{"name": "👩\u200d💻 devs", "description": "an emoji sequence with a joiner"},
		{"name": "Tiếng Việt", "description": "stacked diacritics"},
		{"name": "  padded  ", "description": "   "},
		{"name": "private", "isPrivate": true, "members": []string{"bob@example.com", "user-2"}},
	}
	for _, data := range good {
		alice.OK("createRoom", data, nil)
	}
}

// CursorScope: a cursor is good only for the listing it was made by —
// the same room's history, or the same user's room list with the same
// filter. One from another room, another tenant or another listing, an
// altered, made-up, forged or empty one gets INVALID_CURSOR and no data.
func CursorScope(t *testing.T, tg *Target) {
	acme, other := unique("acme"), unique("other")
	alice := tg.Connect(t, "alice", "Alice", acme)
	carol := tg.Connect(t, "carol", "Carol", acme)
	eve := tg.Connect(t, "eve", "Eve", other)
	room := func(c *Client, name string, private bool, messages int) (Room, []Message) {
		var r Room
		c.OK("createRoom", map[string]any{"name": name, "isPrivate": private}, &r)
		c.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
		var sent []Message
		for range messages {
			var m Message
			c.OK("sendMessage", map[string]any{"roomId": r.RoomID, "content": "m"}, &m)
			sent = append(sent, m)
		}
		return r, sent
	}
	a, _ := room(alice, "A", false, 3)
	b, _ := room(alice, "B", false, 3)
	_, _ = room(alice, "P", true, 0)
	e, eveMsgs := room(eve, "E", false, 3)
	type page struct {
		Cursor *string `json:"cursor"`
	}
	cursorOf := func(c *Client, action string, data map[string]any) string {
		var p page
		c.OK(action, data, &p)
		if p.Cursor == nil {
			t.Fatalf("%s %v: no cursor", action, data)
		}
		return *p.Cursor
	}
	histA := cursorOf(alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "limit": 1})
	histE := cursorOf(eve, "getRoomHistory", map[string]any{"roomId": e.RoomID, "limit": 1})
	roomsAll := cursorOf(alice, "listRooms", map[string]any{"limit": 1})
	roomsPublic := cursorOf(alice, "listRooms", map[string]any{"limit": 1, "isPrivate": false})
	altered := []byte(histA)
	if mid := len(altered) / 2; altered[mid] == 'A' {
		altered[mid] = 'B'
	} else {
		altered[mid] = 'A'
	}
	oldStyle := func(parts ...string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
	}
	for _, tc := range []struct {
		name   string
		c      *Client
		action string
		data   map[string]any
	}{
		{"history cursor of room A on room B", alice, "getRoomHistory", map[string]any{"roomId": b.RoomID, "cursor": histA}},
		{"another tenant's history cursor", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": histE}},
		{"forged from another tenant's message id", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": oldStyle("messages", eveMsgs[0].MessageID)}},
		{"forged from a message id of the room", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": oldStyle("messages", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")}},
		{"made up", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuvwxyz"))}},
		{"not base64", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": "!!not a cursor!!"}},
		{"empty", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": ""}},
		{"altered", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": string(altered)}},
		{"huge", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": strings.Repeat("A", 5000)}},
		{"history cursor on listRooms", alice, "listRooms", map[string]any{"cursor": histA}},
		{"rooms cursor on history", alice, "getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": roomsAll}},
		{"rooms cursor of another filter", alice, "listRooms", map[string]any{"isPrivate": false, "cursor": roomsAll}},
		{"public rooms cursor on all rooms", alice, "listRooms", map[string]any{"cursor": roomsPublic}},
		{"another user's rooms cursor", carol, "listRooms", map[string]any{"cursor": roomsAll}},
		{"another tenant's rooms cursor", eve, "listRooms", map[string]any{"cursor": roomsAll}},
		{"forged rooms cursor", alice, "listRooms", map[string]any{"cursor": oldStyle("rooms", "99999999999999", a.RoomID)}},
		{"empty rooms cursor", alice, "listRooms", map[string]any{"cursor": ""}},
	} {
		f := tc.c.Do(tc.action, tc.data)
		if f.Type != "error" || f.Code != "INVALID_CURSOR" || len(f.Data) != 0 {
			t.Errorf("%s: got %.300s, want INVALID_CURSOR and no data", tc.name, f.Raw)
		}
	}
	// The cursors still work where they were made, from another connection
	// of the same user too.
	alice2 := tg.Connect(t, "alice", "Alice", acme)
	for _, c := range []*Client{alice, alice2} {
		c.OK("getRoomHistory", map[string]any{"roomId": a.RoomID, "cursor": histA}, nil)
		c.OK("listRooms", map[string]any{"cursor": roomsAll}, nil)
		c.OK("listRooms", map[string]any{"isPrivate": false, "cursor": roomsPublic}, nil)
	}
}
