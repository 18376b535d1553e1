package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestNoGhostsAfterKill: a user connected to `switchboard dev` when it is
// killed (kill -9: no $disconnect runs) is not listed online by the next
// process on the same data directory, neither for the tenant nor in the
// room they had joined (issue 12: they were, for the connection TTL).
func TestNoGhostsAfterKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})
	data := filepath.Join(dir, "data")
	token := func(user, name string) string {
		t.Helper()
		out, err := exec.Command(bin, "token", "--data", data, "--user", user, "--name", name, "--tenant", "acme").Output()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	url, first, _ := startDevProcess(t, bin, data) // makes the dev secret
	alice, bob := token("alice", "Alice"), token("bob", "Bob")
	a := dialDev(t, url, alice)
	var room struct {
		RoomID string `json:"roomId"`
	}
	request(t, a, "createRoom", map[string]any{"name": "Lobby"}, &room)
	request(t, a, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	if names := onlineUsers(t, a, nil); !slices.Equal(names, []string{"alice"}) {
		t.Fatalf("online before the kill: %v, want [alice]", names)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: nothing runs
		t.Fatal(err)
	}
	first.Wait()
	a.Close()

	url, _, _ = startDevProcess(t, bin, data)
	b := dialDev(t, url, bob)
	if names := onlineUsers(t, b, nil); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("online after the restart: %v, want [bob] (alice's connection died with the killed process)", names)
	}
	request(t, b, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	if names := onlineUsers(t, b, &room.RoomID); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("in the room after the restart: %v, want [bob]", names)
	}
}

// onlineUsers asks getOnlineUsers (of a room, or of the tenant) and returns
// the user ids.
func onlineUsers(t *testing.T, c *websocket.Conn, roomID *string) []string {
	t.Helper()
	data := map[string]any{}
	if roomID != nil {
		data["roomId"] = *roomID
	}
	var out struct {
		Users []struct {
			UserID string `json:"userId"`
		} `json:"users"`
	}
	request(t, c, "getOnlineUsers", data, &out)
	var ids []string
	for _, u := range out.Users {
		ids = append(ids, u.UserID)
	}
	return ids
}

// startDevProcess starts `switchboard dev` and returns its WebSocket URL,
// the process (the test kills it) and its log output.
func startDevProcess(t *testing.T, bin, data string) (string, *exec.Cmd, *testutil.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--data", data)
	url, logs := runDev(t, cmd, data)
	return url, cmd, logs
}

// TestNoGhostsAfterClusterRestart: a clustered node on PostgreSQL is
// killed and the cluster starts again with a new node (the whole cluster
// restarted: no live node ever heard the dead one beat). The new node
// finds the dead node's prefix in the store's connection ids, judges it
// like a node that died while it watched, and removes its connections:
// the user of the killed node leaves the online list within seconds, not
// after the connection TTL (10 minutes).
func TestNoGhostsAfterClusterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	pgURL := testutil.Postgres(t)
	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})
	data := filepath.Join(dir, "data")
	start := func() (string, *exec.Cmd, *testutil.Buffer) {
		t.Helper()
		for attempt := 1; ; attempt++ {
			cmd := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--data", data, "--store", "postgres", "--cluster-listen", freeRoute(t))
			url, logs, err := launchDev(cmd, data, "SWITCHBOARD_POSTGRES_URL="+pgURL, "SWITCHBOARD_CLUSTER_SECRET=restart-secret")
			if err == nil {
				t.Cleanup(func() {
					cmd.Process.Kill()
					cmd.Wait()
					if t.Failed() {
						t.Logf("node:\n%s", logs.String())
					}
				})
				return url, cmd, logs
			}
			if attempt == 3 {
				t.Fatal(err)
			}
		}
	}
	token := func(user string) string {
		t.Helper()
		out, err := exec.Command(bin, "token", "--data", data, "--user", user, "--name", user, "--tenant", "acme").Output()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	url, first, _ := start()
	a := dialDev(t, url, token("alice"))
	var room struct {
		RoomID string `json:"roomId"`
	}
	request(t, a, "createRoom", map[string]any{"name": "Lobby"}, &room)
	request(t, a, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	if err := first.Process.Kill(); err != nil { // SIGKILL: nothing runs
		t.Fatal(err)
	}
	first.Wait()
	a.Close()

	url, _, logs := start()
	b := dialDev(t, url, token("bob"))
	request(t, b, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	testutil.Eventually(t, 60*time.Second, func() bool {
		return slices.Equal(onlineUsers(t, b, &room.RoomID), []string{"bob"})
	}, "alice, whose node was killed before the cluster restarted, leaves the room")
	if names := onlineUsers(t, b, nil); !slices.Equal(names, []string{"bob"}) {
		t.Errorf("online in the tenant: %v, want [bob]", names)
	}
	if !strings.Contains(logs.String(), "suspected from the store") {
		t.Errorf("no log line about the suspected node:\n%s", logs.String())
	}
}
