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

var messageTests = []subtest{
	{"messages/round trip", testMessageRoundTrip},
	{"messages/duplicate id", testMessageDuplicate},
	{"messages/get missing or of another tenant", testMessageGetMissing},
	{"messages/list order and scoping", testMessageList},
	{"messages/list pagination", testMessagePagination},
	{"messages/list pagination is stable under new messages", testMessagePaginationStable},
	{"messages/edit", testMessageEdit},
	{"messages/delete", testMessageDelete},
	{"messages/concurrent edits", testMessageConcurrentEdits},
	{"messages/concurrent edits and delete", testMessageConcurrentEditDelete},
}

// message is a new text message (not stored) of user in room, sent now;
// the clock then moves on by a millisecond, so that the next is later.
func (e *env) message(tenant, room, user, content string) store.Message {
	now := e.clk.Now()
	e.clk.Advance(time.Millisecond)
	return store.Message{
		TenantID: tenant, RoomID: room, MessageID: store.NewID(now), UserID: user, Username: "name of " + user,
		Content: content, MessageType: store.MessageText, CreatedAt: now,
	}
}

// putMessages stores n messages in room and returns them oldest first.
func (e *env) putMessages(t *testing.T, tenant, room string, n int) []store.Message {
	t.Helper()
	var out []store.Message
	for i := range n {
		m := e.message(tenant, room, alice, fmt.Sprintf("%s/%s #%d", tenant, room, i))
		must(t, e.s.PutMessage(e.ctx, m))
		out = append(out, m)
	}
	return out
}

func newestFirst(ms []store.Message) []store.Message {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}

func testMessageRoundTrip(t *testing.T, e *env) {
	at := Start.Add(-time.Minute + 7*time.Millisecond)
	for _, m := range []store.Message{
		{
			TenantID: tenantA, RoomID: "r1", MessageID: store.NewID(at), UserID: alice, Username: "Alice",
			Content: "hello", MessageType: store.MessageText, CreatedAt: at,
		},
		{
			TenantID: tenantA, RoomID: "r1", MessageID: store.NewID(at), UserID: bob, Username: "Bob",
			Content:     "Zoë said \"hi\" and 'bye'\nsecond line\r\n\ttab \\ backslash 🚀 用户 nul \x00 byte, line separator \u2028",
			MessageType: store.MessageText, CreatedAt: at.Add(time.Millisecond),
			ReplyToMessageID: "01HZZZZZZZZZZZZZZZZZZZZZZZ",
		},
		{
			TenantID: "tenänt/Ω", RoomID: "ünïcode 🚀", MessageID: store.NewID(at), UserID: "用户-1", Username: "用户",
			Content: "https://example.com/cat.png", MessageType: store.MessageImage, CreatedAt: at.Add(999 * time.Millisecond),
			EditedAt: at.Add(time.Second + 1*time.Millisecond),
		},
		{
			TenantID: tenantA, RoomID: "r1", MessageID: store.NewID(at), UserID: alice, Username: "Alice",
			Content: "", MessageType: store.MessageFile, CreatedAt: at.Add(2 * time.Millisecond),
			EditedAt: at.Add(3 * time.Millisecond), Deleted: true,
		},
		{
			TenantID: tenantA, RoomID: "r2", MessageID: store.NewID(at), UserID: "system", Username: "",
			Content: "alice joined", MessageType: store.MessageSystem, CreatedAt: at.Add(4 * time.Millisecond),
		},
	} {
		t.Run(m.MessageType+"/"+m.RoomID, func(t *testing.T) {
			must(t, e.s.PutMessage(e.ctx, m))
			got, err := e.s.GetMessage(e.ctx, m.TenantID, m.MessageID)
			must(t, err)
			same(t, "GetMessage", got, m, normMessage)
			list, _, err := e.s.ListMessages(e.ctx, m.TenantID, m.RoomID, store.Page{Limit: 1})
			must(t, err)
			sameList(t, "ListMessages", list, []store.Message{m}, normMessage)
		})
	}
}

func testMessageDuplicate(t *testing.T, e *env) {
	m := e.message(tenantA, "r1", alice, "first")
	must(t, e.s.PutMessage(e.ctx, m))
	dup := m
	dup.Content, dup.UserID = "second", bob
	wantErr(t, "PutMessage of a taken id", e.s.PutMessage(e.ctx, dup), store.ErrExists)
	got, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after a refused duplicate", got, m, normMessage)
	list, _, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: 10})
	must(t, err)
	sameList(t, "ListMessages after a refused duplicate", list, []store.Message{m}, normMessage)
}

func testMessageGetMissing(t *testing.T, e *env) {
	m := e.message(tenantA, "r1", alice, "hello")
	must(t, e.s.PutMessage(e.ctx, m))
	_, err := e.s.GetMessage(e.ctx, tenantA, store.NewID(e.clk.Now()))
	wantErr(t, "GetMessage of a missing id", err, store.ErrNotFound)
	_, err = e.s.GetMessage(e.ctx, tenantB, m.MessageID)
	wantErr(t, "GetMessage of another tenant's message", err, store.ErrNotFound)
}

