package devstack_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestConnectionsPerUserLimit: a user who already has
// chat.DefaultMaxConnectionsPerUser connections is refused the next
// handshake with 429; other users are not; once one of the user's
// connections closes, the user may connect again.
func TestConnectionsPerUserLimit(t *testing.T) {
	t.Parallel()
	_, tg := startStack(t, stackOptions{})
	token := tg.MintToken(t, "alice", "Alice", "acme")
	conns := make([]*chattest.Client, chat.DefaultMaxConnectionsPerUser)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			conns[i] = tg.ConnectToken(t, "alice", token)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got := tg.DialStatus("token=" + token); got != http.StatusTooManyRequests {
		t.Fatalf("connection %d of one user: HTTP %d, want 429", len(conns)+1, got)
	}
	// Another user of the tenant is not limited by alice's connections,
	// and sees her online with all of them.
	bob := tg.Connect(t, "bob", "Bob", "acme")
	var online struct {
		Users []struct {
			UserID      string `json:"userId"`
			Connections int    `json:"connections"`
		} `json:"users"`
	}
	bob.OK("getOnlineUsers", map[string]any{}, &online)
	aliceConns := 0
	for _, u := range online.Users {
		if u.UserID == "alice" {
			aliceConns = u.Connections
		}
	}
	if aliceConns != len(conns) {
		t.Errorf("alice online with %d connections, want %d (the refused one is not stored)", aliceConns, len(conns))
	}
	conns[0].Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return tg.DialStatus("token="+token) == http.StatusSwitchingProtocols
	}, "alice connecting again after closing one of her connections")
}
