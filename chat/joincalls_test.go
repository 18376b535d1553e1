package chat_test

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// storeCalls reads the calls of each store operation from t's metrics.
func storeCalls(t *testing.T, timed *store.Timed) map[string]int {
	t.Helper()
	var b strings.Builder
	timed.WriteMetrics(&b)
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var op string
		var n int
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, `switchboard_store_duration_seconds_count{operation="`)
		if !ok {
			continue
		}
		op, rest, _ = strings.Cut(rest, `"}`)
		if _, err := fmt.Sscan(rest, &n); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		calls[op] = n
	}
	return calls
}

// TestJoinStoreCalls: a join makes two store calls, the room and the
// join, which gives the membership its connection's expiry (moved by a
// heartbeat since the connection was stored) and caps the connection's
// rooms without a read of the connection or of its rooms first; the
// user_joined announcement adds its count and its recipients.
func TestJoinStoreCalls(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	timed := store.NewTimed(st)
	svc := chat.New(timed, &orderPusher{}, nil, chat.Config{Logger: testutil.DiscardLogger()})
	ctx := t.Context()
	now := time.Now()
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "b1"} {
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: id, Username: id,
			ConnectedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	message := func(id, body string) {
		t.Helper()
		if _, err := svc.Message(ctx, event(id, id, body)); err != nil {
			t.Fatal(err)
		}
	}
	message("b1", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"1"}`)
	message("a1", `{"action":"heartbeat","requestId":"2"}`)
	before := storeCalls(t, timed)
	message("a1", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"3"}`)
	after := storeCalls(t, timed)
	join := map[string]int{}
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			join[op] = d
		}
	}
	want := map[string]int{"GetRoom": 1, "JoinRoom": 1, "CountRoomMembers": 1, "RoomMembers": 1}
	if !maps.Equal(join, want) {
		t.Errorf("a join called the store %v, want %v", join, want)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("store calls of a join: %v", slices.Sorted(maps.Keys(join)))
	}

	c, err := st.GetConnection(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.After(now.Add(time.Minute)) {
		t.Fatalf("the heartbeat did not move the connection's expiry: %v", c.ExpiresAt)
	}
	ms, err := st.ConnectionRooms(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || !ms[0].ExpiresAt.Equal(c.ExpiresAt) {
		t.Errorf("memberships of a1 = %+v, want one expiring with its connection at %v", ms, c.ExpiresAt)
	}

	// A second tab of the user: the join announces nothing, and counts
	// nothing for its reply (which leaves announced out).
	if err := st.PutConnection(ctx, store.Connection{ConnectionID: "a2", TenantID: "t", UserID: "a1", Username: "a1",
		ConnectedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	before = storeCalls(t, timed)
	if _, err := svc.Message(ctx, event("a2", "a1", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"4"}`)); err != nil {
		t.Fatal(err)
	}
	after = storeCalls(t, timed)
	clear(join)
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			join[op] = d
		}
	}
	if want := map[string]int{"GetRoom": 1, "JoinRoom": 1}; !maps.Equal(join, want) {
		t.Errorf("a second tab's join called the store %v, want %v", join, want)
	}
}