func testMessageList(t *testing.T, e *env) {
	// Interleave the rooms' messages in time.
	var a1, a2, b1 []store.Message
	for i := range 5 {
		for _, x := range []struct {
			tenant, room string
			into         *[]store.Message
			n            int
		}{{tenantA, "r1", &a1, 5}, {tenantA, "r2", &a2, 3}, {tenantB, "r1", &b1, 4}} {
			if i < x.n {
				m := e.message(x.tenant, x.room, bob, fmt.Sprintf("%s %s %d", x.tenant, x.room, i))
				must(t, e.s.PutMessage(e.ctx, m))
				*x.into = append(*x.into, m)
			}
		}
	}
	for _, tc := range []struct {
		tenant, room string
		want         []store.Message
	}{
		{tenantA, "r1", newestFirst(a1)},
		{tenantA, "r2", newestFirst(a2)},
		{tenantB, "r1", newestFirst(b1)}, // same room id, other tenant
		{tenantB, "r2", nil},
		{tenantA, "r3", nil},
		{tenantC, "r1", nil},
	} {
		got, next, err := e.s.ListMessages(e.ctx, tc.tenant, tc.room, store.Page{Limit: 100})
		must(t, err)
		sameList(t, "ListMessages("+tc.tenant+", "+tc.room+")", got, tc.want, normMessage)
		if next != "" {
			t.Errorf("ListMessages(%s, %s): NextCursor %q on the only page", tc.tenant, tc.room, next)
		}
	}
}

func testMessagePagination(t *testing.T, e *env) {
	msgs := e.putMessages(t, tenantA, "r1", 23)
	e.putMessages(t, tenantA, "r2", 4)
	e.putMessages(t, tenantB, "r1", 4)
	want := newestFirst(msgs)
	for _, limit := range []int{1, 2, 5, 10, 22, 23, 24, 100} {
		name := fmt.Sprintf("ListMessages(limit %d)", limit)
		got := collectPages(t, name, limit, len(want), func(cursor string) ([]store.Message, string, error) {
			return e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: limit, Cursor: cursor})
		})
		sameList(t, name, got, want, normMessage)
	}
}

func testMessagePaginationStable(t *testing.T, e *env) {
	msgs := e.putMessages(t, tenantA, "r1", 10)
	want := newestFirst(msgs)
	var got []store.Message
	cursor := ""
	var added []store.Message
	for page := 0; ; page++ {
		items, next, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: 3, Cursor: cursor})
		must(t, err)
		got = append(got, items...)
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("still paging")
		}
		// New messages arrive between pages.
		added = append(added, e.putMessages(t, tenantA, "r1", 2)...)
		cursor = next
	}
	sameList(t, "pages read while messages arrived", got, want, normMessage)

	all, _, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: 100})
	must(t, err)
	sameList(t, "ListMessages afterwards", all, newestFirst(append(msgs, added...)), normMessage)
}

func testMessageEdit(t *testing.T, e *env) {
	before := e.message(tenantA, "r1", bob, "before")
	m := e.message(tenantA, "r1", alice, "original")
	must(t, e.s.PutMessage(e.ctx, before))
	must(t, e.s.PutMessage(e.ctx, m))
	after := e.message(tenantA, "r1", bob, "after")
	must(t, e.s.PutMessage(e.ctx, after))

	at := e.clk.Advance(time.Minute + 5*time.Millisecond)
	got, err := e.s.EditMessage(e.ctx, tenantA, m.MessageID, alice, "edited \"content\"\nwith ünïcode", at)
	must(t, err)
	m.Content, m.EditedAt = "edited \"content\"\nwith ünïcode", at
	same(t, "EditMessage result", got, m, normMessage)
	stored, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after edit", stored, m, normMessage)
	list, _, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: 10})
	must(t, err)
	sameList(t, "ListMessages after edit", list, []store.Message{after, m, before}, normMessage)

	// Edits that must change nothing.
	later := e.clk.Advance(time.Minute)
	_, err = e.s.EditMessage(e.ctx, tenantA, m.MessageID, mallory, "hijacked", later)
	wantErr(t, "EditMessage by another user", err, store.ErrNotAuthor)
	_, err = e.s.EditMessage(e.ctx, tenantA, store.NewID(later), alice, "x", later)
	wantErr(t, "EditMessage of a missing message", err, store.ErrNotFound)
	_, err = e.s.EditMessage(e.ctx, tenantB, m.MessageID, alice, "x", later)
	wantErr(t, "EditMessage through another tenant", err, store.ErrNotFound)
	stored, err = e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after refused edits", stored, m, normMessage)

	// A second edit by the author.
	got, err = e.s.EditMessage(e.ctx, tenantA, m.MessageID, alice, "again", later)
	must(t, err)
	m.Content, m.EditedAt = "again", later
	same(t, "second EditMessage result", got, m, normMessage)

	// A deleted message cannot be edited.
	deleted, err := e.s.DeleteMessage(e.ctx, tenantA, m.MessageID, alice, e.clk.Advance(time.Second))
	must(t, err)
	_, err = e.s.EditMessage(e.ctx, tenantA, m.MessageID, alice, "resurrected", e.clk.Advance(time.Second))
	wantErr(t, "EditMessage of a deleted message", err, store.ErrDeleted)
	stored, err = e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after a refused edit of a deleted message", stored, deleted, normMessage)
}

