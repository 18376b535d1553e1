package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var connectionTests = []subtest{
	{"connections/round trip", testConnRoundTrip},
	{"connections/duplicate id", testConnDuplicate},
	{"connections/get missing", testConnGetMissing},
	{"connections/delete returns memberships", testConnDelete},
	{"connections/delete missing", testConnDeleteMissing},
	{"connections/expired", testConnExpired},
	{"connections/touch", testConnTouch},
	{"connections/touch leaves expired memberships expired", testConnTouchExpiredMembership},
	{"connections/user and tenant scoping", testConnScoping},
	{"connections/reads see writes at once", testConnConsistent},
	{"connections/count up to max", testConnCount},
	{"connections/count skips expired", testConnCountExpired},
	{"connections/count sees writes at once", testConnCountConsistent},
	{"connections/count a tenant's", testTenantConnCount},
}

func testConnRoundTrip(t *testing.T, e *env) {
	at := Start.Add(-3 * time.Second)
	for _, c := range []store.Connection{
		{
			ConnectionID: "full", TenantID: tenantA, UserID: alice, Username: "Alice",
			ConnectedAt: at, ExpiresAt: at.Add(ttl + 123*time.Millisecond),
			SourceIP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		},
		{
			ConnectionID: "empty-optional", TenantID: tenantA, UserID: bob, Username: "Bob",
			ConnectedAt: at.Add(1 * time.Millisecond), ExpiresAt: at.Add(ttl),
		},
		{
			ConnectionID: "unicode=", TenantID: "tenänt/Ω", UserID: "用户-1", Username: "Zoë \"Z\" O'Neil\nline two\t🚀",
			ConnectedAt: at.Add(999 * time.Millisecond), ExpiresAt: at.Add(ttl + 1*time.Millisecond),
			SourceIP: "198.51.100.1", UserAgent: `agent "quoted" \ backslash`,
		},
	} {
		t.Run(c.ConnectionID, func(t *testing.T) {
			must(t, e.s.PutConnection(e.ctx, c))
			got, err := e.s.GetConnection(e.ctx, c.ConnectionID)
			must(t, err)
			same(t, "GetConnection", got, c, normConn)
			list, err := e.s.UserConnections(e.ctx, c.TenantID, c.UserID)
			must(t, err)
			sameList(t, "UserConnections", list, []store.Connection{c}, normConn)
		})
	}
}

func testConnDuplicate(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	other := e.conn("c1", tenantB, bob)
	wantErr(t, "PutConnection of a taken id", e.s.PutConnection(e.ctx, other), store.ErrExists)
	got, err := e.s.GetConnection(e.ctx, "c1")
	must(t, err)
	same(t, "GetConnection after a refused duplicate", got, c, normConn)
	list, err := e.s.UserConnections(e.ctx, tenantB, bob)
	must(t, err)
	sameList(t, "UserConnections of the refused duplicate", list, nil, normConn)
}

func testConnGetMissing(t *testing.T, e *env) {
	_, err := e.s.GetConnection(e.ctx, "nope")
	wantErr(t, "GetConnection of a missing id", err, store.ErrNotFound)
}

func testConnDelete(t *testing.T, e *env) {
	c1 := e.putConn(t, "c1", tenantA, alice)
	c2 := e.putConn(t, "c2", tenantA, bob)
	m1 := e.join(t, c1, "r1")
	m2 := e.join(t, c1, "r2")
	m3 := e.join(t, c2, "r1")

	got, ms, err := e.s.DeleteConnection(e.ctx, "c1")
	must(t, err)
	same(t, "deleted connection", got, c1, normConn)
	m1.Last, m2.Last = true, true // alice's only connection in r1 and r2
	sameSet(t, "deleted memberships", ms, []store.Membership{m1, m2}, normMember, memberKey)

	_, err = e.s.GetConnection(e.ctx, "c1")
	wantErr(t, "GetConnection after delete", err, store.ErrNotFound)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms after delete", rooms, nil, normMember)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers r1 after delete", members, []store.Membership{m3}, normMember)
	members, err = e.roomMembers(tenantA, "r2")
	must(t, err)
	sameList(t, "RoomMembers r2 after delete", members, nil, normMember)
	conns, err := e.s.UserConnections(e.ctx, tenantA, alice)
	must(t, err)
	sameList(t, "UserConnections after delete", conns, nil, normConn)
	conns, err = e.s.TenantConnections(e.ctx, tenantA)
	must(t, err)
	sameList(t, "TenantConnections after delete", conns, []store.Connection{c2}, normConn)
	wantErr(t, "TouchConnection after delete", e.s.TouchConnection(e.ctx, "c1", e.clk.Now().Add(ttl)), store.ErrNotFound)

	_, _, err = e.s.DeleteConnection(e.ctx, "c1")
	wantErr(t, "second DeleteConnection", err, store.ErrNotFound)
	// The id is free again; the memberships are gone for good.
	c1 = e.putConn(t, "c1", tenantA, alice)
	rooms, err = e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms of a reused id", rooms, nil, normMember)

	// A connection without memberships.
	got, ms, err = e.s.DeleteConnection(e.ctx, "c1")
	must(t, err)
	same(t, "deleted connection without memberships", got, c1, normConn)
	if len(ms) != 0 {
		t.Errorf("deleted memberships of a connection that joined nothing: %+v", ms)
	}
}

