package sqlite

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// A caller that appends to the last chunk a RoomMembers handed out (to
// add one recipient, say) gets a slice of its own: the append does not
// write into the room's list, whose next join fills the position after
// the last member in place.
func TestAppendToHandedOutChunkLeavesRoomAlone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, t.TempDir(), func() time.Time { return now })
	join := func(id string) {
		t.Helper()
		must(t, s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: "u" + id, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}))
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "u" + id, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range memberChunk + 3 { // a last chunk with room to spare
		join(fmt.Sprintf("c%04d", i))
	}
	ms, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	last := ms.Chunk(ms.NumChunks() - 1)
	mine := append(last, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "extra", UserID: "uextra"})
	join("late")
	if mine[len(mine)-1].ConnectionID != "extra" {
		t.Errorf("a join changed the slice a caller appended to: %q", mine[len(mine)-1].ConnectionID)
	}
	mine[len(mine)-1].ConnectionID = "extra2"
	got, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	ids := memberIDs(got)
	if slices.Contains(ids, "extra") || slices.Contains(ids, "extra2") || !slices.Contains(ids, "late") {
		t.Errorf("after a caller appended to a chunk handed out, RoomMembers lists %d members: the caller's %v, the join's %v",
			len(ids), slices.Contains(ids, "extra") || slices.Contains(ids, "extra2"), slices.Contains(ids, "late"))
	}
}
