package sqlite

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Heartbeats in a large room that broadcasts between them do not copy the
// room's member list (issue 14): a heartbeat renews the expiry apart from
// the list RoomMembers handed out, so memory allocated by heartbeats does
// not grow with the room (it used to be a copy of the list, 137 B per
// member, per heartbeat after a broadcast). The renewed expiry still
// counts: the member stays live past its old expiry, and the slice the
// broadcast holds is unchanged.
//
// Not parallel: it measures the bytes the process allocates.
func TestHeartbeatAfterBroadcastDoesNotCopyRoom(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := openTest(t, t.TempDir(), func() time.Time { return now })
	ctx := t.Context()
	const members, beats = 2000, 50
	for i := range members {
		id := fmt.Sprintf("c%05d", i)
		must(t, s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: fmt.Sprint("u", i),
			ConnectedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		_, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: fmt.Sprint("u", i), JoinedAt: t0, ExpiresAt: t0.Add(time.Minute)}, 0)
		must(t, err)
	}
	held, err := s.RoomMembers(ctx, "t", "r") // a broadcast still sending to them
	must(t, err)
	heldWas := held.Slice()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range beats {
		_, err := s.RoomMembers(ctx, "t", "r") // the broadcast's read
		must(t, err)
		must(t, s.TouchConnection(ctx, fmt.Sprintf("c%05d", i), t0.Add(time.Hour)))
	}
	runtime.ReadMemStats(&after)
	oneCopy := uint64(members) * uint64(unsafe.Sizeof(store.Membership{}))
	if got := after.TotalAlloc - before.TotalAlloc; got >= oneCopy {
		t.Errorf("%d heartbeats after broadcasts in a room of %d allocated %d B, more than one copy of its list (%d B)",
			beats, members, got, oneCopy)
	}
	if !slices.Equal(held.Slice(), heldWas) {
		t.Errorf("the members a broadcast holds changed under it")
	}

	now = t0.Add(2 * time.Minute) // past the old expiry: only the touched are live
	live, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	ms := live.Slice()
	if len(ms) != beats {
		t.Fatalf("RoomMembers past the old expiry: %d members, want the %d touched", len(ms), beats)
	}
	for _, m := range ms {
		if m.ConnectionID >= fmt.Sprintf("c%05d", beats) {
			t.Errorf("RoomMembers past the old expiry lists %s, not touched", m.ConnectionID)
		}
		// Their current expiry: ConnectionRooms' (RoomMembers' ExpiresAt
		// may be an older one, Store.RoomMembers).
		rooms, err := s.ConnectionRooms(ctx, m.ConnectionID)
		must(t, err)
		if len(rooms) != 1 || !rooms[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("member %s's memberships %+v, want one expiring at %v", m.ConnectionID, rooms, t0.Add(time.Hour))
		}
	}
	if n, err := s.CountRoomMembers(ctx, "t", "r", members); err != nil || n != beats {
		t.Errorf("CountRoomMembers past the old expiry = %d, %v; want %d", n, err, beats)
	}
}
