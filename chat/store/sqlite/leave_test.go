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

// fillRoom puts n connections c00000… and their memberships of room r of
// tenant t, expiring at exp.
func fillRoom(tb testing.TB, s *Store, n int, now, exp time.Time) {
	tb.Helper()
	ctx := tb.Context()
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: fmt.Sprint("u", i),
			ConnectedAt: now, ExpiresAt: exp}); err != nil {
			tb.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: fmt.Sprint("u", i), JoinedAt: now, ExpiresAt: exp}, 0); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLeaveAfterBroadcast10k is a leave (LeaveRoom) of a member of a
// room of 10,000 right after a broadcast read the room (RoomMembers), and
// the member's join again (the room keeps its size).
func BenchmarkLeaveAfterBroadcast10k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 10000
	fillRoom(b, s, n, now, now.Add(time.Hour))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("c%05d", i%n)
		if l, err := s.LeaveRoom(ctx, "t", "r", id); err != nil || !l.Left {
			b.Fatal(l, err)
		}
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		if j, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: fmt.Sprint("u", i%n), JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil || !j.Joined {
			b.Fatal(j, err)
		}
		i++
	}
}

// BenchmarkDisconnectAfterBroadcast10k is a disconnect (DeleteConnection)
// of a member of a room of 10,000 right after a broadcast read the room,
// and its reconnect and join.
func BenchmarkDisconnectAfterBroadcast10k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 10000
	fillRoom(b, s, n, now, now.Add(time.Hour))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		id, user := fmt.Sprintf("c%05d", i%n), fmt.Sprint("u", i%n)
		if _, _, err := s.DeleteConnection(ctx, id); err != nil {
			b.Fatal(err)
		}
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user,
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBroadcastRead10k is a broadcast's part of the store in a room
// of 10,000: read the members and collect their connection ids, as chat's
// broadcastMembers does.
func BenchmarkBroadcastRead10k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 10000
	fillRoom(b, s, n, now, now.Add(time.Hour))
	ids := make([]string, 0, n)
	b.ReportAllocs()
	for b.Loop() {
		ms, err := s.RoomMembers(ctx, "t", "r")
		if err != nil {
			b.Fatal(err)
		}
		ids = ids[:0]
		for k := range ms.NumChunks() {
			for _, m := range ms.Chunk(k) {
				if m.UserID != "nobody" {
					ids = append(ids, m.ConnectionID)
				}
			}
		}
		if len(ids) != n {
			b.Fatal(len(ids))
		}
	}
}

