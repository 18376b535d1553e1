package devstack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/chattest"
)

// TestPagesFitReply: a getRoomHistory or listRooms reply is one post to
// the connection, which the gateway refuses over its message limit (128
// KiB, as on AWS): a page of 100 messages of 4 KB (the content limit), or
// of 100 rooms with descriptions of 500 four-byte characters, is some
// 400 or 250 KB, and the reply was never sent (the UI could load neither
// the room's history nor the room list). A page holds as many as fit, and
// its cursor goes on from there: paging reads every message and room
// once.
func TestPagesFitReply(t *testing.T) {
	t.Parallel()
	st, tg := startStack(t, stackOptions{})
	ctx := t.Context()
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var room chattest.Room
	alice.OK("createRoom", map[string]any{"name": "R"}, &room)
	alice.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	now := time.Now()
	const n = 100
	for i := range n {
		at := now.Add(time.Duration(i-1000) * time.Millisecond)
		m := store.Message{TenantID: "acme", RoomID: room.RoomID, MessageID: store.NewID(at), UserID: "alice", Username: "Alice",
			Content: fmt.Sprintf("%04d", i) + strings.Repeat("y", 4092), MessageType: store.MessageText, CreatedAt: at}
		if err := st.Store.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	desc := strings.Repeat("\U0001D11E", 500)
	for i := range n {
		r := store.Room{TenantID: "acme", RoomID: fmt.Sprintf("room-%04d", i), Name: fmt.Sprintf("Room %d", i), Description: desc,
			CreatedBy: "bob", CreatedAt: now.Add(time.Duration(i-1000) * time.Millisecond)}
		if err := st.Store.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	seen := map[string]bool{}
	pages := 0
	for cursor := ""; ; pages++ {
		data := map[string]any{"roomId": room.RoomID, "limit": 100}
		if cursor != "" {
			data["cursor"] = cursor
		}
		var page struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			Cursor string `json:"cursor"`
		}
		alice.OK("getRoomHistory", data, &page)
		for _, m := range page.Messages {
			if seen[m.Content[:4]] {
				t.Fatalf("message %s twice", m.Content[:4])
			}
			seen[m.Content[:4]] = true
		}
		if page.Cursor == "" || pages > n {
			break
		}
		cursor = page.Cursor
	}
	if len(seen) != n {
		t.Errorf("history: %d messages in %d pages, want %d", len(seen), pages+1, n)
	}

	rooms := map[string]bool{}
	pages = 0
	for cursor := ""; ; pages++ {
		data := map[string]any{"limit": 100}
		if cursor != "" {
			data["cursor"] = cursor
		}
		var page struct {
			Rooms []struct {
				RoomID string `json:"roomId"`
			} `json:"rooms"`
			Cursor string `json:"cursor"`
		}
		alice.OK("listRooms", data, &page)
		for _, r := range page.Rooms {
			if rooms[r.RoomID] {
				t.Fatalf("room %s twice", r.RoomID)
			}
			rooms[r.RoomID] = true
		}
		if page.Cursor == "" || pages > n {
			break
		}
		cursor = page.Cursor
	}
	if len(rooms) != n+1 {
		t.Errorf("listRooms: %d rooms in %d pages, want %d", len(rooms), pages+1, n+1)
	}
}
