package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/chat/devstack"
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

// TestClientImportsNoServerPackage keeps the SDK free of server code: it
// may import the wire protocol (chat/protocol, standard library only).
func TestClientImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/switchboard-ws/switchboard/chat/client").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/switchboard-ws/switchboard/") && dep != "github.com/switchboard-ws/switchboard/chat/client" &&
			dep != "github.com/switchboard-ws/switchboard/chat/protocol" {
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

// TestCloseWhileResuming closes clients while they rejoin their rooms after
// the server dropped them: Close returns, Events ends with the closed state,
// and nothing the client started is left to send on Events afterwards (which
// used to panic: "send on closed channel").
func TestCloseWhileResuming(t *testing.T) {
	t.Parallel()
	st := startDev(t, t.TempDir(), "127.0.0.1:0")
	ctx := context.Background()
	owner := dial(t, st, "owner", "acme")
	var rooms []string
	for i := 0; i < 20; i++ {
		r, err := owner.CreateRoom(ctx, client.CreateRoomInput{Name: fmt.Sprintf("room %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, r.RoomID)
	}
	interrupted := 0
	for round := 0; round < 5; round++ {
		user := fmt.Sprintf("user%d", round)
		c := dial(t, st, user, "acme")
		for _, id := range rooms {
			if _, err := c.JoinRoom(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		// The server drops the connection (DeleteConnection); the client
		// reconnects and starts rejoining its 20 rooms.
		conns, err := st.Store.UserConnections(ctx, "acme", user)
		if err != nil || len(conns) != 1 {
			t.Fatalf("%s's connections %+v %v", user, conns, err)
		}
		if err := st.Gateway.Disconnect(ctx, conns[0].ConnectionID); err != nil {
			t.Fatal(err)
		}
		next(t, c, "reconnecting", func(ev client.Event) bool { return ev.State == client.StateReconnecting })
		next(t, c, "connected again", func(ev client.Event) bool { return ev.State == client.StateConnected })
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		// Events is closed by the time Close returns: what is left in
		// it drains at once, and its last event is the closed state.
		var last client.Event
		resumed := false
		for ev := range c.Events() {
			last = ev
			resumed = resumed || ev.Type == client.EventResumed
		}
		if last.State != client.StateClosed {
			t.Fatalf("round %d: the last event is %+v, want the closed state", round, last)
		}
		if c.State() != client.StateClosed {
			t.Fatalf("round %d: state %s after Close", round, c.State())
		}
		if !resumed {
			interrupted++
		}
	}
	// A resume cut short by Close does not claim to have resumed.
	if interrupted == 0 {
		t.Fatal("every round resumed before Close: no round closed a client while it was resuming")
	}
	t.Logf("%d of 5 rounds closed the client while it was resuming", interrupted)
}

// clientGoroutines lists the stacks of the goroutines running client code.
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "switchboard/client.(*Client)") || strings.Contains(g, "switchboard/client.Dial") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoClientGoroutines polls until no goroutine runs client code, and
// fails showing those left after 5s.
func waitNoClientGoroutines(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := clientGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d client goroutines left:\n%s", what, len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoGoroutineOutlivesTheClient: once a client has ended — the server
// dropped it and it does not reconnect, or it was closed while reconnecting
// to a server that is gone — none of its goroutines (reader, heartbeats,
// resume) is left running. Not parallel: it looks at every goroutine.
func TestNoGoroutineOutlivesTheClient(t *testing.T) {
	dir := t.TempDir()
	st := startDev(t, dir, "127.0.0.1:0")
	ctx := context.Background()
	waitNoClientGoroutines(t, "before the test (earlier tests' clients)")

	// The server drops a client that does not reconnect: Events closes and
	// its heartbeat goroutine stops too.
	tok, err := st.Token("carol", "Carol", "acme", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := client.Dial(ctx, client.Options{URL: st.URL(), Token: tok, NoReconnect: true, HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()
	conns, err := st.Store.UserConnections(ctx, "acme", "carol")
	if err != nil || len(conns) != 1 {
		t.Fatalf("carol's connections %+v %v", conns, err)
	}
	if err := st.Gateway.Disconnect(ctx, conns[0].ConnectionID); err != nil {
		t.Fatal(err)
	}
	for range carol.Events() {
	}
	if carol.State() != client.StateClosed {
		t.Fatalf("state %s after the server dropped a client without reconnect", carol.State())
	}
	if err := carol.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoClientGoroutines(t, "after the server dropped a client without reconnect")

	// Closed while reconnecting to a server that is gone.
	dave := dial(t, st, "dave", "acme")
	st.Close(ctx)
	next(t, dave, "reconnecting", func(ev client.Event) bool { return ev.State == client.StateReconnecting })
	if err := dave.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoClientGoroutines(t, "after Close while reconnecting")
	if err := dave.Heartbeat(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("a request after Close: %v, want ErrClosed", err)
	}
}
