package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var roomTests = []subtest{
	{"rooms/round trip", testRoomRoundTrip},
	{"rooms/duplicate id", testRoomDuplicate},
	{"rooms/get missing or of another tenant", testRoomGetMissing},
	{"rooms/list visibility", testRoomVisibility},
	{"rooms/list order", testRoomOrder},
	{"rooms/list pagination", testRoomPagination},
	{"rooms/list refuses foreign cursors", testRoomCursor},
}

// newRoom is a room of tenant created at; a private one's members are
// members, the first of which created it.
func newRoom(tenant, id string, at time.Time, private bool, members ...string) store.Room {
	r := store.Room{
		TenantID: tenant, RoomID: id, Name: "Room " + id, Description: "about " + id,
		CreatedBy: alice, CreatedAt: at, IsPrivate: private,
	}
	if private {
		r.Members, r.CreatedBy = members, members[0]
	}
	return r
}

func (e *env) createRooms(t *testing.T, rooms ...store.Room) {
	t.Helper()
	for _, r := range rooms {
		if err := e.s.CreateRoom(e.ctx, r); err != nil {
			t.Fatalf("CreateRoom(%s/%s): %v", r.TenantID, r.RoomID, err)
		}
	}
}

func testRoomRoundTrip(t *testing.T, e *env) {
	at := Start.Add(-time.Hour + 321*time.Millisecond)
	for _, r := range []store.Room{
		{
			TenantID: tenantA, RoomID: "general", Name: "General", Description: "Anything goes",
			CreatedBy: alice, CreatedAt: at,
		},
		{
			TenantID: tenantA, RoomID: "secret", Name: "Secret", CreatedBy: bob, CreatedAt: at.Add(time.Millisecond),
			IsPrivate: true, Members: []string{bob, alice, "用户-1"},
		},
		{
			TenantID: "tenänt/Ω", RoomID: "ünïcode 🚀", Name: `"Quoted" 'name'`,
			Description: "line one\nline two\t\\ backslash; DROP TABLE rooms; --",
			CreatedBy:   "用户-1", CreatedAt: at.Add(999 * time.Millisecond),
			IsPrivate: true, Members: []string{"用户-1"},
		},
	} {
		t.Run(r.RoomID, func(t *testing.T) {
			must(t, e.s.CreateRoom(e.ctx, r))
			got, err := e.s.GetRoom(e.ctx, r.TenantID, r.RoomID)
			must(t, err)
			same(t, "GetRoom", got, r, normRoom)
			user := r.CreatedBy
			list, _, err := e.s.ListRooms(e.ctx, r.TenantID, user, store.RoomsAll, store.Page{Limit: 10})
			must(t, err)
			i := slices.IndexFunc(list, func(x store.Room) bool { return x.RoomID == r.RoomID })
			if i < 0 {
				t.Fatalf("ListRooms of %s lacks %s: %+v", user, r.RoomID, list)
			}
			same(t, "ListRooms item", list[i], r, normRoom)
		})
	}
}

func testRoomDuplicate(t *testing.T, e *env) {
	r := newRoom(tenantA, "r1", Start, false)
	e.createRooms(t, r)
	dup := newRoom(tenantA, "r1", Start.Add(time.Minute), true, bob)
	wantErr(t, "CreateRoom of a taken id", e.s.CreateRoom(e.ctx, dup), store.ErrExists)
	got, err := e.s.GetRoom(e.ctx, tenantA, "r1")
	must(t, err)
	same(t, "GetRoom after a refused duplicate", got, r, normRoom)
	list, _, err := e.s.ListRooms(e.ctx, tenantA, bob, store.RoomsPrivate, store.Page{Limit: 10})
	must(t, err)
	sameList(t, "private rooms of the refused duplicate's member", list, nil, normRoom)

	// The same id in another tenant is another room.
	other := newRoom(tenantB, "r1", Start.Add(time.Minute), true, bob)
	must(t, e.s.CreateRoom(e.ctx, other))
	got, err = e.s.GetRoom(e.ctx, tenantB, "r1")
	must(t, err)
	same(t, "GetRoom in tenant B", got, other, normRoom)
	got, err = e.s.GetRoom(e.ctx, tenantA, "r1")
	must(t, err)
	same(t, "GetRoom in tenant A", got, r, normRoom)
}

