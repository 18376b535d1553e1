package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// joinExpiryTests: a JoinRoom with a zero ExpiresAt gives the membership
// its connection's expiry, read in the join's atomic step, so that the
// caller reads no connection first, and no heartbeat slips between.
var joinExpiryTests = []subtest{
	{"join expiry/zero is the connection's", testJoinTakesConnectionExpiry},
	{"join expiry/joins racing heartbeats", testJoinRacingTouch},
}

// Sizes of testJoinRacingTouch: rounds of joins of one connection, each
// into a room of its own, released at once with as many heartbeats.
const (
	touchRounds = 4
	touchJoins  = 6
)

// joinNoExpiry is c joining room with a zero ExpiresAt.
func (e *env) joinNoExpiry(c store.Connection, room string) store.Membership {
	m := e.membership(c, room)
	m.ExpiresAt = time.Time{}
	return m
}

// testJoinTakesConnectionExpiry: the membership's expiry is the
// connection's as the store has it (moved by a heartbeat since the caller
// last saw it), to the millisecond: it lives exactly as long as its
// connection, and a join again over an expired membership takes it too.
func testJoinTakesConnectionExpiry(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	other := e.putConn(t, "c2", tenantA, bob)
	e.clk.Advance(time.Minute)
	renewed := e.clk.Now().Add(ttl + 7*time.Millisecond)
	must(t, e.s.TouchConnection(e.ctx, "c1", renewed))

	m := e.joinNoExpiry(c, "r1")
	j, err := e.s.JoinRoom(e.ctx, m, 0)
	if err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Fatalf("JoinRoom with no expiry = %+v, %v; want joined, first", j, err)
	}
	m.ExpiresAt = renewed
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms after a join with no expiry", rooms, []store.Membership{m}, normMember)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers after a join with no expiry", members, []store.Membership{m}, normMember)

	// Another connection's join takes its own connection's expiry.
	mo := e.joinNoExpiry(other, "r1")
	if _, err := e.s.JoinRoom(e.ctx, mo, 0); err != nil {
		t.Fatal(err)
	}
	mo.ExpiresAt = other.ExpiresAt

	// Live until the connection's expiry, not a millisecond more.
	e.clk.Advance(renewed.Sub(e.clk.Now()) - time.Millisecond)
	if n, err := e.s.CountRoomMembers(e.ctx, tenantA, "r1", 10); err != nil || n != 1 {
		t.Errorf("CountRoomMembers 1 ms before c1's expiry (c2's passed) = %d, %v; want 1", n, err)
	}
	rooms, err = e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms 1 ms before the connection's expiry", rooms, []store.Membership{m}, normMember)
	e.clk.Advance(time.Millisecond)
	rooms, err = e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms at the connection's expiry", rooms, nil, normMember)

	// A membership that expired before its connection (given a short
	// expiry) is replaced by a join with none, which takes the
	// connection's.
	c3 := e.putConn(t, "c3", tenantA, carol)
	short := e.membership(c3, "r2")
	short.ExpiresAt = e.clk.Now().Add(time.Second)
	if j, err := e.s.JoinRoom(e.ctx, short, 0); err != nil || !j.Joined {
		t.Fatalf("JoinRoom with a short expiry = %+v, %v", j, err)
	}
	e.clk.Advance(2 * time.Second)
	again := e.joinNoExpiry(c3, "r2")
	if j, err := e.s.JoinRoom(e.ctx, again, 0); err != nil || !j.Joined {
		t.Fatalf("JoinRoom with no expiry over an expired membership = %+v, %v; want joined", j, err)
	}
	again.ExpiresAt = c3.ExpiresAt
	rooms, err = e.s.ConnectionRooms(e.ctx, "c3")
	must(t, err)
	sameList(t, "ConnectionRooms after joining again with no expiry", rooms, []store.Membership{again}, normMember)

	// Refused as ever when the connection is gone.
	_, err = e.s.JoinRoom(e.ctx, e.joinNoExpiry(e.conn("nope", tenantA, mallory), "r1"), 0)
	wantErr(t, "JoinRoom with no expiry of a missing connection", err, store.ErrNotFound)
}

// testJoinRacingTouch races joins of one connection (no expiry given)
// against its heartbeats, each moving its expiry somewhere else. Whatever
// the interleaving, once all returned every membership has the
// connection's expiry: none expires before its connection (dropped from
// the room while the user is there), none after.
func testJoinRacingTouch(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	for round := range touchRounds {
		concurrently(2*touchJoins, func(k int) {
			i := k / 2
			if k%2 == 0 {
				m := e.joinNoExpiry(c, fmt.Sprintf("r%d-%d", round, i))
				if j, err := e.s.JoinRoom(e.ctx, m, 0); err != nil || !j.Joined {
					t.Errorf("JoinRoom(%s) racing heartbeats = %+v, %v", m.RoomID, j, err)
				}
				return
			}
			exp := Start.Add(ttl + time.Duration(round*touchJoins+i+1)*time.Second)
			if err := e.s.TouchConnection(e.ctx, "c1", exp); err != nil {
				t.Errorf("TouchConnection racing joins: %v", err)
			}
		})
		got, err := e.s.GetConnection(e.ctx, "c1")
		must(t, err)
		rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
		must(t, err)
		if want := (round + 1) * touchJoins; len(rooms) != want {
			t.Fatalf("round %d: ConnectionRooms lists %d memberships, want %d", round, len(rooms), want)
		}
		for _, m := range rooms {
			if !m.ExpiresAt.Equal(got.ExpiresAt) {
				t.Errorf("round %d: membership of %s expires at %v, its connection at %v", round, m.RoomID,
					m.ExpiresAt.UTC(), got.ExpiresAt.UTC())
			}
		}
	}
}
