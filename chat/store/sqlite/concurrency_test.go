package sqlite

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// checkInvariants compares the index's views with each other under cmu
// (no write in flight): every room's list and position map agree, no room,
// user set, tenant set or per-connection room list is kept empty, a room's
// memberships and the connections' room lists name the same memberships,
// the user and tenant sets hold exactly the connections, no membership
// belongs to a connection that is gone, and the holds count the
// memberships held (in the index, or swept and not yet released). ghosts
// allows memberships of a connection that is gone: those the sweep leaves
// when it deletes an expired connection whose memberships expire later
// (chat's Cleanup removes them).
func checkInvariants(t *testing.T, s *Store, ghosts bool) {
	t.Helper()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	x := s.idx
	for i := range x.shards {
		x.shards[i].mu.Lock()
	}
	defer func() {
		for i := range x.shards {
			x.shards[i].mu.Unlock()
		}
	}()
	conns := map[string]*connEntry{}
	byConn := map[string][]roomKey{}
	users := map[userKey][]string{}
	tenants := map[string][]string{}
	members := map[memberKey]store.Membership{}
	for i := range x.shards {
		sh := &x.shards[i]
		for id, e := range sh.conns {
			conns[id] = e
		}
		for id, rooms := range sh.byConn {
			if len(rooms) == 0 {
				t.Errorf("connection %s has an empty room list", id)
			}
			if !slices.IsSortedFunc(rooms, roomKey.compare) {
				t.Errorf("connection %s: room list %v not sorted", id, rooms)
			}
			byConn[id] = rooms
		}
		for k, set := range sh.users {
			if set.len() == 0 {
				t.Errorf("user %v: empty set kept", k)
			}
			for e := range set.all() {
				users[k] = append(users[k], e.id)
			}
		}
		for k, set := range sh.tenants {
			if set.len() == 0 {
				t.Errorf("tenant %v: empty set kept", k)
			}
			for e := range set.all() {
				tenants[k] = append(tenants[k], e.id)
			}
		}
		for k, r := range sh.rooms {
			if r.empty() {
				t.Errorf("room %v: empty list kept", k)
			}
			for id, m := range r.expired {
				if _, ok := r.pos[id]; ok || m.ConnectionID != id || (roomKey{m.TenantID, m.RoomID}) != k {
					t.Errorf("room %v: expired membership %+v under %s (in the list too: %v)", k, m, id, ok)
				}
				members[memberKeyOf(m)] = m
			}
			if len(r.pos) != r.len() {
				t.Errorf("room %v: %d positions for %d memberships", k, len(r.pos), r.len())
			}
			for j := range r.len() {
				m := r.get(j)
				if p, ok := r.pos[m.ConnectionID]; !ok || int(p) != j {
					t.Errorf("room %v: %s at %d, position map says %d (%v)", k, m.ConnectionID, j, p, ok)
				}
				if (roomKey{m.TenantID, m.RoomID}) != k {
					t.Errorf("room %v holds a membership of %v", k, m)
				}
				if len(r.exps) != r.len() {
					t.Fatalf("room %v: %d expiries for %d memberships", k, len(r.exps), r.len())
				}
				if r.exps[j] < r.minExp {
					t.Errorf("room %v: minExp %d after an expiry %d", k, r.minExp, r.exps[j])
				}
				if !r.handedOut(j/memberChunk) && ms(m.ExpiresAt) != r.exps[j] {
					t.Errorf("room %v: unshared chunk's expiry %v, want %d", k, m.ExpiresAt, r.exps[j])
				}
				members[memberKeyOf(m)] = r.at(j)
			}
		}
	}
	// The connections' room lists and the rooms' lists agree.
	n := 0
	for id, rooms := range byConn {
		for _, k := range rooms {
			n++
			if _, ok := members[memberKey{k.tenant, k.room, id}]; !ok {
				t.Errorf("connection %s lists room %v, which has no membership of it", id, k)
			}
		}
	}
	if n != len(members) {
		t.Errorf("%d memberships in the connections' room lists, %d in the rooms", n, len(members))
	}
	// The user and tenant sets hold the connections, each once.
	wantUsers := map[userKey][]string{}
	wantTenants := map[string][]string{}
	for id, e := range conns {
		wantUsers[userKey{e.tenant, e.user}] = append(wantUsers[userKey{e.tenant, e.user}], id)
		wantTenants[e.tenant] = append(wantTenants[e.tenant], id)
	}
	sameSets(t, "user", users, wantUsers)
	sameSets(t, "tenant", tenants, wantTenants)
	// No ghost: every membership is of a connection there is.
	for k := range members {
		if _, ok := conns[k.conn]; !ok && !ghosts {
			t.Errorf("membership %v of a connection that is gone", k)
		}
	}
	// The holds count the memberships held: in the index or pending.
	held := map[holdKey]int{}
	for _, m := range members {
		held[holdKeyOf(m)]++
	}
	for k, u := range s.pending {
		if _, ok := members[k]; ok {
			t.Errorf("membership %v both in the index and pending release", k)
		}
		held[holdKey{k.tenant, k.room, u}]++
	}
	for k, n := range s.holds {
		if n <= 0 {
			t.Errorf("hold %v: count %d kept", k, n)
		}
	}
	if !maps.Equal(held, s.holds) {
		t.Errorf("holds %v, memberships held %v", s.holds, held)
	}
}

