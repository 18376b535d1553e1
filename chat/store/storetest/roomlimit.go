package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// roomLimitTests: JoinRoom's maxRooms caps a connection's rooms in the
// join's atomic step, however many joins of the connection run at once.
var roomLimitTests = []subtest{
	{"room limit/joins past the cap are refused", testRoomLimit},
	{"room limit/concurrent joins of one connection", testRoomLimitConcurrent},
	{"room limit/expired memberships of a live connection do not count", testRoomLimitExpired},
}

// Sizes of testRoomLimitConcurrent.
const (
	limitRounds = 3
	limitRooms  = 4 // the cap
	limitJoins  = 10
)

func testRoomLimit(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	other := e.putConn(t, "c2", tenantA, bob)
	join := func(c store.Connection, room string, max int) (store.Join, error) {
		return e.s.JoinRoom(e.ctx, e.joinNoExpiry(c, room), max)
	}
	for _, room := range []string{"r1", "r2", "r3"} {
		if j, err := join(c, room, 3); err != nil || !j.Joined {
			t.Fatalf("JoinRoom(%s) under the cap = %+v, %v", room, j, err)
		}
	}
	_, err := join(c, "r4", 3)
	wantErr(t, "JoinRoom of a fourth room, capped at 3", err, store.ErrRoomLimit)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	if len(rooms) != 3 {
		t.Errorf("ConnectionRooms after a refused join: %d memberships, want 3", len(rooms))
	}
	members, err := e.roomMembers(tenantA, "r4")
	must(t, err)
	sameList(t, "RoomMembers of the refused room", members, nil, normMember)
	// Nor a hold: the user's other connection is the first in the room.
	tab := e.putConn(t, "c3", tenantA, alice)
	if j, err := join(tab, "r4", 3); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom of the user's other connection after a refused join = %+v, %v; want joined, first", j, err)
	}
	if l, err := e.s.LeaveRoom(e.ctx, tenantA, "r4", "c3"); err != nil || !l.Left || !l.Last {
		t.Errorf("LeaveRoom of the user's other connection = %+v, %v; want left, last", l, err)
	}

	// A room it is in already: not refused.
	if j, err := join(c, "r2", 3); err != nil || j.Joined {
		t.Errorf("JoinRoom of a room it is in, at the cap = %+v, %v; want not joined, no error", j, err)
	}
	// Another connection has its own count; no cap is no cap.
	if j, err := join(other, "r4", 3); err != nil || !j.Joined {
		t.Errorf("JoinRoom of another connection = %+v, %v", j, err)
	}
	if j, err := join(c, "r5", 0); err != nil || !j.Joined {
		t.Errorf("JoinRoom with no cap = %+v, %v", j, err)
	}
	// Leaving makes room.
	for _, room := range []string{"r2", "r5"} {
		if l, err := e.s.LeaveRoom(e.ctx, tenantA, room, "c1"); err != nil || !l.Left {
			t.Fatalf("LeaveRoom(%s) = %+v, %v", room, l, err)
		}
	}
	if j, err := join(c, "r4", 3); err != nil || !j.Joined {
		t.Errorf("JoinRoom after a leave, under the cap again = %+v, %v", j, err)
	}
	_, err = join(c, "r6", 3)
	wantErr(t, "JoinRoom past the cap again", err, store.ErrRoomLimit)
}

