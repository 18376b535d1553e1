package devstack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// never is a refill rate so slow that no token comes back during a test:
// a bucket holds its burst and then refuses, whatever the machine's speed.
const never = 1e-6

// limitStack serves a dev stack with the chat limits of cfg.
func limitStack(t *testing.T, cfg chat.Config) *chattest.Target {
	t.Helper()
	st, err := devstack.New(devstack.Options{
		DataDir: t.TempDir(), Chat: cfg, SweepInterval: time.Hour, NoUI: true, Logger: testutil.DiscardLogger(),
	})
	if err != nil {
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
	})
	return &chattest.Target{
		URL: st.URL(),
		Token: func(id auth.Identity, issuedAt time.Time, ttl time.Duration) (string, error) {
			return auth.MintDevToken(st.Secret, id, ttl, issuedAt)
		},
		Store: st.Store,
	}
}

// rateLimited checks that f is a RATE_LIMITED reply with a retry hint.
func rateLimited(t *testing.T, f chattest.Frame, what string) {
	t.Helper()
	if f.Type != "error" || f.Code != "RATE_LIMITED" || f.RetryAfterMs < 1 || f.Error == "" {
		t.Fatalf("%s: got %.300s, want RATE_LIMITED with retryAfterMs", what, f.Raw)
	}
}

// TestMessageFloodBesideAnotherTenant: a connection that sends frames as
// fast as it can gets its burst served and RATE_LIMITED (with a retry
// hint) for the rest — every frame counts, pings and malformed ones too —
// while another tenant's requests, sent in between, all succeed.
func TestMessageFloodBesideAnotherTenant(t *testing.T) {
	t.Parallel()
	const burst = 40
	tg := limitStack(t, chat.Config{ActionRate: never, ActionBurst: burst})
	flooder := tg.Connect(t, "mallory", "Mallory", "flood")
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var floodRoom, lobby chattest.Room
	flooder.OK("createRoom", map[string]any{"name": "flood"}, &floodRoom)
	flooder.OK("joinRoom", map[string]any{"roomId": floodRoom.RoomID}, nil)
	alice.OK("createRoom", map[string]any{"name": "lobby"}, &lobby)
	alice.OK("joinRoom", map[string]any{"roomId": lobby.RoomID}, nil)

	const flood = 300
	var ids []string
	for i := range flood {
		ids = append(ids, flooder.Request("sendMessage", map[string]any{"roomId": floodRoom.RoomID, "content": fmt.Sprint("spam ", i)}))
		if i%10 == 0 { // the other tenant's round trip, beside the flood
			alice.OK("sendMessage", map[string]any{"roomId": lobby.RoomID, "content": fmt.Sprint("hello ", i)}, nil)
		}
	}
	served, limited := 0, 0
	for _, id := range ids {
		f := flooder.Reply(id)
		switch {
		case f.Type == "success":
			served++
		default:
			rateLimited(t, f, "a flooded sendMessage")
			limited++
		}
	}
	// createRoom and joinRoom took two tokens of the burst.
	if served != burst-2 || limited != flood-served {
		t.Fatalf("%d served, %d refused of %d; want %d served", served, limited, flood, burst-2)
	}
	// Every frame counts: a heartbeat, an unknown action, a malformed one.
	rateLimited(t, flooder.Do("heartbeat", nil), "a heartbeat past the limit")
	rateLimited(t, flooder.Do("noSuchAction", nil), "an unknown action past the limit")
	flooder.Send(`{"action":7,"requestId":"bad"}`)
	rateLimited(t, flooder.Reply("bad"), "a malformed frame past the limit")

	ctx := context.Background()
	msgs, _, err := tg.Store.ListMessages(ctx, "flood", floodRoom.RoomID, store.Page{Limit: 100})
	if err != nil || len(msgs) != burst-2 {
		t.Fatalf("the flooder stored %d messages (%v), want %d", len(msgs), err, burst-2)
	}
	mine, _, err := tg.Store.ListMessages(ctx, "acme", lobby.RoomID, store.Page{Limit: 100})
	if err != nil || len(mine) != flood/10 {
		t.Fatalf("the other tenant stored %d messages (%v), want %d", len(mine), err, flood/10)
	}
}

// TestTenantBytesLimit: the bytes a tenant's connections send are counted
// together: once they are spent, every connection of the tenant (a fresh
// one too) gets RATE_LIMITED, and another tenant's large messages all go
// through.
func TestTenantBytesLimit(t *testing.T) {
	t.Parallel()
	const budget = 20_000
	tg := limitStack(t, chat.Config{TenantBytesRate: never, TenantBytesBurst: budget})
	a1 := tg.Connect(t, "a1", "A1", "loud")
	a2 := tg.Connect(t, "a2", "A2", "loud")
	b := tg.Connect(t, "b", "B", "quiet")
	var loudRoom, quietRoom chattest.Room
	a1.OK("createRoom", map[string]any{"name": "loud"}, &loudRoom)
	a1.OK("joinRoom", map[string]any{"roomId": loudRoom.RoomID}, nil)
	a2.OK("joinRoom", map[string]any{"roomId": loudRoom.RoomID}, nil)
	b.OK("createRoom", map[string]any{"name": "quiet"}, &quietRoom)
	b.OK("joinRoom", map[string]any{"roomId": quietRoom.RoomID}, nil)

	content := strings.Repeat("x", 1000)
	served := 0
	for i := range 40 { // 40 KB from two connections, 20 KB allowed
		c := a1
		if i%2 == 1 {
			c = a2
		}
		f := c.Do("sendMessage", map[string]any{"roomId": loudRoom.RoomID, "content": content})
		if f.Type == "success" {
			served++
			// The other tenant is not held back.
			b.OK("sendMessage", map[string]any{"roomId": quietRoom.RoomID, "content": content}, nil)
			continue
		}
		rateLimited(t, f, "a message past the tenant's bytes")
	}
	if served < 10 || served > 20 {
		t.Fatalf("%d KB-sized messages served of a %d-byte budget", served, budget)
	}
	a3 := tg.Connect(t, "a3", "A3", "loud")
	rateLimited(t, a3.Do("sendMessage", map[string]any{"roomId": loudRoom.RoomID, "content": content}), "a fresh connection of the tenant")
	b.OK("heartbeat", nil, nil)
}