func sameSets[K comparable](t *testing.T, what string, got, want map[K][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d %s sets, want %d: %v, want %v", len(got), what, len(want), got, want)
	}
	for k, ids := range want {
		g := slices.Sorted(slices.Values(got[k]))
		if w := slices.Sorted(slices.Values(ids)); !slices.Equal(g, w) {
			t.Errorf("%s %v: set %v, want %v", what, k, g, w)
		}
	}
}

// A join that runs after its connection was deleted (the join request of
// a client whose socket closed meanwhile: chat's joinRoom reads the
// connection, then joins) adds nothing: a membership of a gone connection
// would receive the room's broadcasts, count as a member and hold the
// user in the room until it expired.
func TestJoinAfterDeleteConnectionAddsNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := openTest(t, t.TempDir(), func() time.Time { return now })
	c := store.Connection{ConnectionID: "c1", TenantID: "t", UserID: "u", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.PutConnection(ctx, c))
	if _, _, err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	j, err := s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: "c1", UserID: "u",
		JoinedAt: now, ExpiresAt: c.ExpiresAt}, 0)
	if !errors.Is(err, store.ErrNotFound) || j.Joined || j.First {
		t.Errorf("JoinRoom of a deleted connection = %+v, %v; want ErrNotFound", j, err)
	}
	if ms, err := s.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != 0 {
		t.Errorf("RoomMembers = %+v, %v; want none (a ghost receives the room's broadcasts)", ms.Slice(), err)
	}
	checkInvariants(t, s, false)
}

