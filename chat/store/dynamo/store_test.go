package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// What the conformance suite cannot see: the table itself, the items
// behind the interface, and the paths taken only past DynamoDB's limits.

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC)

// testStore is a store over a fresh table, at a clock the test moves.
func testStore(t *testing.T) (*Store, *dynamodb.Client, *time.Time) {
	t.Helper()
	client := LocalClient(endpoint(t))
	now := new(time.Time)
	*now = t0
	return New(client, newTable(t, client), Options{Now: func() time.Time { return *now }}), client, now
}

func (s *Store) rawGet(t *testing.T, pk, sk string) item {
	t.Helper()
	out, err := s.db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return item(out.Item)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testConn(id, tenant, user string) store.Connection {
	return store.Connection{ConnectionID: id, TenantID: tenant, UserID: user, Username: "name of " + user,
		ConnectedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), SourceIP: "::1", UserAgent: "test"}
}

func testMember(c store.Connection, room string) store.Membership {
	return store.Membership{TenantID: c.TenantID, RoomID: room, ConnectionID: c.ConnectionID,
		UserID: c.UserID, Username: c.Username, JoinedAt: t0, ExpiresAt: c.ExpiresAt}
}

func TestCreateTable(t *testing.T) {
	client := LocalClient(endpoint(t))
	table := newTable(t, client)
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	must(t, err)
	d := out.Table
	keys := func(ks []types.KeySchemaElement) string {
		var s string
		for _, k := range ks {
			s += fmt.Sprintf("%s/%s ", aws.ToString(k.AttributeName), k.KeyType)
		}
		return s
	}
	if got := keys(d.KeySchema); got != "PK/HASH SK/RANGE " {
		t.Errorf("key schema %q", got)
	}
	gsis := map[string]string{}
	for _, g := range d.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = keys(g.KeySchema) + string(g.Projection.ProjectionType)
	}
	want := map[string]string{GSI1: "GSI1PK/HASH GSI1SK/RANGE ALL", GSI2: "GSI2PK/HASH GSI2SK/RANGE ALL"}
	if fmt.Sprint(gsis) != fmt.Sprint(want) {
		t.Errorf("GSIs %v, want %v", gsis, want)
	}
	if ss := d.StreamSpecification; ss == nil || !aws.ToBool(ss.StreamEnabled) || ss.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream %+v", ss)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing %+v", d.BillingModeSummary)
	}
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	must(t, err)
	if ttl.TimeToLiveDescription == nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL %+v", ttl.TimeToLiveDescription)
	}
}

// Items carry the key design of docs/store.md and the attributes of
// store/image.go; ephemeral ones the TTL attribute in seconds.
func TestItems(t *testing.T) {
	s, _, _ := testStore(t)
	ctx := t.Context()
	c := testConn("c1", "t", "u")
	c.ExpiresAt = c.ExpiresAt.Add(999 * time.Millisecond)
	must(t, s.PutConnection(ctx, c))
	m := testMember(c, "r")
	if _, err := s.JoinRoom(ctx, m, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeTypingSlot(ctx, "c1", t0, 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	must(t, s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "pub", CreatedAt: t0}))
	must(t, s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "priv", CreatedAt: t0, IsPrivate: true, Members: []string{"u"}}))
	msg := store.Message{TenantID: "t", RoomID: "r", MessageID: store.NewID(t0), UserID: "u", CreatedAt: t0}
	must(t, s.PutMessage(ctx, msg))

	exp := fmt.Sprint(c.ExpiresAt.Unix())
	for _, tc := range []struct {
		pk, sk string
		want   map[string]string // attribute: value as %v of the stream value
	}{
		{"CONN#c1", "META", map[string]string{"type": "CONNECTION", "GSI1PK": "TENANT#t#CONNS", "GSI1SK": "CONN#c1", "expiresAt": exp}},
		{"TENANT#t#USER#u", "CONN#c1", map[string]string{"type": "USERCONN", "expiresAt": exp}},
		{"CONN#c1", "TYPING", map[string]string{"type": "TYPING", "expiresAt": fmt.Sprint(t0.Unix() + 3)}},
		{"TENANT#t#ROOM#r", "MEMBER#c1", map[string]string{"type": "MEMBERSHIP", "expiresAt": exp}},
		{"CONN#c1", "ROOM#t#r", map[string]string{"type": "CONNROOM", "expiresAt": exp}},
		{"TENANT#t#ROOM#pub", "META", map[string]string{"type": "ROOM", "GSI1PK": "TENANT#t#ROOMS",
			"GSI1SK": fmt.Sprintf("%013d#pub", t0.UnixMilli())}},
		{"TENANT#t#ROOM#priv", "META", map[string]string{"type": "ROOM"}},
		{"TENANT#t#ROOM#priv", "ACCESS#u", map[string]string{"type": "ACCESS", "GSI2PK": "TENANT#t#USER#u#ROOMS",
			"GSI2SK": fmt.Sprintf("%013d#priv", t0.UnixMilli())}},
		{"TENANT#t#MSG#" + msg.MessageID, "META", map[string]string{"type": "MESSAGE", "GSI1PK": "TENANT#t#ROOM#r#MSGS",
			"GSI1SK": msg.MessageID}},
	} {
		it := s.rawGet(t, tc.pk, tc.sk)
		if len(it) == 0 {
			t.Errorf("no item %s / %s", tc.pk, tc.sk)
			continue
		}
		img := it.image()
		for a, v := range tc.want {
			got, ok := img[a]
			if !ok || got.String() != v && got.Number() != v {
				t.Errorf("%s / %s: %s = %v, want %s", tc.pk, tc.sk, a, got, v)
			}
		}
	}
	// The images of connections and memberships hold every attribute
	// store.ConnectionImage and store.MembershipImage make, alike.
	for _, tc := range []struct {
		it   item
		want store.Image
	}{
		{s.rawGet(t, "CONN#c1", "META"), store.ConnectionImage(c)},
		{s.rawGet(t, "TENANT#t#ROOM#r", "MEMBER#c1"), store.MembershipImage(m)},
	} {
		img := tc.it.image()
		for a, v := range tc.want {
			if fmt.Sprint(img[a]) != fmt.Sprint(v) {
				t.Errorf("%s image: %s = %v, want %v", tc.want.Type(), a, img[a], v)
			}
		}
	}
}

