package web_test

import (
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
)

// TestBrowserOnlineCountBeyondLimit drives the UI in Chromium
// (chat/web/e2e/onlinecount.spec.mjs) with its getOnlineUsers limit set to
// 2 (window.switchboardListLimit): Zoe, whose name sorts after Amy's and
// Bob's, is beyond the reply's users and within its total, and the
// online list counts her once (3 online, not 4). Screenshots go to
// test-output/browser-onlinecount/.
func TestBrowserOnlineCountBeyondLimit(t *testing.T) {
	t.Parallel()
	browserSpecChat(t, "onlinecount.spec.mjs", "browser-onlinecount", time.Minute, chat.Config{}, nil)
}