// Many goroutines make random writes on a few connections of a few users
// (several goroutines on each connection, several connections of each
// user in each room) while the clock moves and a sweeper deletes and
// releases what expired. user_joined and user_left must alternate: for
// each user in each room, the Firsts reported minus the Lasts reported is
// 1 while the user holds a membership there and 0 otherwise, whatever the
// interleaving. At the end, the index's views agree with each other, and
// once every connection is gone and every swept membership released,
// nothing is left in memory.
func TestConcurrentOpsKeepViewsAndHolds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()).UTC() }
	s := openTest(t, t.TempDir(), now)

	const tenant = "t"
	users := []string{"u0", "u1"}
	rooms := []string{"r0", "r1"}
	var conns []string
	owner := map[string]string{}
	for _, u := range users {
		for i := range 3 {
			c := fmt.Sprintf("%s-c%d", u, i)
			conns = append(conns, c)
			owner[c] = u
		}
	}
	// Firsts minus Lasts, by user in room.
	var mu sync.Mutex
	balance := map[holdKey]int{}
	note := func(room, user string, d int) {
		mu.Lock()
		balance[holdKey{tenant, room, user}] += d
		mu.Unlock()
	}
	noteLasts := func(ms []store.Membership) {
		for _, m := range ms {
			if m.Last {
				note(m.RoomID, m.UserID, -1)
			}
		}
	}
	// release does what chat's Cleanup does with what the sweep deleted:
	// releases the memberships, and removes the live memberships of the
	// connections.
	release := func(imgs []store.Image) {
		for _, img := range imgs {
			if img.Type() == store.TypeConnection {
				c, err := img.Connection()
				if err != nil {
					t.Error(err)
					continue
				}
				ms, err := s.ConnectionRooms(ctx, c.ConnectionID)
				if err != nil {
					t.Error(err)
				}
				for _, m := range ms {
					l, err := s.LeaveRoom(ctx, m.TenantID, m.RoomID, m.ConnectionID)
					if err != nil {
						t.Error(err)
					}
					if l.Last {
						note(m.RoomID, m.UserID, -1)
					}
				}
				continue
			}
			m, err := img.Membership()
			if err != nil {
				t.Error(err)
				continue
			}
			// Released twice, as a redelivered stream batch would: last once.
			for range 2 {
				last, err := s.ReleaseMembership(ctx, m)
				if err != nil {
					t.Error(err)
				}
				if last {
					note(m.RoomID, m.UserID, -1)
				}
			}
		}
	}

	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for range 2000 {
				c := conns[rng.IntN(len(conns))]
				u := owner[c]
				r := rooms[rng.IntN(len(rooms))]
				exp := now().Add(time.Duration(1+rng.IntN(40)) * time.Millisecond)
				var err error
				switch rng.IntN(8) {
				case 0:
					_, err = s.AddConnection(ctx, store.Connection{ConnectionID: c, TenantID: tenant, UserID: u,
						ConnectedAt: now(), ExpiresAt: exp}, 2)
					if errors.Is(err, store.ErrConnectionLimit) {
						err = nil
					}
					// The limit is counted with the insert, in one step:
					// concurrent adds of one user never pass it together
					// (a live connection never comes back once expired).
					if uc, err := s.UserConnections(ctx, tenant, u); err != nil || len(uc) > 2 {
						t.Errorf("user %s has %d live connections, limit 2 (%v)", u, len(uc), err)
					}
				case 1, 2:
					// As chat's joinRoom: the connection's expiry, read
					// before the join (the connection may go meanwhile).
					if gc, err := s.GetConnection(ctx, c); err == nil {
						exp = gc.ExpiresAt
					}
					var j store.Join
					j, err = s.JoinRoom(ctx, store.Membership{TenantID: tenant, RoomID: r, ConnectionID: c, UserID: u,
						JoinedAt: now(), ExpiresAt: exp}, 0)
					if j.First {
						note(r, u, +1)
					}
				case 3:
					var l store.Leave
					l, err = s.LeaveRoom(ctx, tenant, r, c)
					if l.Last {
						note(r, u, -1)
					}
				case 4:
					var ms []store.Membership
					_, ms, err = s.DeleteConnection(ctx, c)
					noteLasts(ms)
				case 5:
					err = s.TouchConnection(ctx, c, now().Add(40*time.Millisecond)) // forward, as heartbeats do
				case 6:
					var imgs []store.Image
					at := now()
					imgs, err = s.DeleteExpired(ctx, at, 1+rng.IntN(5))
					for _, img := range imgs {
						var exp time.Time
						if m, err := img.Membership(); err == nil {
							exp = m.ExpiresAt
						} else if c, err := img.Connection(); err == nil {
							exp = c.ExpiresAt
						}
						if exp.After(at) {
							t.Errorf("DeleteExpired(%v) deleted an item live until %v: %v", at, exp, img)
						}
					}
					release(imgs)
				case 7:
					_, err = s.TakeTypingSlot(ctx, c, now(), 5*time.Millisecond)
					clock.Add(int64(rng.IntN(3)))
				}
				if err != nil && !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkInvariants(t, s, false)
	check := func(step string) {
		t.Helper()
		s.cmu.Lock()
		defer s.cmu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rooms {
			for _, u := range users {
				k := holdKey{tenant, r, u}
				want := 0
				if s.holds[k] > 0 {
					want = 1
				}
				if balance[k] != want {
					t.Errorf("%s: %s in %s: Firsts minus Lasts = %d with %d held; want %d", step, u, r, balance[k], s.holds[k], want)
				}
			}
		}
	}
	check("after the concurrent writes")

	// Everything goes: every connection deleted, the clock past every
	// expiry, everything swept and released. Nothing may be left.
	for _, c := range conns {
		_, ms, err := s.DeleteConnection(ctx, c)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		noteLasts(ms)
	}
	clock.Add(time.Hour.Milliseconds())
	for {
		imgs, err := s.DeleteExpired(ctx, now(), 0)
		must(t, err)
		if len(imgs) == 0 {
			break
		}
		release(imgs)
	}
	checkInvariants(t, s, false)
	check("at the end")
	s.cmu.Lock()
	left := len(s.holds) + len(s.pending)
	s.cmu.Unlock()
	for i := range s.idx.shards {
		sh := &s.idx.shards[i]
		sh.mu.Lock()
		left += len(sh.conns) + len(sh.users) + len(sh.tenants) + len(sh.rooms) + len(sh.byConn) + len(sh.typing)
		sh.mu.Unlock()
	}
	if left != 0 {
		t.Errorf("%d entries left in memory once everything is gone", left)
	}
}

