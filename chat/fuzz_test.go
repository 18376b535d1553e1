package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
)

// replyRecorder keeps what the handlers post: the replies (Post) to each
// connection and the broadcasts (PostMany). It is the point where the fuzz
// target observes the router; every connection is reachable.
type replyRecorder struct {
	mu      sync.Mutex
	replies map[string][][]byte
}

func (p *replyRecorder) Post(_ context.Context, id string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replies[id] = append(p.replies[id], slices.Clone(data))
	return nil
}

func (p *replyRecorder) PostMany(_ context.Context, ids []string, data []byte) ([]string, error) {
	if !json.Valid(data) {
		return nil, &json.SyntaxError{}
	}
	return nil, nil
}

func (p *replyRecorder) take(id string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.replies[id]
	delete(p.replies, id)
	return r
}

// FuzzMessage sends arbitrary frames through the action router (envelope
// decoding, route to the action, the action's field checks, the store) as
// a connection of a user in a room with messages. Whatever the frame: no
// panic, the router returns 200, and the sender gets exactly one reply, a
// JSON object that is either a success or an error with a documented code
// other than INTERNAL_ERROR and a message, echoing the requestId when the
// frame carries a valid one.
func FuzzMessage(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(f.TempDir(), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	rec := &replyRecorder{replies: map[string][][]byte{}}
	// The rate limits off: one connection sends thousands of frames a
	// second here, and RATE_LIMITED replies would be all it explored.
	svc := chat.New(st, rec, nil, chat.Config{ActionRate: -1, TenantBytesRate: -1, RoomCreateRate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	const conn = "fuzzConnAAAAAA="
	authz := map[string]any{"userId": "alice", "username": "Alice", "tenantId": "acme"}
	connect := events.APIGatewayWebsocketProxyRequest{}
	connect.RequestContext.ConnectionID = conn
	connect.RequestContext.Authorizer = authz
	if _, err := svc.Connect(ctx, connect); err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	room := store.Room{TenantID: "acme", RoomID: "lobby", Name: "Lobby", CreatedBy: "alice", CreatedAt: now}
	other := store.Room{TenantID: "evil", RoomID: "evil-room", Name: "Evil", CreatedBy: "eve", CreatedAt: now}
	for _, r := range []store.Room{room, other} {
		if err := st.CreateRoom(ctx, r); err != nil {
			f.Fatal(err)
		}
	}
	for i, m := range []store.Message{
		{TenantID: "acme", RoomID: "lobby", MessageID: store.NewID(now), UserID: "alice", Username: "Alice", Content: "hi", MessageType: store.MessageText, CreatedAt: now},
		{TenantID: "acme", RoomID: "lobby", MessageID: store.NewID(now.Add(time.Millisecond)), UserID: "bob", Username: "Bob", Content: "yo", MessageType: store.MessageText, CreatedAt: now},
		{TenantID: "evil", RoomID: "evil-room", MessageID: store.NewID(now.Add(2 * time.Millisecond)), UserID: "eve", Username: "Eve", Content: "x", MessageType: store.MessageText, CreatedAt: now},
	} {
		if err := st.PutMessage(ctx, m); err != nil {
			f.Fatal(i, err)
		}
		f.Add(`{"action":"editMessage","data":{"messageId":"` + m.MessageID + `","content":"e"},"requestId":"e"}`)
		f.Add(`{"action":"deleteMessage","data":{"messageId":"` + m.MessageID + `"}}`)
		f.Add(`{"action":"sendMessage","data":{"content":"r","replyToMessageId":"` + m.MessageID + `"}}`)
	}
	if _, err := st.JoinRoom(ctx, store.Membership{TenantID: "acme", RoomID: "lobby", ConnectionID: conn, UserID: "alice", Username: "Alice",
		JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"action":null}`, `{"action":"ping"}`, `{"action":"heartbeat","requestId":"1"}`,
		`{"action":"createRoom","data":{"name":"Lobby 2","description":"d","isPrivate":true,"members":["bob"]},"requestId":"r"}`,
		`{"action":"listRooms","data":{"limit":1,"isPrivate":false}}`, `{"action":"listRooms","data":{"cursor":"x"}}`,
		`{"action":"joinRoom","data":{"roomId":"lobby"}}`, `{"action":"joinRoom","data":{"roomId":"evil-room"}}`,
		`{"action":"leaveRoom","data":{"roomId":"lobby"}}`, `{"action":"leaveRoom"}`,
		`{"action":"sendMessage","data":{"roomId":"lobby","content":"hi","messageType":"IMAGE"}}`,
		`{"action":"getRoomHistory","data":{"roomId":"lobby","limit":1}}`, `{"action":"getRoomHistory","data":{"roomId":"lobby","cursor":"!!"}}`,
		`{"action":"typingStart","data":{"roomId":"lobby"}}`, `{"action":"typingStop"}`,
		`{"action":"getOnlineUsers","data":{"roomId":"lobby"}}`, `{"action":"getOnlineUsers"}`,
		`{"action":"listRooms","data":{"limit":1e1}}`, `{"action":"x","action":"ping","requestId":"d","requestId":"e"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ev := events.APIGatewayWebsocketProxyRequest{Body: body}
		ev.RequestContext.ConnectionID = conn
		ev.RequestContext.Authorizer = authz
		resp, err := svc.Message(ctx, ev)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("router: %d %v", resp.StatusCode, err)
		}
		replies := rec.take(conn)
		if len(replies) != 1 {
			t.Fatalf("%d replies: %q", len(replies), replies)
		}
		var r struct {
			Type      string          `json:"type"`
			Code      string          `json:"code"`
			Error     string          `json:"error"`
			RequestID *string         `json:"requestId"`
			Data      json.RawMessage `json:"data"`
			Timestamp string          `json:"timestamp"`
		}
		if err := json.Unmarshal(replies[0], &r); err != nil {
			t.Fatalf("reply is not JSON: %q", replies[0])
		}
		switch {
		case r.Timestamp == "":
			t.Fatalf("reply without timestamp: %s", replies[0])
		case r.Type == protocol.ReplySuccess:
			if r.Code != "" || r.Error != "" {
				t.Fatalf("success with an error: %s", replies[0])
			}
		case r.Type == protocol.ReplyError:
			if !slices.Contains(protocol.Codes, r.Code) || r.Code == protocol.CodeInternal || r.Error == "" {
				t.Fatalf("error reply %s", replies[0])
			}
		default:
			t.Fatalf("reply of type %q: %s", r.Type, replies[0])
		}
		// The requestId comes back whenever the frame is an object with a
		// string requestId of at most 128 characters.
		var env map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &env) == nil {
			var id string
			if json.Unmarshal(env["requestId"], &id) == nil && len(id) <= 128 && id != "" {
				if r.RequestID == nil || *r.RequestID != id {
					t.Fatalf("requestId %q not echoed: %s", id, replies[0])
				}
			}
		}
	})
}
