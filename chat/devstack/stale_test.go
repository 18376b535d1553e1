package devstack_test

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/sqlite"
)

// TestPreviousProcessConnectionsCleared: the connections a process had when
// it died without running $disconnect (written here straight into the
// store, as it left them) are gone when the next stack starts on the same
// data directory: nobody is online but who connected since, the rooms
// have no members left over, and the store holds nothing more to expire.
func TestPreviousProcessConnectionsCleared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, err := sqlite.Open(dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(old.CreateRoom(ctx, store.Room{TenantID: "acme", RoomID: "lobby", Name: "Lobby", CreatedBy: "alice", CreatedAt: now}))
	for _, id := range []string{"ghost-1", "ghost-2"} {
		must(old.PutConnection(ctx, store.Connection{ConnectionID: id, TenantID: "acme", UserID: "alice", Username: "Alice",
			ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}))
		_, err := old.JoinRoom(ctx, store.Membership{TenantID: "acme", RoomID: "lobby", ConnectionID: id, UserID: "alice",
			Username: "Alice", JoinedAt: now, ExpiresAt: now.Add(time.Hour)}, 0)
		must(err)
	}
	must(old.Close())

	st, tg := startStack(t, stackOptions{dir: dir})
	bob := tg.Connect(t, "bob", "Bob", "acme")
	var online struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	bob.OK("getOnlineUsers", map[string]any{}, &online)
	var ids []string
	for _, u := range online.Users {
		ids = append(ids, u.UserID)
	}
	if !slices.Equal(ids, []string{"bob"}) {
		t.Errorf("online after start: %v, want [bob]", ids)
	}
	members, err := st.Store.RoomMembers(ctx, "acme", "lobby")
	must(err)
	if members.Len() != 0 {
		t.Errorf("members of the lobby after start: %+v, want none", members.Slice())
	}
	// Nothing of the previous process is left for the sweeper.
	if n, err := st.Store.(store.Sweeper).DeleteExpired(ctx, time.Now().Add(time.Minute), 0); err != nil || len(n) != 0 {
		t.Errorf("expired items left after start: %d, %v; want none", len(n), err)
	}
}