// oldest keeps the n smallest of what it is given, in order, whatever the
// order it is given them in.
func TestOldest(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 5, 100} {
		for _, count := range []int{0, 1, 3, 7, 250} {
			in := make([]int, count)
			for i := range in {
				in[i] = rng.IntN(50)
			}
			o := oldest[int]{n: n, cmp: func(a, b int) int { return a - b }}
			for _, x := range in {
				o.add(x)
			}
			want := slices.Sorted(slices.Values(in))
			want = want[:min(n, len(want))]
			if got := o.sorted(); !slices.Equal(got, want) && len(got)+len(want) > 0 {
				t.Errorf("n=%d of %v: %v, want %v", n, in, got, want)
			}
		}
	}
}

// Broadcasts read RoomMembers' shared slice outside any lock while the
// room changes: joins append, leaves swap-remove, heartbeats renew
// expiries, the sweep removes. Under -race, a change in place of a slice
// handed out is a data race; a reader also checks that its slice has no
// duplicate and no zero membership (a wrong recipient list).
func TestRoomMembersReadWhileRoomChanges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()).UTC() }
	s := openTest(t, t.TempDir(), now)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for range 1500 {
				c := fmt.Sprint("c", rng.IntN(20))
				exp := now().Add(time.Duration(1+rng.IntN(20)) * time.Millisecond)
				switch rng.IntN(5) {
				case 0:
					s.PutConnection(ctx, store.Connection{ConnectionID: c, TenantID: "t", UserID: "u" + c, ConnectedAt: now(), ExpiresAt: exp})
				case 1:
					s.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: c, UserID: "u" + c, JoinedAt: now(), ExpiresAt: exp}, 0)
				case 2:
					s.LeaveRoom(ctx, "t", "r", c)
				case 3:
					s.TouchConnection(ctx, c, exp)
					clock.Add(1)
				case 4:
					if _, _, err := s.DeleteConnection(ctx, c); err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
					}
					s.DeleteExpired(ctx, now(), 3)
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ms, err := s.RoomMembers(ctx, "t", "r")
				if err != nil {
					t.Error(err)
					return
				}
				seen := map[string]bool{}
				for m := range ms.All() {
					if m.ConnectionID == "" || m.UserID != "u"+m.ConnectionID || seen[m.ConnectionID] {
						t.Errorf("RoomMembers: %+v in %+v", m, ms.Slice())
						return
					}
					seen[m.ConnectionID] = true
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	checkInvariants(t, s, true)
}
