package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestDevSurvivesRestart runs the real binary: `switchboard token`, then
// `switchboard dev`, chats, stops it with SIGTERM, starts it again on the
// same data directory, and finds every acknowledged message.
func TestDevSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	bin := testutil.GoBinary(t, testutil.Build{Pkg: "."})
	data := filepath.Join(dir, "data")
	url, stop := startDev(t, bin, data) // makes the dev secret the token is signed with
	out, err := exec.Command(bin, "token", "--data", data, "--user", "alice", "--name", "Alice", "--tenant", "acme").Output()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	c := dialDev(t, url, token)
	var room struct {
		RoomID string `json:"roomId"`
	}
	request(t, c, "createRoom", map[string]any{"name": "Lobby"}, &room)
	request(t, c, "joinRoom", map[string]any{"roomId": room.RoomID}, nil)
	var sent []string
	for i := 0; i < 5; i++ {
		var m struct {
			MessageID string `json:"messageId"`
		}
		request(t, c, "sendMessage", map[string]any{"content": fmt.Sprintf("message %d", i)}, &m)
		sent = append(sent, m.MessageID)
	}
	stop(c)

	url, stop = startDev(t, bin, data)
	c = dialDev(t, url, token)
	var hist struct {
		Messages []struct {
			MessageID string `json:"messageId"`
			Content   string `json:"content"`
		} `json:"messages"`
	}
	request(t, c, "getRoomHistory", map[string]any{"roomId": room.RoomID}, &hist)
	if len(hist.Messages) != len(sent) {
		t.Fatalf("%d messages after restart, want %d", len(hist.Messages), len(sent))
	}
	for i, m := range hist.Messages {
		if m.MessageID != sent[len(sent)-1-i] || m.Content != fmt.Sprintf("message %d", len(sent)-1-i) {
			t.Fatalf("message %d after restart: %+v", i, m)
		}
	}
	stop(c)
}

// startDev starts `switchboard dev` and returns its WebSocket URL and a
// function that stops it with SIGTERM, checking that c is told 1001.
func startDev(t *testing.T, bin, data string) (string, func(*websocket.Conn)) {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--data", data)
	url, stderr := runDev(t, cmd, data)
	return url, func(c *websocket.Conn) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
					cmd.Wait()
					t.Fatalf("after SIGTERM: %v, want close 1001\n%s", err, stderr.String())
				}
				break
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("switchboard dev exited with %v\n%s", err, stderr.String())
		}
	}
}

func dialDev(t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url+"?token="+token, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// request sends an action and waits for its success reply.
func request(t *testing.T, c *websocket.Conn, action string, data, out any) {
	t.Helper()
	id := action + "-" + fmt.Sprint(time.Now().UnixNano())
	b, _ := json.Marshal(map[string]any{"action": action, "data": data, "requestId": id})
	c.WriteMessage(websocket.TextMessage, b)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		var r struct {
			Type      string          `json:"type"`
			RequestID string          `json:"requestId"`
			Data      json.RawMessage `json:"data"`
		}
		json.Unmarshal(p, &r)
		if r.RequestID != id {
			continue
		}
		if r.Type != "success" {
			t.Fatalf("%s: %s", action, p)
		}
		if out != nil {
			json.Unmarshal(r.Data, out)
		}
		return
	}
}

// runDev starts cmd, a `switchboard dev` (perhaps wrapped in a shell) with
// its data directory data, and returns its WebSocket URL, read from its
// banner, and its log; it is killed at the end of the test.
func runDev(t *testing.T, cmd *exec.Cmd, data string) (string, *testutil.Buffer) {
	t.Helper()
	cmd.Env = append(os.Environ(), "SWITCHBOARD_CA_DIR="+filepath.Join(data, "ca")) // not the user's
	stdout, _ := cmd.StdoutPipe()
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`WebSocket:\s+(ws://\S+)\?token=`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-urls:
		return url, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("switchboard dev did not start:\n%s", logs.String())
		return "", nil
	}
}
