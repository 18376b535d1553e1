package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// countingStore counts the items the chat reads from its store: the
// elements of every listing, and what every bounded count counted.
type countingStore struct {
	store.Store
	items atomic.Int64
}

func (c *countingStore) RoomMembers(ctx context.Context, tenantID, roomID string) (store.Members, error) {
	ms, err := c.Store.RoomMembers(ctx, tenantID, roomID)
	c.items.Add(int64(ms.Len()))
	return ms, err
}

func (c *countingStore) ConnectionRooms(ctx context.Context, connectionID string) ([]store.Membership, error) {
	ms, err := c.Store.ConnectionRooms(ctx, connectionID)
	c.items.Add(int64(len(ms)))
	return ms, err
}

func (c *countingStore) TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error) {
	cs, err := c.Store.TenantConnections(ctx, tenantID)
	c.items.Add(int64(len(cs)))
	return cs, err
}

func (c *countingStore) UserConnections(ctx context.Context, tenantID, userID string) ([]store.Connection, error) {
	cs, err := c.Store.UserConnections(ctx, tenantID, userID)
	c.items.Add(int64(len(cs)))
	return cs, err
}

func (c *countingStore) CountUserConnections(ctx context.Context, tenantID, userID string, max int) (int, error) {
	n, err := c.Store.CountUserConnections(ctx, tenantID, userID, max)
	c.items.Add(int64(n))
	return n, err
}

func (c *countingStore) CountRoomMembers(ctx context.Context, tenantID, roomID string, max int) (int, error) {
	n, err := c.Store.CountRoomMembers(ctx, tenantID, roomID, max)
	c.items.Add(int64(n))
	return n, err
}

// event is an event of connection id of user (tenant "t") with body.
func event(id, user, body string) events.APIGatewayWebsocketProxyRequest {
	ev := events.APIGatewayWebsocketProxyRequest{Body: body}
	ev.RequestContext.ConnectionID = id
	ev.RequestContext.Authorizer = map[string]any{"userId": user, "username": user, "tenantId": "t"}
	return ev
}

