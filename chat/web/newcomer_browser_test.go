package web_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/devstack"
)

// TestBrowserFirstTenMinutes drives the UI in Chromium through what a
// newcomer meets (chat/web/e2e/newcomer.spec.mjs): the sign-in proposes
// the workspace `switchboard token` uses, so a room made from the CLI
// (here: with a token of the default tenant, as the README does) is
// there; rooms of the same name are told apart; URLs are links and
// nothing else is; the composer counts the bytes left near the 4 KB limit;
// a server restart adds no "left / joined" lines; signing in again
// restores the rooms one had joined; at 390 px the online list is one tap
// away. Screenshots at 1280 and 390 px go to test-output/browser-newcomer/.
func TestBrowserFirstTenMinutes(t *testing.T) {
	t.Parallel()
	browserSpec(t, "newcomer.spec.mjs", "browser-newcomer", 3*time.Minute, func(stack *devstack.Stack) {
		// The README's CLI steps: a token of the default tenant, createRoom.
		createRoomAs(t, stack, "carol", "Carol", auth.DefaultTenantID, "Lobby")
	})
}

// createRoomAs creates a public room over the WebSocket API with a dev
// token, as `switchboard token` and `switchboard connect` would.
func createRoomAs(t *testing.T, stack *devstack.Stack, userID, name, tenant, room string) {
	t.Helper()
	tok, err := stack.Token(userID, name, tenant, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(stack.URL()+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteJSON(map[string]any{"action": "createRoom", "data": map[string]any{"name": room}, "requestId": "1"})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var r struct {
			Type      string `json:"type"`
			RequestID string `json:"requestId"`
		}
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("createRoom: %v", err)
		}
		json.Unmarshal(p, &r)
		if r.RequestID == "1" {
			if r.Type != "success" {
				t.Fatalf("createRoom: %s", p)
			}
			return
		}
	}
}