// TestRoomCreationLimit: a user creates rooms up to the burst; then
// RATE_LIMITED, from any of their connections, with nothing stored or
// announced; another user of the tenant still can.
func TestRoomCreationLimit(t *testing.T) {
	t.Parallel()
	const burst = 5
	tg := limitStack(t, chat.Config{RoomCreateRate: never, RoomCreateBurst: burst})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	alice2 := tg.Connect(t, "alice", "Alice", "acme")
	bob := tg.Connect(t, "bob", "Bob", "acme")
	for i := range burst {
		alice.OK("createRoom", map[string]any{"name": fmt.Sprint("room ", i)}, nil)
	}
	rateLimited(t, alice.Do("createRoom", map[string]any{"name": "one too many"}), "createRoom past the burst")
	rateLimited(t, alice2.Do("createRoom", map[string]any{"name": "from another tab"}), "createRoom from another connection")
	// A request that would make no room is answered for what it is.
	alice.Fails("createRoom", map[string]any{"name": "\u200b"}, "INVALID_REQUEST")
	bob.OK("createRoom", map[string]any{"name": "bob's"}, nil)

	rooms, _, err := tg.Store.ListRooms(context.Background(), "acme", "bob", store.RoomsAll, store.Page{Limit: 100})
	if err != nil || len(rooms) != burst+1 {
		t.Fatalf("%d rooms stored (%v), want %d", len(rooms), err, burst+1)
	}
	// Bob heard of the rooms made, not of the refused ones.
	bob.Broadcast("room_update", "", func(d map[string]any) bool { return d["name"] == "bob's" })
	bob.Quiet(func(f chattest.Frame) bool {
		return f.Type == "room_update" && (strings.Contains(string(f.Data), "one too many") || strings.Contains(string(f.Data), "another tab"))
	}, "a room_update of a refused room")
}

// TestRoomsPerConnectionQuota: a connection joins rooms up to the quota;
// the next join is TOO_MANY_ROOMS (and changes nothing) until it leaves
// one; joining a room it is in still works; another connection of the
// same user has its own quota.
func TestRoomsPerConnectionQuota(t *testing.T) {
	t.Parallel()
	const quota = 3
	tg := limitStack(t, chat.Config{MaxRoomsPerConnection: quota})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var rooms []chattest.Room
	for i := range quota + 2 {
		var r chattest.Room
		alice.OK("createRoom", map[string]any{"name": fmt.Sprint("room ", i)}, &r)
		rooms = append(rooms, r)
	}
	for _, r := range rooms[:quota] {
		alice.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
	}
	alice.Fails("joinRoom", map[string]any{"roomId": rooms[quota].RoomID}, "TOO_MANY_ROOMS")
	alice.OK("joinRoom", map[string]any{"roomId": rooms[0].RoomID}, nil) // already in it
	ctx := context.Background()
	conns, err := tg.Store.UserConnections(ctx, "acme", "alice")
	if err != nil || len(conns) != 1 {
		t.Fatalf("alice's connections: %v %v", conns, err)
	}
	ms, err := tg.Store.ConnectionRooms(ctx, conns[0].ConnectionID)
	if err != nil || len(ms) != quota {
		t.Fatalf("the connection is in %d rooms (%v), want %d", len(ms), err, quota)
	}
	alice.OK("leaveRoom", map[string]any{"roomId": rooms[1].RoomID}, nil)
	alice.OK("joinRoom", map[string]any{"roomId": rooms[quota].RoomID}, nil)
	alice.Fails("joinRoom", map[string]any{"roomId": rooms[quota+1].RoomID}, "TOO_MANY_ROOMS")

	tab2 := tg.Connect(t, "alice", "Alice", "acme")
	for _, r := range rooms[2:] {
		tab2.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
	}
}

// TestDefaultLimitsLeaveChatAlone: with the default limits, what a busy
// person (and the browser UI) does never meets them: 200 messages in a
// row, typing, heartbeats, 20 rooms created and joined by one connection.
func TestDefaultLimitsLeaveChatAlone(t *testing.T) {
	t.Parallel()
	tg := limitStack(t, chat.Config{})
	alice := tg.Connect(t, "alice", "Alice", "acme")
	var first chattest.Room
	for i := range 20 {
		var r chattest.Room
		alice.OK("createRoom", map[string]any{"name": fmt.Sprint("room ", i), "description": "a room"}, &r)
		alice.OK("joinRoom", map[string]any{"roomId": r.RoomID}, nil)
		if i == 0 {
			first = r
		}
	}
	var ids []string
	for i := range 200 {
		ids = append(ids, alice.Request("sendMessage", map[string]any{"roomId": first.RoomID, "content": fmt.Sprint("message ", i)}))
		ids = append(ids, alice.Request("typingStop", map[string]any{"roomId": first.RoomID}))
	}
	for _, id := range ids {
		if f := alice.Reply(id); f.Type != "success" {
			t.Fatalf("a busy chat met a limit: %s", f.Raw)
		}
	}
	alice.OK("heartbeat", nil, nil)
	alice.OK("getRoomHistory", map[string]any{"roomId": first.RoomID, "limit": 100}, nil)
}
