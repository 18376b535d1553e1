package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// ReadCounter is implemented by the stores a test wraps to count the
// items (rows, DynamoDB items) the store reads from its database: the
// suite then checks that joining and leaving a room reads as much in a
// large room as in a small one. Stores that do not implement it skip that
// subtest (their tests check their statements' plans instead).
type ReadCounter interface {
	ItemsRead() int64
}

var holdTests = []subtest{
	{"holds/first join and last leave of a user", testHoldsFirstLast},
	{"holds/concurrent joins and leaves of one user", testHoldsConcurrent},
	{"holds/expired memberships are released once", testHoldsExpiry},
	{"holds/a rejoin before the release keeps the hold", testHoldsRejoinBeforeRelease},
	{"holds/count room members", testCountRoomMembers},
	{"holds/cost does not grow with the room", testHoldsCost},
}

func (e *env) joinResult(t *testing.T, c store.Connection, room string) store.Join {
	t.Helper()
	j, err := e.s.JoinRoom(e.ctx, store.Membership{
		TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID,
		UserID: c.UserID, Username: c.Username, JoinedAt: e.clk.Now(), ExpiresAt: c.ExpiresAt,
	}, 0)
	must(t, err)
	return j
}

func (e *env) leave(t *testing.T, c store.Connection, room string) store.Leave {
	t.Helper()
	l, err := e.s.LeaveRoom(e.ctx, c.TenantID, room, c.ConnectionID)
	must(t, err)
	return l
}

func testHoldsFirstLast(t *testing.T, e *env) {
	a1 := e.putConn(t, "a1", tenantA, alice)
	a2 := e.putConn(t, "a2", tenantA, alice)
	b1 := e.putConn(t, "b1", tenantA, bob)
	x1 := e.putConn(t, "x1", tenantB, alice) // same user id, other tenant
	first, again := store.Join{Joined: true, First: true}, store.Join{Joined: true}
	for _, step := range []struct {
		c    store.Connection
		room string
		want store.Join
	}{
		{a1, "r1", first},
		{a2, "r1", again}, // alice's second tab
		{a1, "r1", store.Join{}},
		{b1, "r1", first},
		{x1, "r1", first}, // tenant B's r1
		{a2, "r2", first},
	} {
		if j := e.joinResult(t, step.c, step.room); j != step.want {
			t.Errorf("JoinRoom(%s into %s) = %+v, want %+v", step.c.ConnectionID, step.room, j, step.want)
		}
	}
	left, last := store.Leave{Left: true}, store.Leave{Left: true, Last: true}
	for _, step := range []struct {
		c    store.Connection
		room string
		want store.Leave
	}{
		{a1, "r1", left}, // a2 is still there
		{a1, "r1", store.Leave{}},
		{b1, "r1", last},
		{a1, "r1", store.Leave{}},
	} {
		if l := e.leave(t, step.c, step.room); l != step.want {
			t.Errorf("LeaveRoom(%s from %s) = %+v, want %+v", step.c.ConnectionID, step.room, l, step.want)
		}
	}
	// a2 leaves r1 by disconnecting: its last in r1 and in r2.
	a3 := e.putConn(t, "a3", tenantA, alice)
	if j := e.joinResult(t, a3, "r2"); j != again {
		t.Errorf("JoinRoom(a3 into r2) = %+v, want %+v", j, again)
	}
	_, ms, err := e.s.DeleteConnection(e.ctx, "a2")
	must(t, err)
	got := map[string]bool{}
	for _, m := range ms {
		got[m.RoomID] = m.Last
	}
	if want := map[string]bool{"r1": true, "r2": false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DeleteConnection(a2): last by room %v, want %v", got, want)
	}
	_, ms, err = e.s.DeleteConnection(e.ctx, "a3")
	must(t, err)
	if len(ms) != 1 || !ms[0].Last {
		t.Errorf("DeleteConnection(a3) = %+v, want its r2 membership, the last", ms)
	}
	// Gone from the room, alice's next join is a first again.
	if j := e.joinResult(t, e.putConn(t, "a4", tenantA, alice), "r1"); j != first {
		t.Errorf("JoinRoom(a4 into r1) = %+v, want %+v", j, first)
	}
	// Tenant B's alice was never touched.
	if l := e.leave(t, x1, "r1"); l != last {
		t.Errorf("LeaveRoom(x1 from r1) = %+v, want %+v", l, last)
	}
}

