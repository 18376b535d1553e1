package web_test

import (
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
)

// TestBrowserListsNotLive drives the UI in Chromium
// (chat/web/e2e/lists.spec.mjs) on a stack that announces joins and
// leaves in rooms of at most 2 connections and presence in workspaces of
// at most 3: the open room's member count and the online list pick up
// people who join, leave, connect and disconnect above the thresholds,
// without switching rooms, refreshed on a short timer (the spec sets the
// UI's refresh period, window.switchboardListRefreshMs, to 800 ms) and
// saying so; a room that crosses the threshold while open is noticed at
// its next message, a workspace at its next room_update; a hidden tab
// refreshes nothing and catches up when shown. Screenshots go to
// test-output/browser-lists/.
func TestBrowserListsNotLive(t *testing.T) {
	t.Parallel()
	cfg := chat.Config{AnnounceMaxMembers: 2, PresenceMaxConnections: 3}
	browserSpecChat(t, "lists.spec.mjs", "browser-lists", 2*time.Minute, cfg, nil)
}
