package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestReadmeQuickstart runs the README's Quickstart as written, in a fresh
// directory: `switchboard dev` (on a free port instead of 8080), then
// `switchboard token --user alice --name Alice` with no --data, then the
// README's createRoom frame. The room must be visible to a user signed in
// through the browser UI's sign-in (POST /dev-token) with the workspace
// the sign-in page proposes by default (read from chat/web/app.js).
func TestReadmeQuickstart(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const devLine, tokenLine = "go run ./cmd/switchboard dev ", "go run ./cmd/switchboard token --user alice --name Alice "
	for _, l := range []string{devLine, tokenLine} {
		if !bytes.Contains(readme, []byte(l)) {
			t.Fatalf("README.md no longer has %q: update this test with it", l)
		}
	}
	frame := regexp.MustCompile("`(\\{\"action\":\"createRoom\"[^`]*)`").FindSubmatch(readme)
	if frame == nil {
		t.Fatal("README.md no longer shows a createRoom frame")
	}
	app, err := os.ReadFile(filepath.Join("..", "..", "chat", "web", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`store\.get\('sb\.lastTenant', localStorage\) \|\| '([^']+)'`).FindSubmatch(app)
	if m == nil {
		t.Fatal("cannot find the sign-in's default workspace in chat/web/app.js")
	}
	uiTenant := string(m[1])

	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})
	work := filepath.Join(dir, "work") // the user's current directory
	os.Mkdir(work, 0o755)
	dev := exec.Command(bin, "dev", "--addr", "127.0.0.1:0")
	dev.Dir = work
	url, logs := runDev(t, dev, filepath.Join(work, "switchboard-data"))
	tokenCmd := exec.Command(bin, "token", "--user", "alice", "--name", "Alice")
	tokenCmd.Dir = work
	out, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("token as the README runs it: %v", err)
	}
	c := dialDev(t, url, strings.TrimSpace(string(out)))
	c.WriteMessage(websocket.TextMessage, frame[1])
	var reply struct {
		Type string `json:"type"`
	}
	if err := c.ReadJSON(&reply); err != nil || reply.Type != "success" {
		t.Fatalf("the README's createRoom: %+v %v\n%s", reply, err, logs.String())
	}

	// Bob signs in through the UI's endpoint with the UI's default workspace.
	host := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/dev")
	body, _ := json.Marshal(map[string]string{"userId": "bob", "username": "Bob", "tenantId": uiTenant})
	resp, err := http.Post("http://"+host+"/dev-token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatalf("POST /dev-token: %s", resp.Status)
	}
	b := dialDev(t, url, tok.Token)
	var rooms struct {
		Rooms []struct {
			Name string `json:"name"`
		} `json:"rooms"`
	}
	request(t, b, "listRooms", map[string]any{}, &rooms)
	for _, r := range rooms.Rooms {
		if r.Name == "Lobby" {
			return
		}
	}
	t.Fatalf("a user of the UI's default workspace %q does not see the README's room: %+v", uiTenant, rooms.Rooms)
}