func testRoomGetMissing(t *testing.T, e *env) {
	e.createRooms(t, newRoom(tenantA, "r1", Start, false))
	_, err := e.s.GetRoom(e.ctx, tenantA, "nope")
	wantErr(t, "GetRoom of a missing id", err, store.ErrNotFound)
	_, err = e.s.GetRoom(e.ctx, tenantB, "r1")
	wantErr(t, "GetRoom of another tenant's room", err, store.ErrNotFound)
}

func testRoomVisibility(t *testing.T, e *env) {
	minute := func(n int) time.Time { return Start.Add(time.Duration(n) * time.Minute) }
	e.createRooms(t,
		newRoom(tenantA, "pubA", minute(0), false),
		newRoom(tenantA, "pubB", minute(1), false),
		newRoom(tenantA, "privAlice", minute(2), true, alice),
		newRoom(tenantA, "privBoth", minute(3), true, alice, bob),
		newRoom(tenantA, "privBob", minute(4), true, bob),
		newRoom(tenantB, "pubX", minute(5), false),
		newRoom(tenantB, "privX", minute(6), true, alice),
		newRoom(tenantB, "pubA", minute(7), false), // same id as tenant A's
	)
	for _, tc := range []struct {
		tenant, user string
		filter       store.RoomFilter
		want         []string
	}{
		{tenantA, alice, store.RoomsAll, []string{"privBoth", "privAlice", "pubB", "pubA"}},
		{tenantA, alice, store.RoomsPublic, []string{"pubB", "pubA"}},
		{tenantA, alice, store.RoomsPrivate, []string{"privBoth", "privAlice"}},
		{tenantA, bob, store.RoomsAll, []string{"privBob", "privBoth", "pubB", "pubA"}},
		{tenantA, bob, store.RoomsPrivate, []string{"privBob", "privBoth"}},
		{tenantA, carol, store.RoomsAll, []string{"pubB", "pubA"}},
		{tenantA, carol, store.RoomsPublic, []string{"pubB", "pubA"}},
		{tenantA, carol, store.RoomsPrivate, nil},
		{tenantB, alice, store.RoomsAll, []string{"pubA", "privX", "pubX"}},
		{tenantB, alice, store.RoomsPrivate, []string{"privX"}},
		{tenantB, bob, store.RoomsAll, []string{"pubA", "pubX"}},
		{tenantC, alice, store.RoomsAll, nil},
	} {
		name := fmt.Sprintf("ListRooms(%s, %s, filter %d)", tc.tenant, tc.user, tc.filter)
		got, next, err := e.s.ListRooms(e.ctx, tc.tenant, tc.user, tc.filter, store.Page{Limit: 100})
		must(t, err)
		var ids []string
		for _, r := range got {
			ids = append(ids, r.RoomID)
			if r.TenantID != tc.tenant {
				t.Errorf("%s returned %s of tenant %s", name, r.RoomID, r.TenantID)
			}
			if r.IsPrivate && !slices.Contains(r.Members, tc.user) {
				t.Errorf("%s returned private room %s of which the user is not a member", name, r.RoomID)
			}
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s = %q, want %q", name, ids, tc.want)
		}
		if next != "" {
			t.Errorf("%s: NextCursor %q on the only page", name, next)
		}
	}
}

func testRoomOrder(t *testing.T, e *env) {
	// Ties on CreatedAt are broken by RoomID, descending too.
	e.createRooms(t,
		newRoom(tenantA, "b", Start, false),
		newRoom(tenantA, "a", Start, false),
		newRoom(tenantA, "c", Start, true, alice),
		newRoom(tenantA, "z", Start.Add(-time.Millisecond), false),
		newRoom(tenantA, "0", Start.Add(time.Millisecond), false),
	)
	got, _, err := e.s.ListRooms(e.ctx, tenantA, alice, store.RoomsAll, store.Page{Limit: 10})
	must(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.RoomID)
	}
	if want := []string{"0", "c", "b", "a", "z"}; !slices.Equal(ids, want) {
		t.Errorf("ListRooms order %q, want %q", ids, want)
	}
}