// joinCost fills room r with members connections of other users, then
// counts the items the chat reads for alice joining it with two
// connections, leaving with one and disconnecting the other (she stays
// online with a third, in no room).
func joinCost(t *testing.T, members int) (int64, []string) {
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	p := &orderPusher{}
	svc := chat.New(cs, p, nil, chat.Config{Logger: testutil.DiscardLogger()})
	ctx := t.Context()
	now := time.Now()
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	put := func(id, user string) {
		t.Helper()
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user,
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range members {
		id := fmt.Sprintf("m%05d", i)
		put(id, "user-"+id)
		if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: "user-" + id,
			Username: "user-" + id, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a0", "a1", "a2"} {
		put(id, "alice")
	}
	cs.items.Store(0)
	for _, step := range []struct{ id, body string }{
		{"a1", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"1"}`},
		{"a2", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"2"}`},
		{"a1", `{"action":"leaveRoom","data":{"roomId":"r"},"requestId":"3"}`},
	} {
		if _, err := svc.Message(ctx, event(step.id, "alice", step.body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Disconnect(ctx, event("a2", "alice", "")); err != nil {
		t.Fatal(err)
	}
	return cs.items.Load(), p.posts
}

// TestJoinCostDoesNotGrowWithRoom: in a room larger than
// Config.AnnounceMaxMembers, joining, leaving and disconnecting read as
// many items from the store in a room of 10n members as in one of n (the
// chat no longer reads the room to learn whether the user was in it; it
// counts at most AnnounceMaxMembers+1 of its members to learn it is
// large), and nobody is told.
func TestJoinCostDoesNotGrowWithRoom(t *testing.T) {
	t.Parallel()
	const n = chat.DefaultAnnounceMaxMembers + 50
	small, posts := joinCost(t, n)
	large, _ := joinCost(t, 10*n)
	t.Logf("items read: %d in a room of %d, %d in one of %d", small, n, large, 10*n)
	if large > small {
		t.Errorf("joining, leaving and disconnecting read %d items in a room of %d and %d in one of %d: the cost grows with the room",
			small, n, large, 10*n)
	}
	for _, p := range posts {
		if strings.Contains(p, protocol.BroadcastUserJoined) || strings.Contains(p, protocol.BroadcastUserLeft) {
			t.Errorf("a room of %d (more than %d) was told: %.80s...", n+1, chat.DefaultAnnounceMaxMembers, p)
		}
	}
}

// sweptTabs stores two connections of alice that expire in a minute and
// one of bob that does not, all in room r, sweeps them two minutes later,
// and returns the service (posting through p) and the swept items as the
// TTL's stream records, those keep selects.
func sweptTabs(t *testing.T, p *orderPusher, keep func(store.Image) bool) (*chat.Service, events.DynamoDBEvent) {
	t.Helper()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := chat.New(st, p, nil, chat.Config{Logger: testutil.DiscardLogger()})
	ctx := t.Context()
	now := time.Now()
	for _, c := range []struct {
		id, user string
		ttl      time.Duration
	}{{"A1", "alice", time.Minute}, {"A2", "alice", time.Minute}, {"B", "bob", time.Hour}} {
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: c.id, TenantID: "t", UserID: c.user, Username: c.user,
			ConnectedAt: now, ExpiresAt: now.Add(c.ttl)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: c.id, UserID: c.user,
			Username: c.user, JoinedAt: now, ExpiresAt: now.Add(c.ttl)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := st.DeleteExpired(ctx, now.Add(2*time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	for _, img := range imgs {
		if keep(img) {
			ev.Records = append(ev.Records, events.DynamoDBEventRecord{
				EventName:    "REMOVE",
				UserIdentity: &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
				Change:       events.DynamoDBStreamRecord{OldImage: img},
			})
		}
	}
	return svc, ev
}

// TestCleanupAnnouncesLeftOnce: the expired memberships of a user's two
// connections, swept and handed to the cleanup handler twice (a stream
// batch delivered again), make one user_left, after the last.
func TestCleanupAnnouncesLeftOnce(t *testing.T) {
	t.Parallel()
	p := &orderPusher{}
	// alice stays online: her connections are not swept.
	svc, ev := sweptTabs(t, p, func(img store.Image) bool { return img.Type() == store.TypeMembership })
	if len(ev.Records) != 2 {
		t.Fatalf("swept %d memberships, want alice's 2", len(ev.Records))
	}
	for range 2 {
		if err := svc.Cleanup(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"B: " + protocol.BroadcastUserLeft}; !slices.Equal(p.posts, want) {
		t.Errorf("posts:\n%s\nwant:\n%s", strings.Join(p.posts, "\n"), strings.Join(want, "\n"))
	}
}

// TestCleanupAnnouncesOfflineOnce: two expired tabs of one user, swept in
// one batch (their connections and memberships), make one user_left and
// one offline for the member who stays, not one per tab.
func TestCleanupAnnouncesOfflineOnce(t *testing.T) {
	t.Parallel()
	p := &orderPusher{}
	svc, ev := sweptTabs(t, p, func(store.Image) bool { return true })
	if len(ev.Records) != 4 {
		t.Fatalf("swept %d items, want alice's 2 connections and 2 memberships", len(ev.Records))
	}
	if err := svc.Cleanup(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if want := []string{"B: " + protocol.BroadcastUserLeft, "B: " + protocol.BroadcastPresence}; !slices.Equal(p.posts, want) {
		t.Errorf("posts:\n%s\nwant:\n%s", strings.Join(p.posts, "\n"), strings.Join(want, "\n"))
	}
}

// TestJoinOfAGoneConnectionIsQuiet: a joinRoom whose connection
// disconnected on the way adds no member, and is no server failure: no
// "request failed" line with a reference, and the answer says why.
func TestJoinOfAGoneConnectionIsQuiet(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs strings.Builder
	p := &orderPusher{}
	svc := chat.New(st, p, nil, chat.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := t.Context()
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Message(ctx, event("gone", "alice", `{"action":"joinRoom","data":{"roomId":"r"},"requestId":"1"}`)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.posts, []string{"gone: error"}) {
		t.Errorf("posts %q, want the error answer only", p.posts)
	}
	if strings.Contains(logs.String(), "request failed") {
		t.Errorf("logged as a failure: %s", logs.String())
	}
	if ms, err := st.RoomMembers(ctx, "t", "r"); err != nil || ms.Len() != 0 {
		t.Errorf("members %+v, %v: want none", ms.Slice(), err)
	}
}