func testConnDeleteMissing(t *testing.T, e *env) {
	c, ms, err := e.s.DeleteConnection(e.ctx, "nope")
	wantErr(t, "DeleteConnection of a missing id", err, store.ErrNotFound)
	if c != (store.Connection{}) || len(ms) != 0 {
		t.Errorf("DeleteConnection of a missing id returned %+v, %+v", c, ms)
	}
}

func testConnExpired(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	live := e.putConn(t, "c2", tenantA, bob)
	m := e.join(t, c, "r1")
	e.join(t, live, "r1")
	// Keep c2 alive past c1's expiry.
	must(t, e.s.TouchConnection(e.ctx, "c2", Start.Add(time.Hour)))
	live.ExpiresAt = Start.Add(time.Hour)

	e.clk.Advance(ttl - time.Second) // one second before expiry: still live
	if _, err := e.s.GetConnection(e.ctx, "c1"); err != nil {
		t.Fatalf("GetConnection before expiry: %v", err)
	}
	conns, err := e.s.UserConnections(e.ctx, tenantA, alice)
	must(t, err)
	sameList(t, "UserConnections before expiry", conns, []store.Connection{c}, normConn)

	e.clk.Advance(2 * time.Second) // one second after
	_, err = e.s.GetConnection(e.ctx, "c1")
	wantErr(t, "GetConnection of an expired connection", err, store.ErrNotFound)
	conns, err = e.s.UserConnections(e.ctx, tenantA, alice)
	must(t, err)
	sameList(t, "UserConnections with an expired connection", conns, nil, normConn)
	conns, err = e.s.TenantConnections(e.ctx, tenantA)
	must(t, err)
	sameList(t, "TenantConnections with an expired connection", conns, []store.Connection{live}, normConn)
	wantErr(t, "TouchConnection of an expired connection",
		e.s.TouchConnection(e.ctx, "c1", e.clk.Now().Add(ttl)), store.ErrNotFound)
	_, err = e.s.GetConnection(e.ctx, "c1")
	wantErr(t, "GetConnection after refused touch", err, store.ErrNotFound)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms of an expired connection", rooms, nil, normMember)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	if len(members) != 1 || members[0].ConnectionID != "c2" {
		t.Errorf("RoomMembers with an expired membership: %+v, want only c2", members)
	}

	// Not deleted yet: DeleteConnection still returns it, with its
	// (expired) memberships, exactly once.
	got, ms, err := e.s.DeleteConnection(e.ctx, "c1")
	must(t, err)
	same(t, "DeleteConnection of an expired connection", got, c, normConn)
	m.Last = true // held until now: nobody was told alice left
	sameList(t, "its memberships", ms, []store.Membership{m}, normMember)
	_, _, err = e.s.DeleteConnection(e.ctx, "c1")
	wantErr(t, "second DeleteConnection of an expired connection", err, store.ErrNotFound)
}