// testHoldsConcurrent: of one user's connections joining a room at once,
// exactly one is the first; of them leaving at once (some leaving the room,
// some disconnecting), exactly one is the last.
func testHoldsConcurrent(t *testing.T, e *env) {
	const n = 8
	conns := make([]store.Connection, n)
	for i := range conns {
		conns[i] = e.putConn(t, fmt.Sprintf("a%d", i), tenantA, alice)
	}
	for round := range 3 {
		var firsts, lasts, errs atomic.Int32
		concurrently(n, func(i int) {
			j, err := e.s.JoinRoom(e.ctx, store.Membership{
				TenantID: tenantA, RoomID: "r1", ConnectionID: conns[i].ConnectionID, UserID: alice,
				Username: conns[i].Username, JoinedAt: e.clk.Now(), ExpiresAt: conns[i].ExpiresAt,
			}, 0)
			if err != nil || !j.Joined {
				t.Errorf("JoinRoom(%s) = %+v, %v", conns[i].ConnectionID, j, err)
				errs.Add(1)
			}
			if j.First {
				firsts.Add(1)
			}
		})
		if n := firsts.Load(); n != 1 || errs.Load() > 0 {
			t.Fatalf("round %d: %d of %d concurrent joins of one user reported first, want 1", round, n, len(conns))
		}
		concurrently(n, func(i int) {
			if i%2 == 0 && round > 0 {
				_, ms, err := e.s.DeleteConnection(e.ctx, conns[i].ConnectionID)
				if err != nil || len(ms) != 1 {
					t.Errorf("DeleteConnection(%s) = %+v, %v", conns[i].ConnectionID, ms, err)
					return
				}
				if ms[0].Last {
					lasts.Add(1)
				}
				return
			}
			l, err := e.s.LeaveRoom(e.ctx, tenantA, "r1", conns[i].ConnectionID)
			if err != nil || !l.Left {
				t.Errorf("LeaveRoom(%s) = %+v, %v", conns[i].ConnectionID, l, err)
				return
			}
			if l.Last {
				lasts.Add(1)
			}
		})
		if n := lasts.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent leaves of one user reported last, want 1", round, n, len(conns))
		}
		if round > 0 {
			for i := 0; i < n; i += 2 {
				conns[i] = e.putConn(t, conns[i].ConnectionID, tenantA, alice)
			}
		}
	}
}