// roomOrder is ListRooms' order: newest first, then by RoomID, descending.
func roomOrder(a, b store.Room) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.RoomID, a.RoomID)
}

func testRoomPagination(t *testing.T, e *env) {
	var rooms []store.Room
	add := func(tenant, prefix string, n int, spacing time.Duration, private bool, members ...string) {
		for i := range n {
			// Two rooms per instant: ties on CreatedAt cross page boundaries.
			at := Start.Add(time.Duration(i/2)*spacing + time.Duration(len(prefix))*time.Millisecond)
			r := newRoom(tenant, fmt.Sprintf("%s%02d", prefix, i), at, private, members...)
			rooms = append(rooms, r)
		}
	}
	add(tenantA, "pub", 11, time.Minute, false)
	add(tenantA, "alice", 7, 90*time.Second, true, alice)
	add(tenantA, "bob", 5, 70*time.Second, true, bob)
	add(tenantA, "both", 3, 2*time.Minute, true, bob, alice)
	add(tenantB, "pub", 4, time.Minute, false)
	add(tenantB, "alice", 2, time.Minute, true, alice)
	// Create them in an order unrelated to the listing's.
	slices.SortFunc(rooms, func(a, b store.Room) int { return cmp.Compare(a.Name+a.TenantID, b.Name+b.TenantID) })
	e.createRooms(t, rooms...)

	visible := func(tenant, user string, filter store.RoomFilter) []store.Room {
		var out []store.Room
		for _, r := range rooms {
			if r.TenantID != tenant {
				continue
			}
			member := r.IsPrivate && slices.Contains(r.Members, user)
			if filter == store.RoomsPublic && !r.IsPrivate || filter == store.RoomsPrivate && member ||
				filter == store.RoomsAll && (!r.IsPrivate || member) {
				out = append(out, r)
			}
		}
		slices.SortFunc(out, roomOrder)
		return out
	}
	for _, tc := range []struct {
		tenant, user string
		filter       store.RoomFilter
	}{
		{tenantA, alice, store.RoomsAll},
		{tenantA, alice, store.RoomsPublic},
		{tenantA, alice, store.RoomsPrivate},
		{tenantA, bob, store.RoomsAll},
		{tenantA, carol, store.RoomsAll},
		{tenantB, alice, store.RoomsAll},
	} {
		want := visible(tc.tenant, tc.user, tc.filter)
		for _, limit := range []int{1, 2, 3, 4, 7, len(want), len(want) + 1} {
			name := fmt.Sprintf("ListRooms(%s, %s, filter %d, limit %d)", tc.tenant, tc.user, tc.filter, limit)
			got := collectPages(t, name, limit, len(want), func(cursor string) ([]store.Room, string, error) {
				return e.s.ListRooms(e.ctx, tc.tenant, tc.user, tc.filter, store.Page{Limit: limit, Cursor: cursor})
			})
			sameList(t, name, got, want, normRoom)
		}
	}
}

// collectPages reads every page of a listing of total items with pages of
// limit, checking that each page but the last is full, the last is not
// empty (unless the listing is), and the last ends the listing.
func collectPages[T any](t *testing.T, name string, limit, total int, page func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	cursor := ""
	for i := 0; ; i++ {
		items, next, err := page(cursor)
		if err != nil {
			t.Fatalf("%s, page %d: %v", name, i, err)
		}
		if len(items) > limit {
			t.Errorf("%s, page %d: %d items", name, i, len(items))
		}
		all = append(all, items...)
		if next == "" {
			if len(items) == 0 && total > 0 {
				t.Errorf("%s, page %d: empty last page", name, i)
			}
			return all
		}
		if len(items) != limit {
			t.Errorf("%s, page %d: %d items and a NextCursor", name, i, len(items))
		}
		if i > total+1 {
			t.Fatalf("%s: still paging after %d pages", name, i)
		}
		cursor = next
	}
}