func testConnTouch(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	m1 := e.join(t, c, "r1")
	m2 := e.join(t, c, "r2")
	other := e.putConn(t, "c2", tenantA, bob)
	e.join(t, other, "r1")

	e.clk.Advance(5 * time.Minute)
	newExpiry := e.clk.Now().Add(ttl + 7*time.Millisecond)
	must(t, e.s.TouchConnection(e.ctx, "c1", newExpiry))
	c.ExpiresAt, m1.ExpiresAt, m2.ExpiresAt = newExpiry, newExpiry, newExpiry

	e.clk.Advance(ttl - time.Minute) // past the old expiry, before the new one
	got, err := e.s.GetConnection(e.ctx, "c1")
	must(t, err)
	same(t, "touched connection", got, c, normConn)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameSet(t, "memberships of the touched connection", rooms, []store.Membership{m1, m2}, normMember, memberKey)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers r1 (c2 expired, not touched)", members, []store.Membership{m1}, normMember)
	conns, err := e.s.TenantConnections(e.ctx, tenantA)
	must(t, err)
	sameList(t, "TenantConnections", conns, []store.Connection{c}, normConn)

	e.clk.Advance(2 * time.Minute) // past the new expiry
	_, err = e.s.GetConnection(e.ctx, "c1")
	wantErr(t, "GetConnection after the new expiry", err, store.ErrNotFound)
	rooms, err = e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms after the new expiry", rooms, nil, normMember)

	wantErr(t, "TouchConnection of a missing id", e.s.TouchConnection(e.ctx, "nope", e.clk.Now().Add(ttl)), store.ErrNotFound)
}

func testConnTouchExpiredMembership(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	live := e.join(t, c, "r1")
	short := store.Membership{
		TenantID: tenantA, RoomID: "r2", ConnectionID: "c1", UserID: alice, Username: c.Username,
		JoinedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Minute),
	}
	if j, err := e.s.JoinRoom(e.ctx, short, 0); err != nil || !j.Joined {
		t.Fatalf("JoinRoom = %+v, %v", j, err)
	}
	e.clk.Advance(2 * time.Minute)
	newExpiry := e.clk.Now().Add(ttl)
	must(t, e.s.TouchConnection(e.ctx, "c1", newExpiry))
	live.ExpiresAt = newExpiry
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms after touch (the expired membership stays gone)", rooms, []store.Membership{live}, normMember)
	members, err := e.roomMembers(tenantA, "r2")
	must(t, err)
	sameList(t, "RoomMembers of the expired membership's room", members, nil, normMember)
}

func testConnScoping(t *testing.T, e *env) {
	a1 := e.putConn(t, "a1", tenantA, alice)
	a2 := e.putConn(t, "a2", tenantA, alice)
	b1 := e.putConn(t, "b1", tenantA, bob)
	// The same user id in another tenant is another user.
	x1 := e.putConn(t, "x1", tenantB, alice)

	for _, tc := range []struct {
		tenant, user string
		want         []store.Connection
	}{
		{tenantA, alice, []store.Connection{a1, a2}},
		{tenantA, bob, []store.Connection{b1}},
		{tenantB, alice, []store.Connection{x1}},
		{tenantB, bob, nil},
		{tenantA, carol, nil},
		{tenantC, alice, nil},
	} {
		got, err := e.s.UserConnections(e.ctx, tc.tenant, tc.user)
		must(t, err)
		sameSet(t, "UserConnections("+tc.tenant+", "+tc.user+")", got, tc.want, normConn, connKey)
	}
	for _, tc := range []struct {
		tenant string
		want   []store.Connection
	}{
		{tenantA, []store.Connection{a1, a2, b1}},
		{tenantB, []store.Connection{x1}},
		{tenantC, nil},
	} {
		got, err := e.s.TenantConnections(e.ctx, tc.tenant)
		must(t, err)
		sameSet(t, "TenantConnections("+tc.tenant+")", got, tc.want, normConn, connKey)
	}
}

// The presence logic reads a user's connections right after writing one.
func testConnConsistent(t *testing.T, e *env) {
	for i := range 20 {
		id := "c" + string(rune('a'+i))
		c := e.putConn(t, id, tenantA, alice)
		got, err := e.s.UserConnections(e.ctx, tenantA, alice)
		must(t, err)
		if len(got) != 1 || got[0].ConnectionID != id {
			t.Fatalf("UserConnections right after PutConnection(%s): %+v", id, got)
		}
		got, err = e.s.TenantConnections(e.ctx, tenantA)
		must(t, err)
		if len(got) != 1 {
			t.Fatalf("TenantConnections right after PutConnection(%s): %+v", id, got)
		}
		if _, _, err := e.s.DeleteConnection(e.ctx, c.ConnectionID); err != nil {
			t.Fatal(err)
		}
		got, err = e.s.UserConnections(e.ctx, tenantA, alice)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("UserConnections right after DeleteConnection(%s): %+v", id, got)
		}
	}
}

