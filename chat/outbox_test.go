package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
	"github.com/switchboard-ws/switchboard/push"
)

// orderPusher records every post in order (what each connection would
// receive, and when) and reports the connections in gone as gone.
type orderPusher struct {
	mu    sync.Mutex
	gone  map[string]bool
	posts []string // "ids: type", one per Post or PostMany
}

func (p *orderPusher) Post(ctx context.Context, id string, data []byte) error {
	gone, err := p.PostMany(ctx, []string{id}, data)
	if err == nil && len(gone) > 0 {
		return push.ErrGone
	}
	return err
}

func (p *orderPusher) PostMany(_ context.Context, ids []string, data []byte) ([]string, error) {
	var msg struct{ Type string }
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, err
	}
	sorted := slices.Sorted(slices.Values(ids))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, strings.Join(sorted, ",")+": "+msg.Type)
	var gone []string
	for _, id := range ids {
		if p.gone[id] {
			gone = append(gone, id)
		}
	}
	return gone, nil
}

// TestReplyPrecedesBroadcasts: the sender hears its reply before the
// broadcast its request makes, and the broadcasts that broadcast causes (a
// recipient found gone leaves the room and goes offline) follow it in
// order, within the same request.
func TestReplyPrecedesBroadcasts(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &orderPusher{gone: map[string]bool{"G": true}}
	svc := chat.New(st, p, nil, chat.Config{GoneGrace: time.Nanosecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	if err := st.CreateRoom(ctx, store.Room{TenantID: "t", RoomID: "r", Name: "R", CreatedBy: "a", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"A", "B", "G"} {
		user := strings.ToLower(id)
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user, ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "t", RoomID: "r", ConnectionID: id, UserID: user, Username: user, JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","data":{"roomId":"r","content":"hi"},"requestId":"1"}`}
	ev.RequestContext.ConnectionID = "A"
	ev.RequestContext.Authorizer = map[string]any{"userId": "a", "username": "a", "tenantId": "t"}
	if _, err := svc.Message(ctx, ev); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"A: " + protocol.ReplySuccess,
		"A,B,G: " + protocol.BroadcastMessage,
		"A,B: " + protocol.BroadcastUserLeft,
		"A,B: " + protocol.BroadcastPresence,
	}
	if !slices.Equal(p.posts, want) {
		t.Fatalf("posts in order:\n%s\nwant:\n%s", strings.Join(p.posts, "\n"), strings.Join(want, "\n"))
	}
	if _, err := st.GetConnection(ctx, "G"); err == nil {
		t.Fatal("the gone connection is still stored")
	}
}

// getCounter counts GetConnection calls.
type getCounter struct {
	store.Store
	mu   sync.Mutex
	gets []string
}

func (g *getCounter) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	g.mu.Lock()
	g.gets = append(g.gets, id)
	g.mu.Unlock()
	return g.Store.GetConnection(ctx, id)
}

// TestPresenceLeavesYoungGoneUnread: a presence broadcast that finds gone
// a connection it read as younger than GoneGrace (one still in its
// $connect) leaves it alone without reading it again; one it read as old
// is read and removed, as before.
func TestPresenceLeavesYoungGoneUnread(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted := &getCounter{Store: st}
	p := &orderPusher{gone: map[string]bool{"Y": true, "O": true}}
	svc := chat.New(counted, p, nil, chat.Config{GoneGrace: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	now := time.Now()
	for id, at := range map[string]time.Time{"Y": now, "O": now.Add(-time.Hour), "L": now.Add(-time.Hour)} {
		user := strings.ToLower(id)
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "t", UserID: user, Username: user, ConnectedAt: at, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	ev := events.APIGatewayWebsocketProxyRequest{}
	ev.RequestContext.ConnectionID = "N"
	ev.RequestContext.Authorizer = map[string]any{"userId": "n", "username": "n", "tenantId": "t"}
	if res, err := svc.Connect(ctx, ev); err != nil || res.StatusCode != 200 {
		t.Fatalf("Connect: %v, %v", res.StatusCode, err)
	}
	if !slices.Equal(counted.gets, []string{"O"}) {
		t.Errorf("GetConnection of %v, want [O] only (Y was read young)", counted.gets)
	}
	if _, err := st.GetConnection(ctx, "Y"); err != nil {
		t.Errorf("the young connection: %v", err)
	}
	if _, err := st.GetConnection(ctx, "O"); err == nil {
		t.Error("the old gone connection is still stored")
	}
}