// Tenant ids are escaped in keys: no spelling of one tenant's ids reaches
// another tenant's items.
func TestTenantKeys(t *testing.T) {
	s, _, _ := testStore(t)
	ctx := t.Context()
	a := testConn("a", "x#USER#y", "z")
	b := testConn("b", "x", "y#USER#z")
	must(t, s.PutConnection(ctx, a))
	must(t, s.PutConnection(ctx, b))
	for _, c := range []store.Connection{a, b} {
		got, err := s.UserConnections(ctx, c.TenantID, c.UserID)
		must(t, err)
		if len(got) != 1 || got[0].ConnectionID != c.ConnectionID {
			t.Errorf("UserConnections(%q, %q) = %+v", c.TenantID, c.UserID, got)
		}
	}
	must(t, s.CreateRoom(ctx, store.Room{TenantID: "t#ROOM#r", RoomID: "s", CreatedAt: t0}))
	if _, err := s.GetRoom(ctx, "t", "r#ROOM#s"); err == nil {
		t.Error("GetRoom through a tenant prefix found another tenant's room")
	}
	if got := s.rawGet(t, "TENANT#t%23ROOM%23r#ROOM#s", "META"); len(got) == 0 {
		t.Error("escaped room key not found")
	}
}

// LeaveRoom of an expired membership reports false and deletes it and
// its copy (the condition's ALL_OLD item told expired from absent).
func TestLeaveExpired(t *testing.T) {
	s, _, now := testStore(t)
	ctx := t.Context()
	c := testConn("c1", "t", "u")
	must(t, s.PutConnection(ctx, c))
	if _, err := s.JoinRoom(ctx, testMember(c, "r"), 0); err != nil {
		t.Fatal(err)
	}
	*now = c.ExpiresAt
	l, err := s.LeaveRoom(ctx, "t", "r", "c1")
	must(t, err)
	if l != (store.Leave{Last: true}) {
		t.Errorf("LeaveRoom of an expired membership = %+v, want not left, but last", l)
	}
	for _, k := range [][2]string{{"TENANT#t#ROOM#r", "MEMBER#c1"}, {"CONN#c1", "ROOM#t#r"}, {"TENANT#t#ROOM#r", "HOLD#u"}} {
		if it := s.rawGet(t, k[0], k[1]); len(it) != 0 {
			t.Errorf("%s / %s still there after LeaveRoom", k[0], k[1])
		}
	}
}