// Leaves, disconnects and expiries in a large room that broadcasts
// between them do not copy the room's member list (issue 14): the list is
// kept in chunks, and a removal after a broadcast read it copies the
// chunk it changes, not the room (it used to copy the whole list, 137 B
// per member, per removal after a broadcast; and every broadcast between
// an expiry and its sweep copied the live members). The broadcast still
// holding its members sees them unchanged; the next one sees none of
// those gone, an expired one included before the sweep deletes it.
//
// Not parallel: it measures the bytes the process allocates.
func TestRemovalsAfterBroadcastDoNotCopyRoom(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := openTest(t, t.TempDir(), func() time.Time { return now })
	ctx := t.Context()
	const members, each = 10000, 10 // each of leaves, disconnects and expiries
	fillRoom(t, s, members, t0, t0.Add(time.Hour))
	for i := range each { // the ones that expire, one a second from t0+1m
		id, exp := fmt.Sprintf("e%05d", i), t0.Add(time.Minute+time.Duration(i)*time.Second)
		must(t, s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: id, ConnectedAt: t0, ExpiresAt: exp}))
		_, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: id, JoinedAt: t0, ExpiresAt: exp}, 0)
		must(t, err)
	}
	held, err := s.RoomMembers(ctx, "t", "r") // a broadcast still sending to them
	must(t, err)
	heldWas := memberIDs(held)
	gone := map[string]bool{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range each {
		_, err := s.RoomMembers(ctx, "t", "r") // a broadcast's read, then a leave
		must(t, err)
		id := fmt.Sprintf("c%05d", 3*i)
		l, err := s.LeaveRoom(ctx, "t", "r", id)
		must(t, err)
		if !l.Left {
			t.Fatalf("LeaveRoom(%s) left nothing", id)
		}
		gone[id] = true

		_, err = s.RoomMembers(ctx, "t", "r") // a disconnect
		must(t, err)
		id = fmt.Sprintf("c%05d", 3*i+1)
		_, _, err = s.DeleteConnection(ctx, id)
		must(t, err)
		gone[id] = true

		_, err = s.RoomMembers(ctx, "t", "r") // an expiry, a broadcast, the sweep
		must(t, err)
		now = t0.Add(time.Minute + time.Duration(i)*time.Second)
		id = fmt.Sprintf("e%05d", i)
		gone[id] = true
		ms, err := s.RoomMembers(ctx, "t", "r")
		must(t, err)
		for m := range ms.All() {
			if m.ConnectionID == id {
				t.Fatalf("a broadcast after %s expired lists it", id)
			}
		}
		imgs, err := s.DeleteExpired(ctx, now, 100)
		must(t, err)
		if len(imgs) != 2 || imgs[0].Type() != store.TypeMembership || imgs[1].Type() != store.TypeConnection {
			t.Fatalf("the sweep at %v deleted %v, want %s's membership and connection", now, imgs, id)
		}
	}
	runtime.ReadMemStats(&after)
	oneCopy := uint64(members) * uint64(unsafe.Sizeof(store.Membership{}))
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d leaves, disconnects and expiries after broadcasts: %d B, %d B each", 3*each, got, got/(3*each))
	if got/(3*each) >= oneCopy/10 {
		t.Errorf("%d leaves, disconnects and expiries after broadcasts in a room of %d allocated %d B, %d B each, more than a tenth of a copy of its list (%d B)",
			3*each, members, got, got/(3*each), oneCopy)
	}
	if got := memberIDs(held); !slices.Equal(got, heldWas) {
		t.Errorf("the members a broadcast holds changed under it")
	}
	ms, err := s.RoomMembers(ctx, "t", "r")
	must(t, err)
	ids := memberIDs(ms)
	if len(ids) != members+each-len(gone) {
		t.Errorf("RoomMembers after the removals: %d members, want %d", len(ids), members+each-len(gone))
	}
	for _, id := range ids {
		if gone[id] {
			t.Errorf("RoomMembers after the removals lists %s, which is gone", id)
		}
	}
}

// memberIDs lists the connection ids of ms, in their order.
func memberIDs(ms store.Members) []string {
	var ids []string
	for m := range ms.All() {
		ids = append(ids, m.ConnectionID)
	}
	return ids
}

// BenchmarkBroadcastAfterExpiry10k is a broadcast's read (RoomMembers) of
// a room of 10,000 right after a member expired, before the sweep, with a
// broadcast before the expiry; then the member's disconnect and reconnect
// (the room keeps its size). A read used to copy the live members while
// one had expired (until the sweep deleted it: 10 s on `switchboard dev`).
func BenchmarkBroadcastAfterExpiry10k(b *testing.B) {
	now := time.Now()
	s := openTest(b, b.TempDir(), func() time.Time { return now })
	ctx := b.Context()
	const n = 10000
	fillRoom(b, s, n, now, now.Add(time.Hour))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.RoomMembers(ctx, "t", "r"); err != nil {
			b.Fatal(err)
		}
		id, user := fmt.Sprintf("c%05d", i%n), fmt.Sprint("u", i%n)
		if err := s.TouchConnection(ctx, id, now.Add(time.Millisecond)); err != nil {
			b.Fatal(err)
		}
		now = now.Add(time.Millisecond) // id has expired
		if ms, err := s.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != n-1 {
			b.Fatal(ms.Len(), err)
		}
		if _, _, err := s.DeleteConnection(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := s.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user,
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id,
			UserID: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
