package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/client"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestFailoverToTheNextURL: with the addresses of several nodes, Dial
// skips one that does not answer, and when the node it is connected to
// goes away the client reconnects to another and works there. (The
// resume across the nodes of a real cluster, after a kill -9, is
// cmd/switchboard's TestNodeKilledClientsResume.)
func TestFailoverToTheNextURL(t *testing.T) {
	t.Parallel()
	// Two nodes with the same dev secret: a token verifies on both.
	dirA, dirB := t.TempDir(), t.TempDir()
	if _, err := auth.LoadOrCreateDevSecret(dirA); err != nil {
		t.Fatal(err)
	}
	secret, err := os.ReadFile(filepath.Join(dirA, auth.DevSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, auth.DevSecretFile), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDev(t, dirA, "127.0.0.1:0")
	b := startDev(t, dirB, "127.0.0.1:0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "ws://" + ln.Addr().String() + "/dev" // nothing answers there
	ln.Close()

	c, err := client.Dial(t.Context(), client.Options{
		URLs: []string{down, a.URL(), b.URL()},
		TokenFunc: func(context.Context) (string, error) {
			return a.Token("alice", "Alice", "acme", time.Hour)
		},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Dial with a dead first address: %v", err)
	}
	defer c.Close()
	if c.URL() != a.URL() {
		t.Fatalf("connected to %s, want %s (the first that answers)", c.URL(), a.URL())
	}
	if _, err := c.CreateRoom(t.Context(), client.CreateRoomInput{Name: "on A"}); err != nil {
		t.Fatal(err)
	}

	// Node A goes away: the client reconnects, to B (the next address).
	a.Close(context.Background())
	testutil.Eventually(t, 20*time.Second, func() bool {
		return c.State() == client.StateConnected && c.URL() == b.URL()
	}, "the client reconnects to node B")
	rooms, err := c.ListRooms(t.Context(), client.ListRoomsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms.Rooms) != 0 {
		t.Errorf("node B (a store of its own here) lists %d rooms: the client is not on B", len(rooms.Rooms))
	}
}
