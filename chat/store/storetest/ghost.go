package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// ghostTests: no membership outlives its connection. A membership of a
// connection that is gone (a ghost) would be counted, listed by
// RoomMembers, sent every broadcast of its room, and would hold its user
// in the room (no user_left, no first join) until it expired.
var ghostTests = []subtest{
	{"ghosts/join of a gone or expired connection", testJoinGoneConnection},
	{"ghosts/join racing DeleteConnection", testJoinRacingDelete},
	{"ghosts/join racing the removal of a dead node", testJoinRacingNodeSweep},
}

// ghostRounds and ghostPairs size testJoinRacingDelete: rounds of pairs
// (a join and a DeleteConnection of the same connection) released at once.
const (
	ghostRounds = 4
	ghostPairs  = 8
)

// nodeRounds and nodeConns size testJoinRacingNodeSweep: rounds of
// nodeConns joins racing one DeleteNodeConnections.
const (
	nodeRounds = 2
	nodeConns  = 12
)

// testJoinGoneConnection: JoinRoom refuses a connection that was never
// there, was deleted, or has expired (ErrNotFound), and adds nothing.
func testJoinGoneConnection(t *testing.T, e *env) {
	stay := e.putConn(t, "stay", tenantA, bob)
	e.join(t, stay, "r1")
	gone := e.putConn(t, "gone", tenantA, alice)
	if _, _, err := e.s.DeleteConnection(e.ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	never := e.conn("never", tenantA, alice)
	old := e.putConn(t, "old", tenantA, carol)
	must(t, e.s.TouchConnection(e.ctx, "stay", Start.Add(time.Hour)))
	e.clk.Advance(ttl + time.Second) // "old" expires; "stay" lives on
	for _, c := range []store.Connection{gone, never, old} {
		j, err := e.s.JoinRoom(e.ctx, store.Membership{
			TenantID: tenantA, RoomID: "r1", ConnectionID: c.ConnectionID, UserID: c.UserID,
			Username: c.Username, JoinedAt: e.clk.Now(), ExpiresAt: Start.Add(time.Hour),
		}, 0)
		if !errors.Is(err, store.ErrNotFound) || j != (store.Join{}) {
			t.Errorf("JoinRoom of connection %q (deleted, never stored or expired) = %+v, %v; want ErrNotFound", c.ConnectionID, j, err)
		}
		rooms, err := e.s.ConnectionRooms(e.ctx, c.ConnectionID)
		must(t, err)
		sameList(t, "ConnectionRooms("+c.ConnectionID+")", rooms, nil, normMember)
	}
	e.wantOnly(t, "r1", "stay")
	// Nobody of alice's or carol's holds the room: their next joins are
	// their first.
	for _, u := range []string{alice, carol} {
		c := e.putConn(t, "new-"+u, tenantA, u)
		if j := e.joinResult(t, c, "r1"); j != (store.Join{Joined: true, First: true}) {
			t.Errorf("JoinRoom of %s's new connection = %+v, want the user's first", u, j)
		}
	}
}

// testJoinRacingDelete races JoinRoom against DeleteConnection of the same
// connection, many times. Whatever the interleaving, once both returned no
// membership of the connection is left: the join either came first (then
// DeleteConnection returned its membership, with Last as the join's
// First) or found the connection gone (ErrNotFound, nothing added). Half
// the connections are in another room already and join it again in the
// race too (a join that adds nothing, of a room DeleteConnection removes
// the connection from). Member counts and holds stay right: the rooms
// count only their steady member, and each racing user's next join is its
// first.
func testJoinRacingDelete(t *testing.T, e *env) {
	stay := e.putConn(t, "stay", tenantA, bob)
	e.join(t, stay, "r1")
	e.join(t, stay, "r0")
	joined, refused, ghosts := 0, 0, 0
	for round := range ghostRounds {
		conns := make([]store.Connection, ghostPairs)
		var putErr atomic.Bool
		concurrently(ghostPairs, func(i int) {
			conns[i] = e.conn(fmt.Sprintf("g%02d-%d", round, i), tenantA, fmt.Sprintf("ghost-%02d-%d", round, i))
			if err := e.s.PutConnection(e.ctx, conns[i]); err != nil {
				t.Error(err)
				putErr.Store(true)
				return
			}
			if i%2 == 1 {
				if _, err := e.s.JoinRoom(e.ctx, e.membership(conns[i], "r0"), 0); err != nil {
					t.Error(err)
					putErr.Store(true)
				}
			}
		})
		if putErr.Load() {
			return
		}
		joins := make([]store.Join, ghostPairs)
		joinErrs := make([]error, ghostPairs)
		dels := make([][]store.Membership, ghostPairs)
		concurrently(3*ghostPairs, func(k int) {
			i, c := k/3, conns[k/3]
			switch k % 3 {
			case 0:
				joins[i], joinErrs[i] = e.s.JoinRoom(e.ctx, e.membership(c, "r1"), 0)
			case 1:
				_, ms, err := e.s.DeleteConnection(e.ctx, c.ConnectionID)
				if err != nil {
					t.Errorf("DeleteConnection(%s): %v", c.ConnectionID, err)
				}
				dels[i] = ms
			case 2:
				if i%2 == 0 {
					return
				}
				j, err := e.s.JoinRoom(e.ctx, e.membership(c, "r0"), 0)
				if !errors.Is(err, store.ErrNotFound) && (err != nil || j != (store.Join{})) {
					t.Errorf("round %d: JoinRoom(%s) again, racing DeleteConnection = %+v, %v; want not joined, or ErrNotFound", round, c.ConnectionID, j, err)
				}
			}
		})
		for i, c := range conns {
			j, err := joins[i], joinErrs[i]
			if i%2 == 1 {
				r0 := slices.IndexFunc(dels[i], func(m store.Membership) bool { return m.RoomID == "r0" })
				if r0 < 0 || !dels[i][r0].Last {
					t.Errorf("round %d: DeleteConnection(%s) = %+v, want its membership of r0, the last", round, c.ConnectionID, dels[i])
				}
			}
			returned := slices.IndexFunc(dels[i], func(m store.Membership) bool { return m.RoomID == "r1" })
			switch {
			case err == nil && j == (store.Join{Joined: true, First: true}):
				joined++
				if returned < 0 {
					t.Errorf("round %d: JoinRoom(%s) = %+v, but DeleteConnection returned no membership of r1", round, c.ConnectionID, j)
				} else if !dels[i][returned].Last {
					t.Errorf("round %d: DeleteConnection(%s) returned its only membership without Last", round, c.ConnectionID)
				}
			case errors.Is(err, store.ErrNotFound) && j == (store.Join{}):
				refused++
				if returned >= 0 {
					t.Errorf("round %d: JoinRoom(%s) was refused, but DeleteConnection returned a membership of r1", round, c.ConnectionID)
				}
			default:
				t.Errorf("round %d: JoinRoom(%s) racing DeleteConnection = %+v, %v; want joined and first, or ErrNotFound", round, c.ConnectionID, j, err)
			}
		}
		var left atomic.Int32
		concurrently(ghostPairs, func(i int) {
			rooms, err := e.s.ConnectionRooms(e.ctx, conns[i].ConnectionID)
			if err != nil {
				t.Error(err)
			}
			if len(rooms) > 0 {
				left.Add(1)
			}
		})
		ghosts += int(left.Load())
		// No ghost holds its user in the room: each user's next join is
		// its first, and leaving is the last.
		concurrently(ghostPairs, func(i int) {
			c := e.conn(fmt.Sprintf("a%02d-%d", round, i), tenantA, conns[i].UserID)
			m := store.Membership{TenantID: tenantA, RoomID: "r1", ConnectionID: c.ConnectionID, UserID: c.UserID,
				Username: c.Username, JoinedAt: e.clk.Now(), ExpiresAt: c.ExpiresAt}
			if err := e.s.PutConnection(e.ctx, c); err != nil {
				t.Error(err)
				return
			}
			if j, err := e.s.JoinRoom(e.ctx, m, 0); err != nil || j != (store.Join{Joined: true, First: true}) {
				t.Errorf("JoinRoom of %s after the race = %+v, %v; want the user's first (a ghost holds the room)", c.UserID, j, err)
			}
			if l, err := e.s.LeaveRoom(e.ctx, tenantA, "r1", c.ConnectionID); err != nil || l != (store.Leave{Left: true, Last: true}) {
				t.Errorf("LeaveRoom of %s after the race = %+v, %v; want left, the last", c.UserID, l, err)
			}
		})
	}
	if ghosts > 0 {
		t.Errorf("%d of %d joins racing DeleteConnection left a ghost membership", ghosts, ghostRounds*ghostPairs)
		return
	}
	t.Logf("of %d joins racing DeleteConnection, %d came first, %d found the connection gone", ghostRounds*ghostPairs, joined, refused)
	e.wantOnly(t, "r1", "stay")
	e.wantOnly(t, "r0", "stay")
}

// membership is c's membership of room (of c's tenant) joined now, until
// c's expiry.
func (e *env) membership(c store.Connection, room string) store.Membership {
	return store.Membership{
		TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID, UserID: c.UserID,
		Username: c.Username, JoinedAt: e.clk.Now(), ExpiresAt: c.ExpiresAt,
	}
}

// testJoinRacingNodeSweep races joins of a dead node's connections (one
// in flight when the node was declared dead, say) against
// DeleteNodeConnections, and against DeleteConnection of half of them (a
// post to one answered 410): as with DeleteConnection, no membership
// outlives its connection, one of the deletions returns every membership
// a join added, and nothing deadlocks.
func testJoinRacingNodeSweep(t *testing.T, e *env) {
	ns := nodeSweeperOf(t, e)
	stay := e.putConn(t, "stay", tenantA, bob)
	e.join(t, stay, "r1")
	ghosts := 0
	for round := range nodeRounds {
		prefix := fmt.Sprintf("Dd%02d", round)
		conns := make([]store.Connection, nodeConns)
		for i := range conns {
			conns[i] = e.putConn(t, nodeID(prefix, fmt.Sprintf("%011d", i)), tenantA, fmt.Sprintf("node-%02d-%d", round, i))
		}
		joins := make([]bool, nodeConns)
		dels := make([][]store.Membership, nodeConns)
		var imgs []store.Image
		concurrently(2*nodeConns+1, func(k int) {
			if k == 2*nodeConns {
				var err error
				if imgs, err = ns.DeleteNodeConnections(e.ctx, prefix, 100); err != nil {
					t.Error(err)
				}
				return
			}
			i, c := k/2, conns[k/2]
			if k%2 == 1 {
				if i%2 == 0 {
					_, ms, err := e.s.DeleteConnection(e.ctx, c.ConnectionID)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Errorf("DeleteConnection(%s) racing DeleteNodeConnections: %v", c.ConnectionID, err)
					}
					dels[i] = ms
				}
				return
			}
			j, err := e.s.JoinRoom(e.ctx, e.membership(c, "r1"), 0)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("JoinRoom(%s) racing DeleteNodeConnections: %v", c.ConnectionID, err)
			}
			joins[i] = err == nil && j.Joined
		})
		swept := map[string]bool{}
		for _, ms := range dels {
			for _, m := range ms {
				swept[m.ConnectionID] = true
			}
		}
		for _, img := range imgs {
			if img.Type() == store.TypeMembership {
				m, err := img.Membership()
				must(t, err)
				swept[m.ConnectionID] = true
			}
		}
		for i, c := range conns {
			rooms, err := e.s.ConnectionRooms(e.ctx, c.ConnectionID)
			must(t, err)
			if len(rooms) > 0 {
				ghosts++
			} else if joins[i] && !swept[c.ConnectionID] {
				t.Errorf("round %d: JoinRoom(%s) joined, but neither deletion returned its membership", round, c.ConnectionID)
			}
		}
	}
	if ghosts > 0 {
		t.Errorf("%d of %d joins racing DeleteNodeConnections left a ghost membership", ghosts, nodeRounds*nodeConns)
		return
	}
	e.wantOnly(t, "r1", "stay")
}

// wantOnly fails unless room (of tenant A) has exactly the live members
// ids, by RoomMembers and CountRoomMembers.
func (e *env) wantOnly(t *testing.T, room string, ids ...string) {
	t.Helper()
	members, err := e.roomMembers(tenantA, room)
	must(t, err)
	var got []string
	for _, m := range members {
		got = append(got, m.ConnectionID)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("RoomMembers(%s) = %q, want %q", room, got, ids)
	}
	if n, err := e.s.CountRoomMembers(e.ctx, tenantA, room, 1000); err != nil || n != len(ids) {
		t.Errorf("CountRoomMembers(%s) = %d, %v, want %d", room, n, err, len(ids))
	}
}
