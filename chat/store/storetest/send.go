package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// The request paths' combined writes: $connect's AddConnection and
// sendMessage's SendMessage.
var sendTests = []subtest{
	{"add connection/count, limit and write", testAddConnection},
	{"add connection/expired and other tenants' do not count", testAddConnectionScoping},
	{"send message/member stores and gets the room's members", testSendMessage},
	{"send message/not a member stores nothing", testSendMessageNotMember},
	{"send message/duplicate id", testSendMessageDuplicate},
}

// add is AddConnection of conn(id, tenant, user) with limit.
func (e *env) add(id, tenant, user string, limit int) (store.Connection, int, error) {
	c := e.conn(id, tenant, user)
	n, err := e.s.AddConnection(e.ctx, c, limit)
	return c, n, err
}

// AddConnection returns the user's live connections before the new one,
// counted up to max(limit, 1), and refuses one past the limit.
func testAddConnection(t *testing.T, e *env) {
	for i, tc := range []struct {
		limit, want int
		err         error
	}{
		{0, 0, nil},                        // alice's first: presence
		{0, 1, nil},                        // no limit: counted up to 1
		{3, 2, nil},                        // 2 < 3: stored
		{3, 3, store.ErrConnectionLimit},   // at the limit: refused
		{-1, 1, nil},                       // negative: no limit
		{5, 4, nil},                        //
		{200, 5, nil},                      //
		{6, 6, store.ErrConnectionLimit},   //
		{100, 6, nil},                      // counts 6, never more than there are
		{1, 1, store.ErrConnectionLimit},   //
		{7, 7, store.ErrConnectionLimit},   //
		{8, 7, nil},                        //
		{10000, 8, nil},                    //
		{9, 9, store.ErrConnectionLimit},   //
		{0, 1, nil},                        //
		{10, 10, store.ErrConnectionLimit}, //
	} {
		id := fmt.Sprintf("a%02d", i)
		c, n, err := e.add(id, tenantA, alice, tc.limit)
		wantErr(t, fmt.Sprintf("AddConnection #%d (limit %d)", i, tc.limit), err, tc.err)
		if n != tc.want {
			t.Errorf("AddConnection #%d (limit %d) = %d, want %d", i, tc.limit, n, tc.want)
		}
		got, gerr := e.s.GetConnection(e.ctx, id)
		if tc.err != nil {
			wantErr(t, fmt.Sprintf("GetConnection of refused #%d", i), gerr, store.ErrNotFound)
			continue
		}
		must(t, gerr)
		same(t, "the added connection", got, c, normConn)
	}
	if n := e.count(t, tenantA, alice, 100); n != 10 {
		t.Errorf("alice has %d connections after the adds, want 10", n)
	}
	// A taken id: ErrExists, the connection unchanged.
	old, err := e.s.GetConnection(e.ctx, "a00")
	must(t, err)
	_, _, err = e.add("a00", tenantA, bob, 0)
	wantErr(t, "AddConnection of a taken id", err, store.ErrExists)
	got, err := e.s.GetConnection(e.ctx, "a00")
	must(t, err)
	same(t, "the connection whose id was taken again", got, old, normConn)
	if n := e.count(t, tenantA, bob, 1); n != 0 {
		t.Errorf("bob has %d connections after a refused add, want 0", n)
	}
}

// Expired connections and other tenants' (or users') do not count.
func testAddConnectionScoping(t *testing.T, e *env) {
	e.putConn(t, "x1", tenantB, alice) // the same user id in another tenant
	e.putConn(t, "b1", tenantA, bob)
	old := e.conn("old", tenantA, alice)
	old.ExpiresAt = e.clk.Now().Add(time.Minute)
	must(t, e.s.PutConnection(e.ctx, old))
	if _, n, err := e.add("a1", tenantA, alice, 2); err != nil || n != 1 {
		t.Fatalf("AddConnection with one live connection = %d, %v; want 1", n, err)
	}
	e.clk.Advance(2 * time.Minute) // "old" expires; a1 lives on
	if _, n, err := e.add("a2", tenantA, alice, 2); err != nil || n != 1 {
		t.Errorf("AddConnection with one live and one expired connection = %d, %v; want 1 (the expired one does not count)", n, err)
	}
	if _, n, err := e.add("c1", tenantA, carol, 1); err != nil || n != 0 {
		t.Errorf("carol's first AddConnection = %d, %v; want 0", n, err)
	}
}

// sendAs is SendMessage from connection c of a new message of c's user in
// tenant and room.
func (e *env) sendAs(c store.Connection, tenant, room, content string) (store.Message, []store.Membership, error) {
	m := e.message(tenant, room, c.UserID, content)
	members, err := e.s.SendMessage(e.ctx, c.ConnectionID, m)
	return m, members.Slice(), err
}