// testHoldsExpiry: expired memberships hold their room until released,
// and releasing one twice (a stream batch delivered again) reports last
// once.
func testHoldsExpiry(t *testing.T, e *env) {
	a1 := e.putConn(t, "a1", tenantA, alice)
	a2 := e.putConn(t, "a2", tenantA, alice)
	b1 := e.putConn(t, "b1", tenantA, bob)
	m1, m2 := e.join(t, a1, "r1"), e.join(t, a2, "r1")
	e.join(t, b1, "r1")
	must(t, e.s.TouchConnection(e.ctx, "b1", Start.Add(time.Hour)))
	e.clk.Advance(ttl + time.Second)

	// Expired but not released: a new tab of alice's is not news.
	a3 := e.putConn(t, "a3", tenantA, alice)
	if j := e.joinResult(t, a3, "r1"); j != (store.Join{Joined: true}) {
		t.Errorf("JoinRoom(a3) beside expired unreleased memberships = %+v, want joined, not first", j)
	}
	// The expired memberships go as the sweeper or TTL deletes them.
	ms := []store.Membership{m1, m2}
	if sw, ok := e.s.(store.Sweeper); ok {
		imgs, err := sw.DeleteExpired(e.ctx, e.clk.Now(), 100)
		must(t, err)
		ms = ms[:0]
		for _, img := range imgs {
			if img.Type() == store.TypeMembership {
				m, err := img.Membership()
				must(t, err)
				ms = append(ms, m)
			}
		}
		if len(ms) != 2 {
			t.Fatalf("DeleteExpired: %d membership images, want 2", len(ms))
		}
	}
	lasts := 0
	for range 2 {
		for _, m := range ms {
			last, err := e.s.ReleaseMembership(e.ctx, m)
			must(t, err)
			if last {
				lasts++
			}
		}
	}
	if lasts != 0 {
		t.Errorf("releasing expired memberships of a user still in the room reported last %d times", lasts)
	}
	l := e.leave(t, a3, "r1")
	if l != (store.Leave{Left: true, Last: true}) {
		t.Errorf("LeaveRoom(a3) once the expired ones are released = %+v, want left, last", l)
	}
	// Released with nobody else of the user there: last, once.
	e4 := e.putConn(t, "a4", tenantA, alice)
	m4 := store.Membership{TenantID: tenantA, RoomID: "r2", ConnectionID: "a4", UserID: alice, Username: e4.Username,
		JoinedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Minute)}
	if j, err := e.s.JoinRoom(e.ctx, m4, 0); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Fatalf("JoinRoom(a4 into r2) = %+v, %v", j, err)
	}
	e.clk.Advance(2 * time.Minute)
	if sw, ok := e.s.(store.Sweeper); ok {
		_, err := sw.DeleteExpired(e.ctx, e.clk.Now(), 100)
		must(t, err)
	}
	lasts = 0
	for range 3 {
		last, err := e.s.ReleaseMembership(e.ctx, m4)
		must(t, err)
		if last {
			lasts++
		}
	}
	if lasts != 1 {
		t.Errorf("releasing the user's last membership three times reported last %d times, want 1", lasts)
	}
	never := m4
	never.ConnectionID = "never"
	if last, err := e.s.ReleaseMembership(e.ctx, never); err != nil || last {
		t.Errorf("ReleaseMembership of a membership never held = %v, %v", last, err)
	}
	if j := e.joinResult(t, e4, "r1"); j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom(a4 into r1) after everything released = %+v, want first", j)
	}
}

// testHoldsRejoinBeforeRelease: a connection that joins a room again
// after the sweeper (or TTL) deleted its expired membership there, before
// the cleanup handler released it, keeps that hold: the join is not the
// user's first, the late ReleaseMembership is not their last (no
// user_left while they are in the room) and the leave is.
func testHoldsRejoinBeforeRelease(t *testing.T, e *env) {
	a1 := e.putConn(t, "a1", tenantA, alice)
	m := e.membership(a1, "r1")
	m.ExpiresAt = e.clk.Now().Add(time.Minute)
	if j, err := e.s.JoinRoom(e.ctx, m, 0); err != nil || j != (store.Join{Joined: true, First: true}) {
		t.Fatalf("JoinRoom = %+v, %v; want joined, first", j, err)
	}
	e.clk.Advance(2 * time.Minute) // the membership expired, a1 is live
	if sw, ok := e.s.(store.Sweeper); ok {
		_, err := sw.DeleteExpired(e.ctx, e.clk.Now(), 100)
		must(t, err)
	}
	if j, err := e.s.JoinRoom(e.ctx, e.joinNoExpiry(a1, "r1"), 0); err != nil || j != (store.Join{Joined: true}) {
		t.Errorf("JoinRoom again before the release = %+v, %v; want joined, not first", j, err)
	}
	for range 2 {
		if last, err := e.s.ReleaseMembership(e.ctx, m); err != nil || last {
			t.Errorf("ReleaseMembership of the swept membership after the rejoin = %v, %v; want not last", last, err)
		}
	}
	if l := e.leave(t, a1, "r1"); l != (store.Leave{Left: true, Last: true}) {
		t.Errorf("LeaveRoom after the rejoin = %+v; want left, last", l)
	}
	if j := e.joinResult(t, a1, "r1"); j != (store.Join{Joined: true, First: true}) {
		t.Errorf("JoinRoom after the leave = %+v; want joined, first", j)
	}
}

