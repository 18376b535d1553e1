package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var sweeperTests = []subtest{
	{"sweeper/deletes expired items", testSweep},
	{"sweeper/nothing expired", testSweepNothing},
}

func sweeperOf(t *testing.T, e *env) store.Sweeper {
	t.Helper()
	sw, ok := e.s.(store.Sweeper)
	if !ok {
		t.Skip("the store does not implement store.Sweeper")
	}
	return sw
}

// Images carry expiresAt in whole seconds, as DynamoDB's TTL wants.
func imageConn(c store.Connection) store.Connection {
	c = normConn(c)
	c.ExpiresAt = c.ExpiresAt.Truncate(time.Second)
	return c
}

func imageMember(m store.Membership) store.Membership {
	m = normMember(m)
	m.ExpiresAt = m.ExpiresAt.Truncate(time.Second)
	return m
}

func testSweep(t *testing.T, e *env) {
	sw := sweeperOf(t, e)
	room := newRoom(tenantA, "r1", Start, false)
	e.createRooms(t, room)
	msg := e.message(tenantA, "r1", alice, "kept forever")
	must(t, e.s.PutMessage(e.ctx, msg))

	// e1..e3 expire after 10 minutes; live is kept alive for an hour.
	e1 := e.putConn(t, "e1", tenantA, alice)
	e.clk.Advance(30*time.Second + 250*time.Millisecond)
	e2 := e.putConn(t, "e2", tenantA, bob)
	e3 := e.putConn(t, "e3", tenantB, alice)
	live := e.putConn(t, "live", tenantA, carol)
	m1 := e.join(t, e1, "r1")
	m2 := e.join(t, e1, "r2")
	m3 := e.join(t, e2, "r1")
	keep := e.join(t, live, "r1")
	hour := Start.Add(time.Hour)
	must(t, e.s.TouchConnection(e.ctx, "live", hour))
	live.ExpiresAt, keep.ExpiresAt = hour, hour
	short := store.Membership{ // to be an expired membership of a live connection
		TenantID: tenantA, RoomID: "r3", ConnectionID: "live", UserID: carol, Username: live.Username,
		JoinedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Minute),
	}
	if j, err := e.s.JoinRoom(e.ctx, short, 0); err != nil || !j.Joined {
		t.Fatalf("JoinRoom = %+v, %v", j, err)
	}

	now := e.clk.Advance(15 * time.Minute)
	const limit = 2
	var conns []store.Connection
	var members []store.Membership
	for call := 0; ; call++ {
		imgs, err := sw.DeleteExpired(e.ctx, now, limit)
		must(t, err)
		if len(imgs) > limit {
			t.Errorf("DeleteExpired(limit %d) returned %d images", limit, len(imgs))
		}
		if call == 0 && len(imgs) != limit {
			t.Errorf("first DeleteExpired(limit %d) returned %d images, with 7 items expired", limit, len(imgs))
		}
		if len(imgs) == 0 {
			break
		}
		if call > 10 {
			t.Fatal("DeleteExpired keeps returning images")
		}
		for _, img := range imgs {
			switch img.Type() {
			case store.TypeConnection:
				c, err := img.Connection()
				must(t, err)
				conns = append(conns, c)
			case store.TypeMembership:
				m, err := img.Membership()
				must(t, err)
				members = append(members, m)
			default:
				t.Errorf("image of type %q: %v", img.Type(), img)
			}
		}
	}
	sameSet(t, "swept connections", conns, []store.Connection{e1, e2, e3}, imageConn, connKey)
	sameSet(t, "swept memberships", members, []store.Membership{m1, m2, m3, short}, imageMember, memberKey)

	// What was swept is gone; the rest is untouched.
	for _, id := range []string{"e1", "e2", "e3"} {
		if _, _, err := e.s.DeleteConnection(e.ctx, id); err == nil {
			t.Errorf("DeleteConnection(%s) after the sweep found it", id)
		}
	}
	got, err := e.s.GetConnection(e.ctx, "live")
	must(t, err)
	same(t, "live connection after the sweep", got, live, normConn)
	rooms, err := e.s.ConnectionRooms(e.ctx, "live")
	must(t, err)
	sameList(t, "live memberships after the sweep", rooms, []store.Membership{keep}, normMember)

	// Much later, only the live connection and its membership are left to
	// sweep: rooms and messages never expire.
	imgs, err := sw.DeleteExpired(e.ctx, now.Add(24*365*time.Hour), 100)
	must(t, err)
	if len(imgs) != 2 {
		t.Errorf("final sweep returned %d images, want 2: %v", len(imgs), imgs)
	}
	gotRoom, err := e.s.GetRoom(e.ctx, tenantA, "r1")
	must(t, err)
	same(t, "room after sweeps", gotRoom, room, normRoom)
	gotMsg, err := e.s.GetMessage(e.ctx, tenantA, msg.MessageID)
	must(t, err)
	same(t, "message after sweeps", gotMsg, msg, normMessage)
	imgs, err = sw.DeleteExpired(e.ctx, now.Add(24*365*time.Hour), 100)
	must(t, err)
	if len(imgs) != 0 {
		t.Errorf("sweep of an empty store returned %v", imgs)
	}
}

func testSweepNothing(t *testing.T, e *env) {
	sw := sweeperOf(t, e)
	c := e.putConn(t, "c1", tenantA, alice)
	m := e.join(t, c, "r1")
	imgs, err := sw.DeleteExpired(e.ctx, e.clk.Now().Add(ttl-time.Second), 100)
	must(t, err)
	if len(imgs) != 0 {
		t.Errorf("DeleteExpired before anything expired returned %v", imgs)
	}
	got, err := e.s.GetConnection(e.ctx, "c1")
	must(t, err)
	same(t, "connection", got, c, normConn)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "memberships", members, []store.Membership{m}, normMember)
}