// TouchConnection drops from its transaction a membership whose condition
// fails (left meanwhile; here: a copy without its membership) and touches
// the rest.
func TestTouchDropsVanishedMembership(t *testing.T) {
	s, _, _ := testStore(t)
	ctx := t.Context()
	c := testConn("c1", "t", "u")
	must(t, s.PutConnection(ctx, c))
	for _, r := range []string{"r1", "r2", "r3"} {
		if _, err := s.JoinRoom(ctx, testMember(c, r), 0); err != nil {
			t.Fatal(err)
		}
	}
	// r2's membership vanishes, its copy stays.
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.table, Key: key("TENANT#t#ROOM#r2", "MEMBER#c1")})
	must(t, err)
	later := c.ExpiresAt.Add(time.Hour)
	must(t, s.TouchConnection(ctx, "c1", later))
	for _, r := range []string{"r1", "r3"} {
		it := s.rawGet(t, "TENANT#t#ROOM#"+r, "MEMBER#c1")
		if got := it.membership().ExpiresAt; !got.Equal(later) {
			t.Errorf("%s expires at %v, want %v", r, got, later)
		}
	}
	if it := s.rawGet(t, "TENANT#t#ROOM#r2", "MEMBER#c1"); len(it) != 0 {
		t.Error("TouchConnection recreated a vanished membership")
	}
}

// Past 100 items per transaction: a connection in 120 rooms is touched
// and deleted in several writes; a private room of 250 members has its
// access copies written in batches.
func TestBeyondTransactionLimits(t *testing.T) {
	s, _, now := testStore(t)
	ctx := t.Context()
	c := testConn("c1", "t", "u")
	must(t, s.PutConnection(ctx, c))
	const rooms = 120
	for i := range rooms {
		if _, err := s.JoinRoom(ctx, testMember(c, fmt.Sprintf("r%03d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	*now = t0.Add(5 * time.Minute)
	later := t0.Add(time.Hour)
	must(t, s.TouchConnection(ctx, "c1", later))
	*now = t0.Add(30 * time.Minute) // past the first expiry
	got, err := s.ConnectionRooms(ctx, "c1")
	must(t, err)
	if len(got) != rooms {
		t.Errorf("ConnectionRooms after touch: %d, want %d", len(got), rooms)
	}
	r119, err := s.RoomMembers(ctx, "t", "r119")
	must(t, err)
	members := r119.Slice()
	if len(members) != 1 || !members[0].ExpiresAt.Equal(later) {
		t.Errorf("RoomMembers(r119) after touch: %+v", members)
	}
	_, ms, err := s.DeleteConnection(ctx, "c1")
	must(t, err)
	if len(ms) != rooms || ms[0].RoomID != "r000" || ms[rooms-1].RoomID != "r119" {
		t.Errorf("DeleteConnection returned %d memberships", len(ms))
	}
	for _, m := range ms {
		if !m.Last {
			t.Errorf("DeleteConnection: membership of %s not the user's last", m.RoomID)
		}
		if it := s.rawGet(t, "TENANT#t#ROOM#"+m.RoomID, "HOLD#u"); len(it) != 0 {
			t.Errorf("hold of %s still there after DeleteConnection", m.RoomID)
		}
	}
	for _, r := range []string{"r000", "r060", "r119"} {
		if members, err := s.RoomMembers(ctx, "t", r); err != nil || members.Len() != 0 {
			t.Errorf("RoomMembers(%s) after delete: %+v, %v", r, members.Slice(), err)
		}
	}
	if got, err := s.ConnectionRooms(ctx, "c1"); err != nil || len(got) != 0 {
		t.Errorf("ConnectionRooms after delete: %d, %v", len(got), err)
	}

	var users []string
	for i := range 250 {
		users = append(users, fmt.Sprintf("user-%03d", i))
	}
	users = append(users, "user-000") // a duplicate
	must(t, s.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "big", CreatedBy: users[0], CreatedAt: t0,
		IsPrivate: true, Members: users}))
	for _, u := range []string{"user-000", "user-098", "user-099", "user-249"} {
		list, _, err := s.ListRooms(ctx, "t", u, store.RoomsPrivate, store.Page{})
		must(t, err)
		if len(list) != 1 || list[0].RoomID != "big" || len(list[0].Members) != len(users) {
			t.Errorf("private rooms of %s: %d rooms", u, len(list))
		}
	}
}

func TestRoomCursorValidation(t *testing.T) {
	s, _, _ := testStore(t)
	for _, c := range []string{
		store.EncodeCursor("rooms", "+5", "r"),
		store.EncodeCursor("rooms", "-1", "r"),
		store.EncodeCursor("rooms", "10000000000000", "r"),
		store.EncodeCursor("rooms", "", "r"),
		store.EncodeCursor("messages", "x"),
	} {
		_, _, err := s.ListRooms(t.Context(), "t", "u", store.RoomsAll, store.Page{Cursor: c})
		if !errorsIs(err, store.ErrCursor) {
			t.Errorf("ListRooms with cursor %q: %v", c, err)
		}
	}
	_, _, err := s.ListMessages(t.Context(), "t", "r", store.Page{Cursor: store.EncodeCursor("messages", "")})
	if !errorsIs(err, store.ErrCursor) {
		t.Errorf("ListMessages with an empty position: %v", err)
	}
}

// Concurrent transactions on one item: DynamoDB cancels all but one with
// TransactionConflict; the store retries them.
func TestConcurrentJoinRetries(t *testing.T) {
	ep := endpoint(t)
	var rec recorder
	plain := LocalClient(ep)
	s := New(rec.client(ep), newTable(t, plain), Options{Now: func() time.Time { return t0 }})
	c := testConn("c1", "t", "u")
	must(t, s.PutConnection(t.Context(), c))
	rec.take()
	const n = 32
	var joined atomic.Int32
	start := make(chan struct{})
	done := make(chan struct{})
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			j, err := s.JoinRoom(t.Context(), testMember(c, "r"), 0)
			if err != nil {
				t.Error(err)
			}
			if j.Joined {
				joined.Add(1)
			}
		}()
	}
	close(start)
	for range n {
		<-done
	}
	calls := len(rec.take())
	if joined.Load() != 1 {
		t.Errorf("%d joins reported joined", joined.Load())
	}
	t.Logf("%d concurrent joins took %d TransactWriteItems calls", n, calls)
	members, err := s.RoomMembers(t.Context(), "t", "r")
	must(t, err)
	if !slices.EqualFunc(members.Slice(), []store.Membership{testMember(c, "r")}, func(a, b store.Membership) bool {
		return a.ConnectionID == b.ConnectionID && a.JoinedAt.Equal(b.JoinedAt)
	}) {
		t.Errorf("members %+v", members)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// conflicts makes a client whose first n calls of op fail as if a
// concurrent transaction held the items (DynamoDB Local serializes
// transactions, so it never reports conflicts itself).
func conflicts(endpoint, op string, n int, calls *atomic.Int32) *dynamodb.Client {
	return LocalClient(endpoint, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("switchboard/conflict",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error) {
					if awsmiddleware.GetOperationName(ctx) != op {
						return next.HandleInitialize(ctx, in)
					}
					if calls.Add(1) > int32(n) {
						return next.HandleInitialize(ctx, in)
					}
					var err error = &types.TransactionConflictException{Message: aws.String("injected")}
					if tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
						reasons := make([]types.CancellationReason, len(tx.TransactItems))
						for i := range reasons {
							reasons[i].Code = aws.String("None")
						}
						reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
						err = &types.TransactionCanceledException{Message: aws.String("injected"), CancellationReasons: reasons}
					}
					return middleware.InitializeOutput{}, middleware.Metadata{}, err
				}), middleware.After)
		})
	})
}