func testRoomCursor(t *testing.T, e *env) {
	for i := range 3 {
		e.createRooms(t, newRoom(tenantA, fmt.Sprintf("r%d", i), Start.Add(time.Duration(i)*time.Minute), false))
		must(t, e.s.PutMessage(e.ctx, e.message(tenantA, "r0", alice, fmt.Sprint("m", i))))
	}
	_, msgCursor, err := e.s.ListMessages(e.ctx, tenantA, "r0", store.Page{Limit: 1})
	must(t, err)
	if msgCursor == "" {
		t.Fatal("ListMessages gave no NextCursor")
	}
	_, roomCursor, err := e.s.ListRooms(e.ctx, tenantA, alice, store.RoomsAll, store.Page{Limit: 1})
	must(t, err)
	if roomCursor == "" {
		t.Fatal("ListRooms gave no NextCursor")
	}
	for _, c := range []string{"garbage!", "Zm9vAGJhcgBiYXo", "bm90aGluZw", msgCursor, msgCursor + "x", "=" + roomCursor} {
		for _, f := range []store.RoomFilter{store.RoomsAll, store.RoomsPublic, store.RoomsPrivate} {
			_, _, err := e.s.ListRooms(e.ctx, tenantA, alice, f, store.Page{Limit: 1, Cursor: c})
			wantErr(t, fmt.Sprintf("ListRooms(filter %d) with cursor %q", f, c), err, store.ErrCursor)
		}
	}
	for _, c := range []string{"garbage!", roomCursor} {
		_, _, err := e.s.ListMessages(e.ctx, tenantA, "r0", store.Page{Limit: 1, Cursor: c})
		wantErr(t, fmt.Sprintf("ListMessages with cursor %q", c), err, store.ErrCursor)
	}
}

var membershipTests = []subtest{
	{"memberships/join is idempotent", testJoinIdempotent},
	{"memberships/leave", testLeave},
	{"memberships/listings and scoping", testMemberListings},
	{"memberships/expired are invisible", testMemberExpired},
	{"memberships/concurrent join", testJoinConcurrent},
}

func testJoinIdempotent(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	m := e.join(t, c, "r1")
	e.clk.Advance(time.Second)
	again := m
	again.JoinedAt = e.clk.Now()
	j, err := e.s.JoinRoom(e.ctx, again, 0)
	must(t, err)
	if j.Joined || j.First {
		t.Errorf("second JoinRoom = %+v, want neither joined nor first", j)
	}
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers after joining twice (the first join stands)", members, []store.Membership{m}, normMember)
}

func testLeave(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	e.join(t, c, "r1")
	m2 := e.join(t, c, "r2")
	for _, step := range []struct {
		tenant, room, conn string
		want               bool // left, and the last of alice's in the room
	}{
		{tenantB, "r1", "c1", false}, // another tenant's room of the same id
		{tenantA, "r1", "c2", false}, // another connection
		{tenantA, "r1", "c1", true},
		{tenantA, "r1", "c1", false},
		{tenantA, "r3", "c1", false}, // never joined
	} {
		l, err := e.s.LeaveRoom(e.ctx, step.tenant, step.room, step.conn)
		must(t, err)
		if want := (store.Leave{Left: step.want, Last: step.want}); l != want {
			t.Errorf("LeaveRoom(%s, %s, %s) = %+v, want %+v", step.tenant, step.room, step.conn, l, want)
		}
	}
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms after leaving r1", rooms, []store.Membership{m2}, normMember)
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers of the room left", members, nil, normMember)
	// Leaving then joining again is a new join.
	e.join(t, c, "r1")
}

func testMemberListings(t *testing.T, e *env) {
	c1 := e.putConn(t, "c1", tenantA, alice)
	c2 := e.putConn(t, "c2", tenantA, bob)
	c3 := e.putConn(t, "c3", tenantB, alice) // same user id, other tenant
	c4 := e.putConn(t, "c4", tenantA, alice) // alice's second tab
	a1 := e.join(t, c1, "r1")
	a2 := e.join(t, c1, "r2")
	a3 := e.join(t, c1, "r3")
	b1 := e.join(t, c2, "r1")
	x1 := e.join(t, c3, "r1") // tenant B's r1
	d2 := e.join(t, c4, "r2")

	for _, tc := range []struct {
		tenant, room string
		want         []store.Membership
	}{
		{tenantA, "r1", []store.Membership{a1, b1}},
		{tenantA, "r2", []store.Membership{a2, d2}},
		{tenantA, "r3", []store.Membership{a3}},
		{tenantB, "r1", []store.Membership{x1}},
		{tenantB, "r2", nil},
		{tenantC, "r1", nil},
		{tenantA, "nope", nil},
	} {
		got, err := e.roomMembers(tc.tenant, tc.room)
		must(t, err)
		sameSet(t, "RoomMembers("+tc.tenant+", "+tc.room+")", got, tc.want, normMember, memberKey)
	}
	for _, tc := range []struct {
		conn string
		want []store.Membership
	}{
		{"c1", []store.Membership{a1, a2, a3}},
		{"c2", []store.Membership{b1}},
		{"c3", []store.Membership{x1}},
		{"c4", []store.Membership{d2}},
		{"nope", nil},
	} {
		got, err := e.s.ConnectionRooms(e.ctx, tc.conn)
		must(t, err)
		sameSet(t, "ConnectionRooms("+tc.conn+")", got, tc.want, normMember, memberKey)
	}
}

