package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/client"
	"github.com/switchboard-ws/switchboard/devstack"
)

func startDev(t *testing.T, dir, addr string) *devstack.Stack {
	t.Helper()
	st, err := devstack.New(devstack.Options{DataDir: dir, SweepInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Serve(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

func dial(t *testing.T, st *devstack.Stack, user, tenant string) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), client.Options{
		URL: st.URL(),
		TokenFunc: func(context.Context) (string, error) {
			return st.Token(user, strings.ToUpper(user[:1])+user[1:], tenant, time.Hour)
		},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next waits for an event matching pred.
func next(t *testing.T, c *client.Client, what string, pred func(client.Event) bool) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if pred(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s", what)
		}
	}
}

func TestClientActions(t *testing.T) {
	st := startDev(t, t.TempDir(), "127.0.0.1:0")
	ctx := context.Background()
	alice := dial(t, st, "alice", "acme")
	bob := dial(t, st, "bob", "acme")

	room, err := alice.CreateRoom(ctx, client.CreateRoomInput{Name: "Lobby"})
	if err != nil || room.RoomID == "" || room.CreatedAt.IsZero() {
		t.Fatalf("create: %+v %v", room, err)
	}
	if _, err := alice.JoinRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	next(t, alice, "user_joined", func(ev client.Event) bool { return ev.Type == client.BroadcastUserJoined })
	m, err := bob.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: "hello"})
	if err != nil || m.Content != "hello" || m.Timestamp.IsZero() {
		t.Fatalf("send: %+v %v", m, err)
	}
	ev := next(t, alice, "message", func(ev client.Event) bool { return ev.Message != nil && ev.Message.MessageID == m.MessageID })
	if ev.RoomID != room.RoomID || ev.Message.Username != "Bob" {
		t.Fatalf("event %+v", ev)
	}
	// Typed errors.
	_, err = alice.EditMessage(ctx, m.MessageID, "mine now")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "NOT_AUTHOR" {
		t.Fatalf("edit by another: %v", err)
	}
	if _, err := bob.EditMessage(ctx, m.MessageID, "hello!"); err != nil {
		t.Fatal(err)
	}
	next(t, alice, "edit", func(ev client.Event) bool { return ev.Message != nil && ev.Message.Edited })
	if err := bob.TypingStart(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	next(t, alice, "typing", func(ev client.Event) bool { return ev.Type == client.BroadcastTyping })
	users, err := alice.OnlineUsers(ctx, room.RoomID)
	if err != nil || len(users) != 2 {
		t.Fatalf("online: %+v %v", users, err)
	}
	page, err := alice.History(ctx, client.HistoryInput{RoomID: room.RoomID})
	if err != nil || len(page.Messages) != 1 || page.Cursor != "" {
		t.Fatalf("history: %+v %v", page, err)
	}
	rooms, err := bob.ListRooms(ctx, client.ListRoomsInput{})
	if err != nil || len(rooms.Rooms) != 1 {
		t.Fatalf("rooms: %+v %v", rooms, err)
	}
	if _, err := bob.DeleteMessage(ctx, m.MessageID); err != nil {
		t.Fatal(err)
	}
	if err := bob.LeaveRoom(ctx, room.RoomID); err != nil {
		t.Fatal(err)
	}
	next(t, alice, "user_left", func(ev client.Event) bool { return ev.Type == client.BroadcastUserLeft })
	if err := alice.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDialRefused(t *testing.T) {
	st := startDev(t, t.TempDir(), "127.0.0.1:0")
	_, err := client.Dial(context.Background(), client.Options{URL: st.URL(), Token: "bad"})
	var de *client.DialError
	if !errors.As(err, &de) || de.StatusCode != 401 {
		t.Fatalf("bad token: %v", err)
	}
}

// TestReconnectAndResume restarts the server under two clients: both
// reconnect, rejoin, and get the messages sent while one was away — once.
func TestReconnectAndResume(t *testing.T) {
	dir := t.TempDir()
	st := startDev(t, dir, "127.0.0.1:0")
	addr := st.Addr()
	ctx := context.Background()
	alice := dial(t, st, "alice", "acme")
	bob := dial(t, st, "bob", "acme")
	room, _ := alice.CreateRoom(ctx, client.CreateRoomInput{Name: "Lobby"})
	alice.JoinRoom(ctx, room.RoomID)
	bob.JoinRoom(ctx, room.RoomID)
	before, _ := alice.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: "before"})
	next(t, bob, "before", func(ev client.Event) bool { return ev.Message != nil && ev.Message.MessageID == before.MessageID })

	st.Close(ctx)
	next(t, bob, "reconnecting", func(ev client.Event) bool { return ev.State == client.StateReconnecting })
	st2 := startDev(t, dir, addr)
	next(t, alice, "resumed", func(ev client.Event) bool { return ev.Type == client.EventResumed })
	// Alice sends at once; Bob may not have resumed yet: he gets it either
	// live or from history, exactly once.
	var sent []string
	for i := 0; i < 3; i++ {
		m, err := alice.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: "after"})
		if err != nil {
			t.Fatalf("send after restart: %v", err)
		}
		sent = append(sent, m.MessageID)
	}
	got := map[string]int{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(sent) {
		select {
		case ev := <-bob.Events():
			if ev.Message != nil {
				got[ev.Message.MessageID]++
			}
		case <-deadline:
			t.Fatalf("bob got %v of %v", got, sent)
		}
	}
	// Nothing more: no duplicates, and not the message from before.
	if _, err := bob.OnlineUsers(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for drained := false; !drained; {
		select {
		case ev := <-bob.Events():
			if ev.Message != nil {
				got[ev.Message.MessageID]++
			}
		default:
			drained = true
		}
	}
	for _, id := range sent {
		if got[id] != 1 {
			t.Fatalf("message %s delivered %d times", id, got[id])
		}
	}
	if got[before.MessageID] != 0 {
		t.Fatal("the message from before the restart was delivered again")
	}
	_ = st2
}

// TestClientImportsNoServerPackage keeps the SDK free of server code.
func TestClientImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/switchboard-ws/switchboard/client").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/switchboard-ws/switchboard/") && dep != "github.com/switchboard-ws/switchboard/client" {
			t.Errorf("the client imports %s", dep)
		}
	}
}