func testMessageDelete(t *testing.T, e *env) {
	msgs := e.putMessages(t, tenantA, "r1", 5)
	m := msgs[2]

	bad := e.clk.Advance(time.Second)
	_, err := e.s.DeleteMessage(e.ctx, tenantA, m.MessageID, mallory, bad)
	wantErr(t, "DeleteMessage by another user", err, store.ErrNotAuthor)
	_, err = e.s.DeleteMessage(e.ctx, tenantB, m.MessageID, alice, bad)
	wantErr(t, "DeleteMessage through another tenant", err, store.ErrNotFound)
	_, err = e.s.DeleteMessage(e.ctx, tenantA, store.NewID(bad), alice, bad)
	wantErr(t, "DeleteMessage of a missing message", err, store.ErrNotFound)
	stored, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after refused deletes", stored, m, normMessage)

	at := e.clk.Advance(time.Second)
	got, err := e.s.DeleteMessage(e.ctx, tenantA, m.MessageID, alice, at)
	must(t, err)
	m.Content, m.Deleted, m.EditedAt = "", true, at
	msgs[2] = m
	same(t, "DeleteMessage result", got, m, normMessage)
	stored, err = e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after delete", stored, m, normMessage)
	list, _, err := e.s.ListMessages(e.ctx, tenantA, "r1", store.Page{Limit: 10})
	must(t, err)
	sameList(t, "ListMessages after delete (the message keeps its place)", list, newestFirst(msgs), normMessage)

	_, err = e.s.DeleteMessage(e.ctx, tenantA, m.MessageID, alice, e.clk.Advance(time.Second))
	wantErr(t, "second DeleteMessage", err, store.ErrDeleted)
	stored, err = e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	same(t, "GetMessage after a second delete", stored, m, normMessage)
}

func testMessageConcurrentEdits(t *testing.T, e *env) {
	m := e.message(tenantA, "r1", alice, "original")
	must(t, e.s.PutMessage(e.ctx, m))
	at := e.clk.Advance(time.Second)
	const n = 16
	var authorOK, otherOK atomic.Int32
	concurrently(2*n, func(i int) {
		user, content := alice, fmt.Sprintf("alice %d", i)
		if i%2 == 1 {
			user, content = mallory, fmt.Sprintf("mallory %d", i)
		}
		got, err := e.s.EditMessage(e.ctx, tenantA, m.MessageID, user, content, at)
		switch {
		case user == alice && err != nil:
			t.Errorf("author's edit %d: %v", i, err)
		case user == alice:
			authorOK.Add(1)
			if got.Content != content {
				t.Errorf("author's edit %d returned content %q", i, got.Content)
			}
		case err == nil:
			otherOK.Add(1)
		default:
			wantErr(t, "concurrent edit by another user", err, store.ErrNotAuthor)
		}
	})
	if a, o := authorOK.Load(), otherOK.Load(); a != n || o != 0 {
		t.Errorf("%d of %d author's edits and %d of %d others' succeeded", a, n, o, n)
	}
	stored, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	var want []string
	for i := 0; i < 2*n; i += 2 {
		want = append(want, fmt.Sprintf("alice %d", i))
	}
	if !slices.Contains(want, stored.Content) || !stored.EditedAt.Equal(at) || stored.UserID != alice {
		t.Errorf("after concurrent edits: %+v", stored)
	}
}

func testMessageConcurrentEditDelete(t *testing.T, e *env) {
	m := e.message(tenantA, "r1", alice, "original")
	must(t, e.s.PutMessage(e.ctx, m))
	at := e.clk.Advance(time.Second)
	var deletes atomic.Int32
	concurrently(17, func(i int) {
		var err error
		if i == 8 {
			_, err = e.s.DeleteMessage(e.ctx, tenantA, m.MessageID, alice, at)
			if err == nil {
				deletes.Add(1)
			}
		} else {
			_, err = e.s.EditMessage(e.ctx, tenantA, m.MessageID, alice, fmt.Sprint("edit ", i), at)
		}
		if err != nil && !(i != 8 && errors.Is(err, store.ErrDeleted)) {
			t.Errorf("call %d: %v", i, err)
		}
	})
	stored, err := e.s.GetMessage(e.ctx, tenantA, m.MessageID)
	must(t, err)
	if deletes.Load() != 1 || !stored.Deleted || stored.Content != "" {
		t.Errorf("after concurrent edits and a delete: %+v", stored)
	}
}