func testSendMessage(t *testing.T, e *env) {
	a := e.putConn(t, "a", tenantA, alice)
	b := e.putConn(t, "b", tenantA, bob)
	short := e.conn("short", tenantA, carol) // a member whose membership expires first
	short.ExpiresAt = e.clk.Now().Add(time.Minute)
	must(t, e.s.PutConnection(e.ctx, short))
	other := e.putConn(t, "o", tenantA, carol) // in another room only
	e.join(t, a, "r1")
	e.join(t, b, "r1")
	e.join(t, short, "r1")
	e.join(t, other, "r2")
	e.join(t, a, "r2")

	m, members, err := e.sendAs(a, tenantA, "r1", "hello r1")
	must(t, err)
	want, err := e.roomMembers(tenantA, "r1")
	must(t, err)
	if len(want) != 3 {
		t.Fatalf("r1 has %d members, want 3", len(want))
	}
	sameSet(t, "SendMessage's members", members, want, normMember, memberKey)
	got, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "the message sent", got, m, normMessage)

	// Expired members are not recipients.
	e.clk.Advance(2 * time.Minute)
	_, members, err = e.sendAs(b, tenantA, "r1", "after carol's expiry")
	must(t, err)
	want, err = e.roomMembers(tenantA, "r1")
	must(t, err)
	if len(want) != 2 {
		t.Fatalf("r1 has %d live members, want 2", len(want))
	}
	sameSet(t, "SendMessage's members after an expiry", members, want, normMember, memberKey)

	_, members, err = e.sendAs(a, tenantA, "r2", "hello r2")
	must(t, err)
	want, err = e.roomMembers(tenantA, "r2")
	must(t, err)
	sameSet(t, "SendMessage's members of r2", members, want, normMember, memberKey)
	msgs, _, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{})
	must(t, err)
	if len(msgs) != 2 {
		t.Errorf("r1 holds %d messages, want 2", len(msgs))
	}
}

// A connection that is not a live member of the room (never joined, left,
// expired, in another tenant's room of the same id, or unknown) gets
// ErrNotMember, and nothing is stored.
func testSendMessageNotMember(t *testing.T, e *env) {
	a := e.putConn(t, "a", tenantA, alice)
	b := e.putConn(t, "b", tenantA, bob)
	x := e.putConn(t, "x", tenantB, mallory)
	e.join(t, a, "r1")
	e.join(t, b, "r1")
	e.join(t, x, "r1") // tenant B's r1
	e.join(t, b, "r2")
	left, err := e.s.LeaveRoom(e.ctx, tenantA, "r2", "b")
	must(t, err)
	if !left.Left {
		t.Fatalf("LeaveRoom = %+v", left)
	}
	ghost := store.Connection{ConnectionID: "ghost", TenantID: tenantA, UserID: carol}
	for _, tc := range []struct {
		what         string
		c            store.Connection
		tenant, room string
	}{
		{"never joined", a, tenantA, "r2"},
		{"left", b, tenantA, "r2"},
		{"a room that does not exist", a, tenantA, "nowhere"},
		{"another tenant's room of the same id", x, tenantA, "r1"},
		{"a member of the room as another tenant", a, tenantB, "r1"},
		{"an unknown connection", ghost, tenantA, "r1"},
	} {
		m, members, err := e.sendAs(tc.c, tc.tenant, tc.room, tc.what)
		wantErr(t, "SendMessage, "+tc.what, err, store.ErrNotMember)
		if members != nil {
			t.Errorf("SendMessage, %s: members %+v", tc.what, members)
		}
		_, err = e.s.GetMessage(e.ctx, tc.tenant, m.MessageID)
		wantErr(t, "GetMessage of the refused message, "+tc.what, err, store.ErrNotFound)
	}
	e.clk.Advance(ttl + time.Second) // every membership expires
	m, _, err := e.sendAs(a, tenantA, "r1", "expired")
	wantErr(t, "SendMessage of an expired member", err, store.ErrNotMember)
	_, err = e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	wantErr(t, "GetMessage of the message of an expired member", err, store.ErrNotFound)
	for _, tenant := range []string{tenantA, tenantB} {
		if msgs, _, err := e.s.ListMessages(e.ctx, tenant, "r1", store.Page{}); err != nil || len(msgs) != 0 {
			t.Errorf("%s's r1 holds %d messages (%v), want none", tenant, len(msgs), err)
		}
	}
}

func testSendMessageDuplicate(t *testing.T, e *env) {
	a := e.putConn(t, "a", tenantA, alice)
	b := e.putConn(t, "b", tenantA, bob)
	e.join(t, a, "r1")
	e.join(t, b, "r1")
	m, _, err := e.sendAs(a, tenantA, "r1", "first")
	must(t, err)
	dup := m
	dup.UserID, dup.Content = bob, "second"
	_, err = e.s.SendMessage(e.ctx, "b", dup)
	wantErr(t, "SendMessage of a taken id", err, store.ErrExists)
	got, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "the message whose id was sent again", got, m, normMessage)
}