// testRoomLimitConcurrent: joins of one connection into limitJoins rooms
// at once, capped at limitRooms: exactly limitRooms join, the others are
// refused and add nothing. Then it leaves them all, and again.
func testRoomLimitConcurrent(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	for round := range limitRounds {
		var joined, refused atomic.Int32
		concurrently(limitJoins, func(i int) {
			j, err := e.s.JoinRoom(e.ctx, e.joinNoExpiry(c, fmt.Sprintf("r%d-%d", round, i)), limitRooms)
			switch {
			case errors.Is(err, store.ErrRoomLimit):
				refused.Add(1)
			case err != nil || !j.Joined:
				t.Errorf("round %d: JoinRoom = %+v, %v", round, j, err)
			default:
				joined.Add(1)
			}
		})
		if joined.Load() != limitRooms || refused.Load() != limitJoins-limitRooms {
			t.Errorf("round %d: %d of %d concurrent joins capped at %d joined, %d refused", round,
				joined.Load(), limitJoins, limitRooms, refused.Load())
		}
		rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
		must(t, err)
		if len(rooms) != limitRooms {
			t.Fatalf("round %d: ConnectionRooms lists %d memberships, want %d", round, len(rooms), limitRooms)
		}
		for _, m := range rooms {
			if l, err := e.s.LeaveRoom(e.ctx, m.TenantID, m.RoomID, "c1"); err != nil || !l.Left {
				t.Fatalf("round %d: LeaveRoom(%s) = %+v, %v", round, m.RoomID, l, err)
			}
		}
	}
}

// testRoomLimitExpired: the cap counts the connection's live memberships
// (those ConnectionRooms lists). Memberships that expired before their
// connection, whether still stored or deleted by the sweeper (TTL) and
// released, leave room for others; a join refused at the cap still adds
// nothing, and a rejoin of an expired room counts again.
func testRoomLimitExpired(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	early := func(room string) {
		t.Helper()
		m := e.membership(c, room)
		m.ExpiresAt = e.clk.Now().Add(time.Minute)
		if j, err := e.s.JoinRoom(e.ctx, m, 3); err != nil || !j.Joined {
			t.Fatalf("JoinRoom(%s) expiring before its connection = %+v, %v", room, j, err)
		}
	}
	join := func(room string) (store.Join, error) {
		return e.s.JoinRoom(e.ctx, e.joinNoExpiry(c, room), 3)
	}
	early("r1")
	early("r2")
	if j, err := join("r3"); err != nil || !j.Joined {
		t.Fatalf("JoinRoom(r3) = %+v, %v", j, err)
	}
	e.clk.Advance(2 * time.Minute) // r1 and r2 expired, c1 live

	// r1 and r2 expired and still stored: c1 is in one room of three.
	if j, err := join("r4"); err != nil || !j.Joined {
		t.Fatalf("JoinRoom(r4) with 2 of 3 memberships expired = %+v, %v; want joined", j, err)
	}
	// Deleted by the sweeper (or TTL) and released, as the cleanup handler does.
	if sw, ok := e.s.(store.Sweeper); ok {
		imgs, err := sw.DeleteExpired(e.ctx, e.clk.Now(), 100)
		must(t, err)
		for _, img := range imgs {
			if img.Type() == store.TypeMembership {
				m, err := img.Membership()
				must(t, err)
				_, err = e.s.ReleaseMembership(e.ctx, m)
				must(t, err)
			}
		}
	}
	if j, err := join("r5"); err != nil || !j.Joined {
		t.Fatalf("JoinRoom(r5) with 2 live memberships of 3 = %+v, %v; want joined", j, err)
	}
	_, err := join("r6")
	wantErr(t, "JoinRoom(r6) at the cap", err, store.ErrRoomLimit)
	members, err := e.roomMembers(tenantA, "r6")
	must(t, err)
	sameList(t, "RoomMembers of the refused room", members, nil, normMember)
	// A room it was in and whose membership expired is a new room.
	_, err = join("r1")
	wantErr(t, "JoinRoom(r1) again, at the cap", err, store.ErrRoomLimit)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	if len(rooms) != 3 {
		t.Errorf("ConnectionRooms at the cap: %d memberships, want 3", len(rooms))
	}
	if l, err := e.s.LeaveRoom(e.ctx, tenantA, "r4", "c1"); err != nil || !l.Left {
		t.Fatalf("LeaveRoom(r4) = %+v, %v", l, err)
	}
	if j, err := join("r1"); err != nil || !j.Joined {
		t.Errorf("JoinRoom(r1) again after a leave = %+v, %v; want joined", j, err)
	}
	_, err = join("r2")
	wantErr(t, "JoinRoom(r2) again, at the cap", err, store.ErrRoomLimit)
}