func TestConflictRetries(t *testing.T) {
	ep := endpoint(t)
	table := newTable(t, LocalClient(ep))
	c := testConn("c1", "t", "u")

	var txCalls atomic.Int32
	s := New(conflicts(ep, "TransactWriteItems", 3, &txCalls), table, Options{Now: func() time.Time { return t0 }})
	must(t, s.PutConnection(t.Context(), c))
	if n := txCalls.Load(); n != 4 {
		t.Errorf("PutConnection made %d TransactWriteItems calls, want 4 (3 conflicts, then success)", n)
	}
	if _, err := s.GetConnection(t.Context(), "c1"); err != nil {
		t.Error(err)
	}

	var updCalls atomic.Int32
	s = New(conflicts(ep, "UpdateItem", 2, &updCalls), table, Options{Now: func() time.Time { return t0 }})
	ok, err := s.TakeTypingSlot(t.Context(), "c1", t0, time.Second)
	if err != nil || !ok {
		t.Errorf("TakeTypingSlot after conflicts = %v, %v", ok, err)
	}
	if n := updCalls.Load(); n != 3 {
		t.Errorf("TakeTypingSlot made %d UpdateItem calls, want 3", n)
	}

	// Past the retries, the conflict is the caller's.
	var more atomic.Int32
	s = New(conflicts(ep, "TransactWriteItems", 100, &more), table, Options{Now: func() time.Time { return t0 }, ConflictRetries: 2})
	_, err = s.JoinRoom(t.Context(), testMember(c, "r"), 0)
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || more.Load() != 3 {
		t.Errorf("JoinRoom with endless conflicts: %v after %d calls", err, more.Load())
	}
}