var typingTests = []subtest{
	{"typing/rate limit per connection", testTyping},
	{"typing/concurrent", testTypingConcurrent},
}

func testTyping(t *testing.T, e *env) {
	const interval = 250 * time.Millisecond
	e.putConn(t, "c1", tenantA, alice)
	e.putConn(t, "c2", tenantA, alice)
	t0 := e.clk.Now()
	for _, step := range []struct {
		conn  string
		after time.Duration // since t0
		want  bool
	}{
		{"c1", 0, true},
		{"c1", 0, false},
		{"c1", 100 * time.Millisecond, false},
		{"c2", 100 * time.Millisecond, true}, // another connection has its own slot
		{"c1", interval - time.Millisecond, false},
		{"c1", interval, true}, // exactly interval after the last recorded event
		// The refused calls above recorded nothing: the slot is at t0+interval.
		{"c1", interval + 200*time.Millisecond, false},
		{"c1", 2 * interval, true},
		{"c2", 2 * interval, true},
		{"c2", 2*interval + 1*time.Millisecond, false},
		{"c1", time.Hour, true},
	} {
		now := t0.Add(step.after)
		got, err := e.s.TakeTypingSlot(e.ctx, step.conn, now, interval)
		must(t, err)
		if got != step.want {
			t.Errorf("TakeTypingSlot(%s, t0+%v) = %v, want %v", step.conn, step.after, got, step.want)
		}
	}
}

func testTypingConcurrent(t *testing.T, e *env) {
	e.putConn(t, "c1", tenantA, alice)
	now := e.clk.Now()
	var taken atomic.Int32
	concurrently(16, func(int) {
		ok, err := e.s.TakeTypingSlot(e.ctx, "c1", now, time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		if ok {
			taken.Add(1)
		}
	})
	if taken := taken.Load(); taken != 1 {
		t.Errorf("%d concurrent TakeTypingSlot calls succeeded, want 1", taken)
	}
}

// count is CountUserConnections, failing the test on error.
func (e *env) count(t *testing.T, tenant, user string, max int) int {
	t.Helper()
	n, err := e.s.CountUserConnections(e.ctx, tenant, user, max)
	must(t, err)
	return n
}

// CountUserConnections counts one user's live connections, never more than
// max, scoped like UserConnections.
func testConnCount(t *testing.T, e *env) {
	if n := e.count(t, tenantA, alice, 5); n != 0 {
		t.Errorf("count of a user without connections = %d", n)
	}
	for i := range 5 {
		e.putConn(t, fmt.Sprintf("a%d", i), tenantA, alice)
	}
	e.putConn(t, "b1", tenantA, bob)
	e.putConn(t, "x1", tenantB, alice) // the same user id in another tenant is another user
	for _, tc := range []struct {
		tenant, user string
		max, want    int
	}{
		{tenantA, alice, 0, 0},
		{tenantA, alice, -1, 0},
		{tenantA, alice, 1, 1},
		{tenantA, alice, 3, 3},
		{tenantA, alice, 5, 5},
		{tenantA, alice, 6, 5},
		{tenantA, alice, 101, 5},
		{tenantA, bob, 1, 1},
		{tenantA, bob, 2, 1},
		{tenantB, alice, 2, 1},
		{tenantB, bob, 2, 0},
		{tenantA, carol, 1, 0},
		{tenantC, alice, 1, 0},
	} {
		if got := e.count(t, tc.tenant, tc.user, tc.max); got != tc.want {
			t.Errorf("CountUserConnections(%s, %s, %d) = %d, want %d", tc.tenant, tc.user, tc.max, got, tc.want)
		}
	}
}

// Expired connections not yet deleted do not count, wherever they sort
// among the live ones (a DynamoDB Query's Limit counts them before its
// filter drops them).
func testConnCountExpired(t *testing.T, e *env) {
	for i := range 12 {
		e.putConn(t, fmt.Sprintf("a-expired-%02d", i), tenantA, alice)
	}
	later := e.clk.Now().Add(time.Hour)
	for _, id := range []string{"b-live", "z-live"} {
		e.putConn(t, id, tenantA, alice)
		must(t, e.s.TouchConnection(e.ctx, id, later))
	}
	if n := e.count(t, tenantA, alice, 20); n != 14 {
		t.Fatalf("count before expiry = %d, want 14", n)
	}
	e.clk.Advance(ttl + time.Second)
	for _, tc := range []struct{ max, want int }{{1, 1}, {2, 2}, {3, 2}, {15, 2}} {
		if got := e.count(t, tenantA, alice, tc.max); got != tc.want {
			t.Errorf("count up to %d with 12 expired and 2 live connections = %d, want %d", tc.max, got, tc.want)
		}
	}
	e.clk.Advance(time.Hour)
	if n := e.count(t, tenantA, alice, 5); n != 0 {
		t.Errorf("count once all expired = %d, want 0", n)
	}
}

// $connect counts a user's connections right before writing one, and
// $disconnect right after deleting one.
func testConnCountConsistent(t *testing.T, e *env) {
	for i := range 10 {
		id := fmt.Sprintf("c%02d", i)
		c := e.putConn(t, id, tenantA, alice)
		if n := e.count(t, tenantA, alice, 2); n != 1 {
			t.Fatalf("count right after PutConnection(%s) = %d, want 1", id, n)
		}
		other := e.putConn(t, id+"-other", tenantA, alice)
		if n := e.count(t, tenantA, alice, 3); n != 2 {
			t.Fatalf("count right after the second PutConnection = %d, want 2", n)
		}
		if _, _, err := e.s.DeleteConnection(e.ctx, c.ConnectionID); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, tenantA, alice, 2); n != 1 {
			t.Fatalf("count right after DeleteConnection(%s) = %d, want 1", id, n)
		}
		if _, _, err := e.s.DeleteConnection(e.ctx, other.ConnectionID); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, tenantA, alice, 1); n != 0 {
			t.Fatalf("count right after deleting the last connection = %d, want 0", n)
		}
	}
}

