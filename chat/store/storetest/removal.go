package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// removalTests: each membership is removed, and reported removed, once;
// a join of an expired connection is refused whatever else its
// transaction would have found.
var removalTests = []subtest{
	{"removal/join of an expired connection whose membership lives on", testJoinExpiredConnectionLiveMembership},
	{"removal/leaves racing DeleteConnection report each membership once", testLeavesRacingDelete},
	{"removal/a dead node's memberships are held until ReleaseMembership", testNodeSweepHoldsUntilRelease},
}

// testJoinExpiredConnectionLiveMembership: a connection that has expired
// while one of its memberships is still live (joined with a later expiry)
// joins that room again: ErrNotFound, as for any join of an expired
// connection, not "already joined" (the membership's own check failing
// too must not hide the connection's).
func testJoinExpiredConnectionLiveMembership(t *testing.T, e *env) {
	c := e.putConn(t, "late", tenantA, alice)
	m := e.membership(c, "r1")
	m.ExpiresAt = c.ExpiresAt.Add(time.Hour) // outlives its connection
	if _, err := e.s.JoinRoom(e.ctx, m, 0); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(ttl + time.Second) // the connection expires; the membership lives on
	m.JoinedAt = e.clk.Now()
	j, err := e.s.JoinRoom(e.ctx, m, 0)
	if !errors.Is(err, store.ErrNotFound) || j != (store.Join{}) {
		t.Errorf("JoinRoom of an expired connection whose membership is live = %+v, %v; want ErrNotFound", j, err)
	}
}

// removalConns and removalRooms size testLeavesRacingDelete: connections
// (one user each) in removalRooms rooms, each leaving all of them while
// being deleted.
const (
	removalConns = 6
	removalRooms = 3
)

// testLeavesRacingDelete races LeaveRoom of each of a connection's rooms
// against DeleteConnection: every membership is removed by exactly one of
// them, and only that one reports it (a LeaveRoom that left, or in
// DeleteConnection's list), with Last (each user has one connection). A
// membership reported by both would be announced twice, or by neither
// never.
func testLeavesRacingDelete(t *testing.T, e *env) {
	conns := make([]store.Connection, removalConns)
	for i := range conns {
		conns[i] = e.putConn(t, fmt.Sprintf("lr%02d", i), tenantA, fmt.Sprintf("leaver-%02d", i))
		for r := range removalRooms {
			e.join(t, conns[i], fmt.Sprintf("r%d", r))
		}
	}
	leaves := make([][removalRooms]store.Leave, removalConns)
	dels := make([][]store.Membership, removalConns)
	per := removalRooms + 1
	concurrently(removalConns*per, func(k int) {
		i, op := k/per, k%per
		c := conns[i]
		if op == removalRooms {
			_, ms, err := e.s.DeleteConnection(e.ctx, c.ConnectionID)
			if err != nil {
				t.Errorf("DeleteConnection(%s): %v", c.ConnectionID, err)
			}
			dels[i] = ms
			return
		}
		l, err := e.s.LeaveRoom(e.ctx, tenantA, fmt.Sprintf("r%d", op), c.ConnectionID)
		if err != nil {
			t.Errorf("LeaveRoom(%s, r%d): %v", c.ConnectionID, op, err)
		}
		leaves[i][op] = l
	})
	for i, c := range conns {
		for r := range removalRooms {
			room := fmt.Sprintf("r%d", r)
			var reports []string
			if l := leaves[i][r]; l.Left {
				reports = append(reports, fmt.Sprintf("LeaveRoom %+v", l))
			} else if l != (store.Leave{}) {
				t.Errorf("LeaveRoom(%s, %s) = %+v: not left, yet the last", c.ConnectionID, room, l)
			}
			for _, m := range dels[i] {
				if m.RoomID == room {
					reports = append(reports, fmt.Sprintf("DeleteConnection (Last %v)", m.Last))
				}
			}
			switch {
			case len(reports) != 1:
				t.Errorf("membership of %s in %s reported removed by %d calls, want 1: %q", c.ConnectionID, room, len(reports), reports)
			case leaves[i][r].Left && !leaves[i][r].Last:
				t.Errorf("LeaveRoom(%s, %s) = %+v, want the user's last", c.ConnectionID, room, leaves[i][r])
			}
		}
		for _, m := range dels[i] {
			if !m.Last {
				t.Errorf("DeleteConnection(%s) returned its membership of %s without Last (the user's only one)", c.ConnectionID, m.RoomID)
			}
		}
	}
	for r := range removalRooms {
		e.wantOnly(t, fmt.Sprintf("r%d", r))
	}
}

// testNodeSweepHoldsUntilRelease: DeleteNodeConnections returns its
// images as DeleteExpired does, for the cleanup handler, which releases
// each membership and announces user_left for the user's last
// (ReleaseMembership's answer): so the memberships it deletes stay held
// until then. Bob had two tabs on the dead node in r1: one release of the
// two is his last; Alice had one there and one on a live node: hers is
// not. Afterwards Bob's next join of r1 is his first.
func testNodeSweepHoldsUntilRelease(t *testing.T, e *env) {
	ns := nodeSweeperOf(t, e)
	const dead = "Hq_-"
	b1 := e.putConn(t, nodeID(dead, "AAAAAAAAAAA"), tenantA, bob)
	b2 := e.putConn(t, nodeID(dead, "BBBBBBBBBBB"), tenantA, bob)
	a1 := e.putConn(t, nodeID(dead, "CCCCCCCCCCC"), tenantA, alice)
	a2 := e.putConn(t, nodeID("Hq_0", "CCCCCCCCCCC"), tenantA, alice)
	for _, c := range []store.Connection{b1, b2, a1, a2} {
		e.join(t, c, "r1")
	}
	_, members := drainNode(t, e, ns, dead, 100)
	if len(members) != 3 {
		t.Fatalf("DeleteNodeConnections returned %d memberships, want 3", len(members))
	}
	lasts := map[string]int{}
	for _, m := range members {
		last, err := e.s.ReleaseMembership(e.ctx, m)
		must(t, err)
		if last {
			lasts[m.UserID]++
		}
	}
	if lasts[bob] != 1 || lasts[alice] != 0 {
		t.Errorf("ReleaseMembership of the dead node's memberships: %d lasts of bob's two (want 1), %d of alice's (want 0, her live tab holds r1)", lasts[bob], lasts[alice])
	}
	b3 := e.putConn(t, nodeID("Hq_0", "BBBBBBBBBBB"), tenantA, bob)
	if j := e.joinResult(t, b3, "r1"); j != (store.Join{Joined: true, First: true}) {
		t.Errorf("bob's next join of r1 = %+v, want his first", j)
	}
}
