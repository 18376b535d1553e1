package devstack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestAnnounceThreshold: user_joined and user_left reach a room while it
// holds at most chat.Config.AnnounceMaxMembers connections (after the
// join, after the leave), and not beyond; getOnlineUsers lists everyone
// either way.
func TestAnnounceThreshold(t *testing.T) {
	t.Parallel()
	_, tg := startStack(t, stackOptions{announceMax: 3})
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	cs := map[string]*chattest.Client{}
	for _, u := range users {
		cs[u] = tg.Connect(t, u, strings.ToUpper(u[:1])+u[1:], "acme")
	}
	var room chattest.Room
	cs["alice"].OK("createRoom", map[string]any{"name": "Threshold"}, &room)
	about := func(kind, user string) func(chattest.Frame) bool {
		return func(f chattest.Frame) bool {
			return f.Type == kind && f.RoomID == room.RoomID && strings.Contains(string(f.Data), `"userId":"`+user+`"`)
		}
	}
	for _, u := range users {
		cs[u].OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	}
	// Joins: carol made three (told), dave four and erin five (not told).
	cs["alice"].Next(about("user_joined", "carol"), "user_joined for carol, the third")
	cs["bob"].Next(about("user_joined", "carol"), "user_joined for carol, the third")
	for _, u := range []string{"dave", "erin"} {
		for _, other := range []string{"alice", "bob", "carol"} {
			cs[other].Quiet(about("user_joined", u), "user_joined for "+u+" in a room of more than 3", cs[u])
		}
	}
	// Presence stays right above the threshold.
	var online struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	cs["alice"].OK("getOnlineUsers", map[string]any{"roomId": room.RoomID}, &online)
	if len(online.Users) != len(users) {
		t.Errorf("getOnlineUsers of the room lists %d users, want %d: %+v", len(online.Users), len(users), online.Users)
	}
	// Leaves: erin's leaves four (not told), dave's disconnect three (told).
	cs["erin"].OK("leaveRoom", map[string]any{"roomId": room.RoomID}, nil)
	cs["alice"].Quiet(about("user_left", "erin"), "user_left for erin leaving a room of 4", cs["erin"])
	cs["dave"].Close()
	cs["alice"].Next(about("user_left", "dave"), "user_left for dave, leaving three")
	cs["carol"].Next(about("user_left", "dave"), "user_left for dave, leaving three")
}

// TestSweptTabsAnnounceOnce: a user's two tabs in a room expire and are
// swept together: the room hears user_left once, and, every hold of the
// room released, user_joined when the user comes back.
func TestSweptTabsAnnounceOnce(t *testing.T) {
	t.Parallel()
	st, tg := startStack(t, stackOptions{})
	alice1 := tg.Connect(t, "alice", "Alice", "acme")
	alice2 := tg.Connect(t, "alice", "Alice", "acme")
	bob := tg.Connect(t, "bob", "Bob", "acme")
	var room chattest.Room
	bob.OK("createRoom", map[string]any{"name": "Sweep"}, &room)
	for _, c := range []*chattest.Client{bob, alice1, alice2} {
		c.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	}
	about := func(kind string) func(chattest.Frame) bool {
		return func(f chattest.Frame) bool {
			return f.Type == kind && f.RoomID == room.RoomID && strings.Contains(string(f.Data), `"userId":"alice"`)
		}
	}
	bob.Next(about("user_joined"), "user_joined for alice")
	// Alice's tabs miss their heartbeats; bob's does not.
	tg.Clock.Add(6 * time.Minute)
	bob.OK("heartbeat", nil, nil)
	tg.Clock.Add(5 * time.Minute)
	if _, err := st.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	bob.Next(about("user_left"), "user_left for alice")
	bob.Quiet(about("user_left"), "a second user_left for alice")
	alice3 := tg.Connect(t, "alice", "Alice", "acme")
	alice3.OK("joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	bob.Next(about("user_joined"), "user_joined for alice, back")
}

// TestPresenceThreshold: presence (online, offline) reaches a tenant while
// it holds at most chat.Config.PresenceMaxConnections connections (after
// the connect, after the disconnect), and not beyond; getOnlineUsers
// lists everyone either way.
func TestPresenceThreshold(t *testing.T) {
	t.Parallel()
	_, tg := startStack(t, stackOptions{presenceMax: 3})
	about := func(user, status string) func(chattest.Frame) bool {
		return func(f chattest.Frame) bool {
			return f.Type == "presence" && strings.Contains(string(f.Data), `"userId":"`+user+`"`) &&
				strings.Contains(string(f.Data), `"status":"`+status+`"`)
		}
	}
	alice := tg.Connect(t, "alice", "Alice", "acme")
	bob := tg.Connect(t, "bob", "Bob", "acme")
	alice.Next(about("bob", "online"), "bob online, the second connection")
	carol := tg.Connect(t, "carol", "Carol", "acme")
	alice.Next(about("carol", "online"), "carol online, the third connection")
	bob.Next(about("carol", "online"), "carol online, the third connection")
	// Another tenant's connections count for theirs, not this one.
	tg.Connect(t, "zed", "Zed", "other")
	dave := tg.Connect(t, "dave", "Dave", "acme") // the fourth: not told
	erin := tg.Connect(t, "erin", "Erin", "acme") // the fifth
	for _, c := range []*chattest.Client{alice, bob, carol} {
		c.Quiet(about("dave", "online"), "dave online in a tenant of 4 connections", dave)
		c.Quiet(about("erin", "online"), "erin online in a tenant of 5 connections", erin)
	}
	onlineUsers := func() int {
		var online struct {
			Users []struct {
				UserID string `json:"userId"`
			} `json:"users"`
		}
		alice.OK("getOnlineUsers", map[string]any{}, &online)
		return len(online.Users)
	}
	if n := onlineUsers(); n != 5 {
		t.Errorf("getOnlineUsers lists %d users, want 5", n)
	}
	// Offline: erin's leaves four (not told), dave's three (told).
	erin.Close()
	testutil.Eventually(t, 10*time.Second, func() bool { return onlineUsers() == 4 }, "erin's disconnect is not done")
	alice.Quiet(about("erin", "offline"), "erin offline, leaving 4 connections", dave)
	dave.Close()
	alice.Next(about("dave", "offline"), "dave offline, leaving three")
	carol.Next(about("dave", "offline"), "dave offline, leaving three")
}