func testCountRoomMembers(t *testing.T, e *env) {
	for i := range 5 {
		c := e.putConn(t, fmt.Sprintf("c%d", i), tenantA, fmt.Sprintf("user-%d", i%3))
		e.join(t, c, "r1")
	}
	x := e.putConn(t, "x", tenantB, alice)
	e.join(t, x, "r1")
	for _, tc := range []struct {
		tenant, room string
		max, want    int
	}{
		{tenantA, "r1", 10, 5}, {tenantA, "r1", 5, 5}, {tenantA, "r1", 3, 3}, {tenantA, "r1", 0, 0},
		{tenantB, "r1", 10, 1}, {tenantA, "r2", 10, 0}, {tenantC, "r1", 10, 0},
	} {
		n, err := e.s.CountRoomMembers(e.ctx, tc.tenant, tc.room, tc.max)
		must(t, err)
		if n != tc.want {
			t.Errorf("CountRoomMembers(%s, %s, %d) = %d, want %d", tc.tenant, tc.room, tc.max, n, tc.want)
		}
	}
	// Expired memberships are not counted.
	must(t, e.s.TouchConnection(e.ctx, "c0", Start.Add(time.Hour)))
	e.clk.Advance(ttl + time.Second)
	if n, err := e.s.CountRoomMembers(e.ctx, tenantA, "r1", 10); err != nil || n != 1 {
		t.Errorf("CountRoomMembers with four expired = %d, %v, want 1", n, err)
	}
}

// testHoldsCost: a user's join, second join, leave and last leave read as
// many items in a room of 10n members as in one of n.
func testHoldsCost(t *testing.T, e *env) {
	rc, ok := e.s.(ReadCounter)
	if !ok {
		t.Skip("the store does not count its reads (ReadCounter)")
	}
	const n = 10
	fill := func(from, to int) {
		for i := from; i < to; i++ {
			c := e.putConn(t, fmt.Sprintf("m%03d", i), tenantA, fmt.Sprintf("member-%03d", i))
			e.join(t, c, "r1")
		}
	}
	cost := func(round int) int64 {
		a := e.putConn(t, fmt.Sprintf("a%d", round), tenantA, alice)
		b := e.putConn(t, fmt.Sprintf("b%d", round), tenantA, alice)
		before := rc.ItemsRead()
		if j := e.joinResult(t, a, "r1"); !j.First {
			t.Errorf("round %d: first join %+v", round, j)
		}
		if j := e.joinResult(t, b, "r1"); !j.Joined || j.First {
			t.Errorf("round %d: second join %+v", round, j)
		}
		if l := e.leave(t, a, "r1"); !l.Left || l.Last {
			t.Errorf("round %d: first leave %+v", round, l)
		}
		if _, ms, err := e.s.DeleteConnection(e.ctx, b.ConnectionID); err != nil || len(ms) != 1 || !ms[0].Last {
			t.Errorf("round %d: last leave by disconnect: %+v, %v", round, ms, err)
		}
		return rc.ItemsRead() - before
	}
	fill(0, n)
	small := cost(0)
	fill(n, 10*n)
	large := cost(1)
	t.Logf("items read by two joins, a leave and a disconnect: %d in a room of %d, %d in one of %d", small, n, large, 10*n)
	if large > small || small >= n {
		t.Errorf("two joins, a leave and a disconnect read %d items in a room of %d members and %d in one of %d: the cost grows with the room", small, n, large, 10*n)
	}
}