// TestHeartbeatAfterExpiryResumes: a connection the server let expire (its
// rooms left, the room told) is noticed at the next heartbeat; the client
// reconnects and rejoins, and gets the room's messages again.
func TestHeartbeatAfterExpiryResumes(t *testing.T) {
	st := startDev(t, t.TempDir(), "127.0.0.1:0")
	ctx := context.Background()
	alice := dial(t, st, "alice", "acme")
	bob := dial(t, st, "bob", "acme")
	room, _ := alice.CreateRoom(ctx, client.CreateRoomInput{Name: "Lobby"})
	alice.JoinRoom(ctx, room.RoomID)
	bob.JoinRoom(ctx, room.RoomID)

	// Bob's laptop slept: his connection expired and the expiry was processed.
	conns, err := st.Store.UserConnections(ctx, "acme", "bob")
	if err != nil || len(conns) != 1 {
		t.Fatalf("bob's connections %+v %v", conns, err)
	}
	if err := st.Store.TouchConnection(ctx, conns[0].ConnectionID, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	next(t, alice, "user_left", func(ev client.Event) bool { return ev.Type == "user_left" })

	if err := bob.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "resumed", func(ev client.Event) bool { return ev.Type == client.EventResumed })
	m, err := alice.SendMessage(ctx, client.SendMessageInput{RoomID: room.RoomID, Content: "welcome back"})
	if err != nil {
		t.Fatal(err)
	}
	next(t, bob, "the message after resuming", func(ev client.Event) bool { return ev.Message != nil && ev.Message.MessageID == m.MessageID })
}