func testMemberExpired(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	long := e.join(t, c, "r1")
	long.ExpiresAt = Start.Add(time.Hour)
	must(t, e.s.TouchConnection(e.ctx, "c1", long.ExpiresAt)) // sets r1's expiry too
	// Two memberships that expire long before the connection.
	var short []store.Membership
	for _, room := range []string{"r2", "r3"} {
		m := store.Membership{
			TenantID: tenantA, RoomID: room, ConnectionID: "c1", UserID: alice, Username: c.Username,
			JoinedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Minute),
		}
		if j, err := e.s.JoinRoom(e.ctx, m, 0); err != nil || !j.Joined {
			t.Fatalf("JoinRoom = %+v, %v", j, err)
		}
		short = append(short, m)
	}

	e.clk.Advance(2 * time.Minute)
	members, err := e.roomMembers(tenantA, "r2")
	must(t, err)
	sameList(t, "RoomMembers with an expired membership", members, nil, normMember)
	rooms, err := e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameList(t, "ConnectionRooms with expired memberships", rooms, []store.Membership{long}, normMember)

	// An expired membership is gone: joining again is a new join...
	again := short[0]
	again.JoinedAt, again.ExpiresAt = e.clk.Now(), long.ExpiresAt
	j, err := e.s.JoinRoom(e.ctx, again, 0)
	must(t, err)
	// ...though not the user's first in the room: the expired one was
	// not released yet (nobody was told the user left).
	if want := (store.Join{Joined: true}); j != want {
		t.Errorf("JoinRoom over an expired membership = %+v, want %+v", j, want)
	}
	members, err = e.roomMembers(tenantA, "r2")
	must(t, err)
	sameList(t, "RoomMembers after joining again", members, []store.Membership{again}, normMember)

	// ...and leaving it reports it was not there, though it was the
	// user's last held in the room: user_left is told now.
	l, err := e.s.LeaveRoom(e.ctx, tenantA, "r3", "c1")
	must(t, err)
	if want := (store.Leave{Last: true}); l != want {
		t.Errorf("LeaveRoom of an expired membership = %+v, want %+v", l, want)
	}
	rooms, err = e.s.ConnectionRooms(e.ctx, "c1")
	must(t, err)
	sameSet(t, "ConnectionRooms at the end", rooms, []store.Membership{long, again}, normMember, memberKey)
}

func testJoinConcurrent(t *testing.T, e *env) {
	c := e.putConn(t, "c1", tenantA, alice)
	m := store.Membership{
		TenantID: tenantA, RoomID: "r1", ConnectionID: "c1", UserID: alice, Username: c.Username,
		JoinedAt: e.clk.Now(), ExpiresAt: c.ExpiresAt,
	}
	var joins atomic.Int32
	concurrently(32, func(int) {
		j, err := e.s.JoinRoom(e.ctx, m, 0)
		if err != nil {
			t.Error(err)
			return
		}
		if j.Joined != j.First {
			t.Errorf("JoinRoom = %+v: the only connection's join is the user's first", j)
		}
		if j.Joined {
			joins.Add(1)
		}
	})
	if n := joins.Load(); n != 1 {
		t.Errorf("%d of 32 concurrent JoinRoom calls reported joined, want 1", n)
	}
	members, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	sameList(t, "RoomMembers after concurrent joins", members, []store.Membership{m}, normMember)
}
