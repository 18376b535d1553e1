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

// TestClientJSUnderACommonJSParent: client.js is an ES module whatever
// package.json a directory above the checkout holds. The UI's files and
// client.js's unit tests are copied under a directory whose package.json
// says "type": "commonjs" (a checkout inside a Node.js project) and the
// tests run there: without chat/web/package.json, node reads client.js as
// CommonJS and fails on its export.
func TestClientJSUnderACommonJSParent(t *testing.T) {
	t.Parallel()
	if os.Getenv("SWITCHBOARD_SKIP_BROWSER") == "1" {
		t.Skip("SWITCHBOARD_SKIP_BROWSER=1")
	}
	node := testutil.RequireNode(t)
	outer := t.TempDir()
	if err := os.WriteFile(filepath.Join(outer, "package.json"), []byte(`{"name": "outer", "type": "commonjs"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(outer, "checkout", "chat", "web")
	if err := os.MkdirAll(filepath.Join(web, "e2e"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "client.js", "app.js", filepath.Join("e2e", "client.test.mjs")} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) && f == "package.json" {
			continue // the test then shows what happens without it
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := os.WriteFile(filepath.Join(web, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", filepath.Join("e2e", "client.test.mjs"))
	cmd.Dir = web
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test e2e/client.test.mjs under a CommonJS package.json: %v\n%s", err, out)
	}
	// app.js too parses as a module there (node --check reads the type
	// from the nearest package.json).
	cmd = exec.CommandContext(ctx, node, "--check", "app.js")
	cmd.Dir = web
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --check app.js under a CommonJS package.json: %v\n%s", err, out)
	}
}