// CountTenantConnections (store.TenantConnectionCounter, which every store
// of this module has) counts a tenant's live connections, never more than
// max, scoped like TenantConnections.
func testTenantConnCount(t *testing.T, e *env) {
	c, ok := e.s.(store.TenantConnectionCounter)
	if !ok {
		t.Skip("the store does not count a tenant's connections")
	}
	count := func(tenant string, max int) int {
		t.Helper()
		n, err := c.CountTenantConnections(e.ctx, tenant, max)
		must(t, err)
		return n
	}
	if n := count(tenantA, 5); n != 0 {
		t.Errorf("count of a tenant without connections = %d", n)
	}
	for i := range 4 {
		e.putConn(t, fmt.Sprintf("a-expiring-%d", i), tenantA, alice)
	}
	later := e.clk.Now().Add(time.Hour)
	for _, id := range []string{"b-live", "c-live"} {
		e.putConn(t, id, tenantA, bob)
		must(t, e.s.TouchConnection(e.ctx, id, later))
	}
	e.putConn(t, "x1", tenantB, alice)
	for _, tc := range []struct {
		tenant    string
		max, want int
	}{
		{tenantA, 0, 0}, {tenantA, -1, 0}, {tenantA, 1, 1}, {tenantA, 5, 5}, {tenantA, 6, 6}, {tenantA, 101, 6},
		{tenantB, 1, 1}, {tenantB, 2, 1}, {tenantC, 1, 0},
	} {
		if got := count(tc.tenant, tc.max); got != tc.want {
			t.Errorf("CountTenantConnections(%s, %d) = %d, want %d", tc.tenant, tc.max, got, tc.want)
		}
	}
	e.clk.Advance(ttl + time.Second)
	for _, tc := range []struct{ max, want int }{{1, 1}, {2, 2}, {3, 2}, {10, 2}} {
		if got := count(tenantA, tc.max); got != tc.want {
			t.Errorf("count up to %d with 4 expired and 2 live connections = %d, want %d", tc.max, got, tc.want)
		}
	}
}
