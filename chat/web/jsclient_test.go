package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestClientJS runs the unit tests of client.js (chat/web/e2e/client.test.mjs:
// requests, timeouts, backoff with full jitter, reconnect, resume without
// duplicates, heartbeats) with node's test runner, against a fake
// WebSocket. It needs node only; without it the test fails, unless
// SWITCHBOARD_SKIP_BROWSER=1.
func TestClientJS(t *testing.T) {
	t.Parallel()
	if os.Getenv("SWITCHBOARD_SKIP_BROWSER") == "1" {
		t.Skip("SWITCHBOARD_SKIP_BROWSER=1")
	}
	node := testutil.RequireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", filepath.Join("e2e", "client.test.mjs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test e2e/client.test.mjs: %v\n%s", err, out)
	}
}
