package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// randomTests: rounds of random operations, several at once on each
// connection, against a model.
var randomTests = []subtest{
	{"random/concurrent joins, leaves, heartbeats and disconnects keep members and holds", func(t *testing.T, e *env) {
		testRandomConcurrentOps(t, e, false)
	}},
	{"random/the same with expiries and concurrent sweeps", func(t *testing.T, e *env) {
		testRandomConcurrentOps(t, e, true)
	}},
}

// randomShortTTL is the lifetime of the short-lived connections of
// testRandomConcurrentOps with expiries (half the slots: one of each user): the clock
// moves a millisecond a round, so that they expire unless a heartbeat
// renews them.
const randomShortTTL = 3 * time.Millisecond

// Sizes of testRandomConcurrentOps: slots (two per user), each holding one
// connection at a time (a new one after a disconnect), rooms, rounds.
const (
	randomSlots  = 10
	randomRooms  = 3
	randomRounds = 12
)

// randomOp is one operation of a round on a slot's connection.
type randomOp struct {
	kind string // "join", "leave", "touch", "delete", "sweep"
	room string
}

// testRandomConcurrentOps runs rounds of random operations: in each, every
// slot's connection gets one to three operations (joins, two of one room
// at times, leaves, heartbeats, a disconnect) issued at once, all slots
// together, while readers list the rooms. Checked:
//   - a reader never lists a membership absent when the round began that
//     no operation of the round adds (a connection disconnected or a
//     membership left in an earlier round: a ghost, or a left member still
//     sent the room's messages), nor misses one present when the round
//     began that no operation of the round removes, nor lists one twice;
//     and what a reader was handed never changes afterwards;
//   - after each round, every membership was added by one join (Joined)
//     and reported removed by one call at most (LeaveRoom's Left or in
//     DeleteConnection's list), as often as it was added if it is gone;
//   - each user's Firsts less Lasts in a room is 1 if the user is in the
//     room, else 0 (a duplicated or lost Last would announce user_left
//     twice, or never);
//   - RoomMembers, CountRoomMembers and ConnectionRooms agree.
//
// With expiries, half the slots hold short-lived connections, the
// clock moves between rounds, and sweeps (DeleteExpired, then
// ReleaseMembership of each membership it returns, as the cleanup handler
// does) run among the round's operations and, to end each round, after
// the clock moved: Lasts count those releases too, and the memberships of
// short-lived connections are left out of the count of removals (a join
// replaces an expired one unreported).
func testRandomConcurrentOps(t *testing.T, e *env, expiries bool) {
	rng := rand.New(rand.NewPCG(7, 11))
	rooms := make([]string, randomRooms)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("rr%d", i)
	}
	userOf := func(slot int) string { return fmt.Sprintf("random-user-%d", slot/2) }
	type mkey struct{ conn, room string }
	present := map[mkey]bool{}     // memberships after the last round
	added := map[mkey]int{}        // joins that added each
	removed := map[mkey]int{}      // calls that reported each removed
	holds := map[[2]string]int{}   // (room, user): Firsts less Lasts
	gone := map[string]bool{}      // connections disconnected
	shortConn := map[string]bool{} // the short-lived connections
	var mu sync.Mutex              // guards added, removed, holds during a round
	record := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	conns := make([]store.Connection, randomSlots)
	gen := make([]int, randomSlots)
	short := func(slot int) bool { return expiries && slot%2 == 0 }
	lifetime := func(slot int) time.Duration {
		if short(slot) {
			return randomShortTTL
		}
		return ttl
	}
	newConn := func(slot int) {
		gen[slot]++
		c := e.conn(fmt.Sprintf("rnd-%02d-%03d", slot, gen[slot]), tenantA, userOf(slot))
		c.ExpiresAt = e.clk.Now().Add(lifetime(slot))
		must(t, e.s.PutConnection(e.ctx, c))
		conns[slot] = c
		shortConn[c.ConnectionID] = short(slot)
	}
	for slot := range conns {
		newConn(slot)
	}
	var sw store.Sweeper
	swept := 0 // memberships the sweeps deleted
	if expiries {
		sw = sweeperOf(t, e)
	}
	// sweep runs DeleteExpired, then releases each membership it deleted.
	sweep := func(round int) {
		imgs, err := sw.DeleteExpired(e.ctx, e.clk.Now(), 1000)
		if err != nil {
			t.Errorf("round %d: DeleteExpired: %v", round, err)
			return
		}
		for _, img := range imgs {
			if img.Type() != store.TypeMembership {
				continue
			}
			m, err := img.Membership()
			must(t, err)
			last, err := e.s.ReleaseMembership(e.ctx, m)
			if err != nil {
				t.Errorf("round %d: ReleaseMembership(%s, %s): %v", round, m.ConnectionID, m.RoomID, err)
			}
			record(func() {
				swept++
				removed[mkey{m.ConnectionID, m.RoomID}]++
				if last {
					holds[[2]string{m.RoomID, m.UserID}]--
				}
			})
		}
	}
	for round := range randomRounds {
		// Each slot's operations, at random.
		plan := make([][]randomOp, randomSlots)
		touched := map[mkey]bool{} // memberships a round's operation may change
		for slot := range plan {
			for range 1 + rng.IntN(3) {
				op := randomOp{room: rooms[rng.IntN(len(rooms))]}
				switch x := rng.IntN(10); {
				case x == 0 && expiries:
					op.kind = "sweep"
				case x < 5:
					op.kind = "join"
				case x < 7:
					op.kind = "leave"
				case x < 9:
					op.kind = "touch"
				default:
					op.kind = "delete"
				}
				if op.kind == "join" && rng.IntN(3) == 0 { // two joins of one room at once
					plan[slot] = append(plan[slot], op)
				}
				plan[slot] = append(plan[slot], op)
			}
			c := conns[slot].ConnectionID
			for _, op := range plan[slot] {
				if op.kind == "delete" {
					for _, r := range rooms {
						touched[mkey{c, r}] = true
					}
				} else if op.kind == "join" || op.kind == "leave" {
					touched[mkey{c, op.room}] = true
				}
			}
		}
		// Readers: what each must list, whatever the interleaving.
		type held struct {
			room string
			ms   store.Members
			was  []store.Membership
		}
		var heldMu sync.Mutex
		var snaps []held
		var ops []func()
		for slot, p := range plan {
			c := conns[slot]
			for _, op := range p {
				m := e.membership(c, op.room)
				k := mkey{c.ConnectionID, op.room}
				hk := [2]string{op.room, c.UserID}
				switch op.kind {
				case "join":
					ops = append(ops, func() {
						j, err := e.s.JoinRoom(e.ctx, m, 0)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Errorf("round %d: JoinRoom(%s, %s): %v", round, k.conn, k.room, err)
						}
						record(func() {
							if j.Joined {
								added[k]++
							}
							if j.First {
								holds[hk]++
							}
						})
					})
				case "leave":
					ops = append(ops, func() {
						l, err := e.s.LeaveRoom(e.ctx, tenantA, op.room, c.ConnectionID)
						if err != nil {
							t.Errorf("round %d: LeaveRoom(%s, %s): %v", round, k.conn, k.room, err)
						}
						record(func() {
							if l.Left {
								removed[k]++
							}
							if l.Last {
								holds[hk]--
							}
						})
					})
				case "touch":
					ops = append(ops, func() {
						err := e.s.TouchConnection(e.ctx, c.ConnectionID, e.clk.Now().Add(lifetime(slot)))
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Errorf("round %d: TouchConnection(%s): %v", round, k.conn, err)
						}
					})
				case "sweep":
					ops = append(ops, func() { sweep(round) })
				case "delete":
					ops = append(ops, func() {
						_, ms, err := e.s.DeleteConnection(e.ctx, c.ConnectionID)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							t.Errorf("round %d: DeleteConnection(%s): %v", round, k.conn, err)
						}
						record(func() {
							for _, m := range ms {
								removed[mkey{m.ConnectionID, m.RoomID}]++
								if m.Last {
									holds[[2]string{m.RoomID, m.UserID}]--
								}
							}
						})
					})
				}
			}
		}
		for _, r := range rooms {
			for range 2 {
				ops = append(ops, func() {
					ms, err := e.s.RoomMembers(e.ctx, tenantA, r)
					if err != nil {
						t.Errorf("round %d: RoomMembers(%s): %v", round, r, err)
						return
					}
					was := ms.Slice()
					heldMu.Lock()
					snaps = append(snaps, held{r, ms, was})
					heldMu.Unlock()
				})
			}
		}
		rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
		concurrently(len(ops), func(i int) { ops[i]() })
		for _, s := range snaps {
			seen := map[string]bool{}
			for _, m := range s.was {
				k := mkey{m.ConnectionID, s.room}
				if seen[k.conn] {
					t.Errorf("round %d: RoomMembers(%s) listed %s twice", round, s.room, k.conn)
				}
				seen[k.conn] = true
				if !present[k] && !touched[k] {
					t.Errorf("round %d: RoomMembers(%s) listed %s, absent before the round (disconnected: %v) and joined by none of its operations", round, s.room, k.conn, gone[k.conn])
				}
			}
			for k := range present {
				if k.room == s.room && !touched[k] && !seen[k.conn] {
					t.Errorf("round %d: RoomMembers(%s) missed %s, there before the round and removed by none of its operations", round, s.room, k.conn)
				}
			}
			if now := s.ms.Slice(); !slices.Equal(now, s.was) {
				t.Errorf("round %d: a RoomMembers(%s) of the round changed after it was handed out", round, s.room)
			}
		}
		// The store after the round (the clock moved, the expired swept),
		// against the counts.
		if expiries {
			e.clk.Advance(time.Millisecond)
			sweep(round)
		}
		clear(present)
		inRoom := map[[2]string]bool{}
		for slot := range conns {
			c := conns[slot]
			rs, err := e.s.ConnectionRooms(e.ctx, c.ConnectionID)
			must(t, err)
			for _, m := range rs {
				present[mkey{c.ConnectionID, m.RoomID}] = true
				inRoom[[2]string{m.RoomID, c.UserID}] = true
			}
		}
		for _, r := range rooms {
			ms, err := e.roomMembers(tenantA, r)
			must(t, err)
			var got, want []string
			for _, m := range ms {
				got = append(got, m.ConnectionID)
			}
			for k := range present {
				if k.room == r {
					want = append(want, k.conn)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: RoomMembers(%s) = %q, but ConnectionRooms say %q", round, r, got, want)
			}
			if n, err := e.s.CountRoomMembers(e.ctx, tenantA, r, 1000); err != nil || n != len(want) {
				t.Fatalf("round %d: CountRoomMembers(%s) = %d, %v, want %d", round, r, n, err, len(want))
			}
		}
		keys := map[mkey]bool{}
		for k := range added {
			keys[k] = true
		}
		for k := range removed {
			keys[k] = true
		}
		for k := range keys {
			if shortConn[k.conn] {
				continue // a join may have replaced an expired one unreported
			}
			want := added[k] - removed[k]
			if got := map[bool]int{true: 1}[present[k]]; got != want {
				t.Fatalf("round %d: membership of %s in %s added %d times, reported removed %d times, and there now: %v", round, k.conn, k.room, added[k], removed[k], present[k])
			}
		}
		for hk, n := range holds {
			if want := map[bool]int{true: 1}[inRoom[hk]]; n != want {
				t.Fatalf("round %d: user %s in room %s: Firsts less Lasts = %d, want %d (in the room: %v)", round, hk[1], hk[0], n, want, inRoom[hk])
			}
		}
		for slot, p := range plan {
			_, err := e.s.GetConnection(e.ctx, conns[slot].ConnectionID)
			if slices.ContainsFunc(p, func(op randomOp) bool { return op.kind == "delete" }) || errors.Is(err, store.ErrNotFound) {
				gone[conns[slot].ConnectionID] = true
				newConn(slot)
			} else {
				must(t, err)
			}
		}
		if !expiries {
			e.clk.Advance(time.Millisecond)
		}
	}
	if expiries && swept == 0 {
		t.Fatal("no membership expired: the test did not sweep any")
	}
	t.Logf("%d connections in all, %d memberships swept", len(gone)+len(conns), swept)
}
