package web_test

import (
	"testing"
	"time"
)

// TestBrowserInspector drives the inspector page of a dev stack in
// Chromium (chat/web/e2e/inspector.spec.mjs): a WebSocket client connects
// and is listed with its identity and rooms; its frame, the invocation and
// the reply appear in the stream; the invocation's event JSON opens on
// click, the $connect event with its token redacted; the form posts a
// message the client receives, then disconnects it; a burst of connects
// asks for one listing at a time; after the dev stack restarts, the new
// stack's events show. Screenshots at 1280 and 390 px go to
// test-output/browser-inspector/.
func TestBrowserInspector(t *testing.T) {
	t.Parallel()
	browserSpec(t, "inspector.spec.mjs", "browser-inspector", 2*time.Minute, nil)
}
