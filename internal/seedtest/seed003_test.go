package seedtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestSeed003 runs seed 003 ("Serverless Websocket with AWS: Chat
// Application", CDK + TypeScript with SDK v3 from the Lambda runtime): the
// connect and disconnect functions keep ChatConnections, the message
// function sends the message's JSON to every stored connection through a
// client whose endpoint is https://{domainName}/{stage}. First with Go
// WebSocket clients, then with the post's index.html in headless Chromium.
func TestSeed003(t *testing.T) {
	t.Parallel()
	requireNode(t, ".", sdkDir())
	dir := testdata("seed003")

	// `npm run build` is tsc with cdk init's tsconfig (CommonJS, ES2020):
	// it writes connect.js, disconnect.js and message.js beside the .ts
	// files, and Code.fromAsset deploys that folder; @aws-sdk/* come from
	// the runtime. esbuild strips the types the same way, file by file.
	build := t.TempDir()
	esbuild(t, dir, "lambda/connect.ts", "lambda/disconnect.ts", "lambda/message.ts",
		"--platform=node", "--target=es2020", "--format=cjs", "--outdir="+build)

	tb := createTable(t, "ChatConnections", "connectionId")
	gw := startServe(t, serveOptions{
		Config: filepath.Join(dir, "api.yaml"),
		Dir:    dir,
		Env:    []string{"BUILD_DIR=" + build},
	})

	t.Run("clients", func(t *testing.T) {
		a := dial(t, "A (wss)", gw.WSS(), gw.Roots)
		b := dial(t, "B (wss)", gw.WSS(), gw.Roots)
		c := dial(t, "C (ws)", gw.WS(), nil)
		all := tb.waitCount(t, "after three connects", 3)
		// "In the data we will also store a timestamp to see when users
		// connected": new Date().toISOString().
		for _, it := range tb.items(t) {
			ts, ok := it["timestamp"].(*types.AttributeValueMemberS)
			if !ok {
				t.Fatalf("item %v has no string timestamp", it)
			}
			if at, err := time.Parse(time.RFC3339Nano, ts.Value); err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Minute {
				t.Errorf("timestamp %q is not the ISO time of the connection (%v)", ts.Value, err)
			}
		}

		// {"message": ...} goes to $default (no action): everyone, the
		// sender included, receives the message's JSON.
		a.send(t, `{"message":"hello from A"}`)
		for _, to := range []*wsClient{a, b, c} {
			to.expect(t, "A's message", func(m string) bool { return m == `{"message":"hello from A"}` })
		}
		c.send(t, `{"message":"hello from C, without TLS"}`)
		for _, to := range []*wsClient{a, b, c} {
			to.expect(t, "C's message", func(m string) bool { return m == `{"message":"hello from C, without TLS"}` })
		}

		// A message that is not JSON makes the function throw
		// (JSON.parse(body!)): the sender gets API Gateway's error frame.
		b.send(t, "not JSON")
		b.expect(t, "the Internal server error frame", func(m string) bool {
			var f struct{ Message, ConnectionID, RequestID string }
			return json.Unmarshal([]byte(m), &f) == nil && f.Message == "Internal server error" && f.ConnectionID != "" && f.RequestID != ""
		})

		c.close(t)
		left := tb.waitCount(t, "after C closed", 2)
		for _, id := range left {
			if !slices.Contains(all, id) {
				t.Errorf("after C closed the table holds %q, which was not there before (%q)", id, all)
			}
		}
		b.send(t, `{"message":"C left"}`)
		for _, to := range []*wsClient{a, b} {
			to.expect(t, "B's message after C left", func(m string) bool { return m == `{"message":"C left"}` })
		}
		a.close(t)
		b.close(t)
		tb.waitCount(t, "after everyone closed", 0)
	})

	t.Run("page", func(t *testing.T) {
		runPage(t, gw, tb)
	})
}

// runPage runs testdata/seed003-page.mjs on a copy of index.html whose
// WebSocket URL is the gateway's wss:// URL.
func runPage(t *testing.T, gw *server, tb *table) {
	if os.Getenv("SWITCHBOARD_SKIP_BROWSER") == "1" {
		t.Skip("SWITCHBOARD_SKIP_BROWSER=1")
	}
	browser := os.Getenv("SWITCHBOARD_CHROMIUM")
	if browser == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			browser = p
		} else {
			browser = "/usr/bin/chromium"
		}
	}
	if _, err := os.Stat(browser); err != nil {
		t.Fatalf("Chromium not found at %s: install it with scripts/browser-test-setup, or set SWITCHBOARD_SKIP_BROWSER=1 to skip this test", browser)
	}
	if _, err := os.Stat(testdata("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not in %s: run scripts/node-deps", testdata("node_modules"))
	}

	// "Make sure to replace the right string in the index.html file."
	html, err := os.ReadFile(testdata("seed003", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "WEBSOCKET API GATEWAY URL HERE"
	if strings.Count(string(html), placeholder) != 1 {
		t.Fatalf("index.html should hold %q once", placeholder)
	}
	page := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(page, []byte(strings.Replace(string(html), placeholder, gw.WSS(), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(repoRoot, "test-output", "seed003")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", testdata("seed003-page.mjs"), (&url.URL{Scheme: "file", Path: page}).String(), gw.leafSPKI(t), outDir)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_CHROMIUM="+browser)
	cmd.WaitDelay = 10 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lineLogger{t: t, prefix: "page: "}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	waited := false
	defer func() { // on t.Fatal
		if !waited {
			cancel()
			cmd.Wait()
			stderr.flush()
		}
	}()
	passed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		switch line := strings.TrimSpace(sc.Text()); line {
		case "CHECK connected":
			tb.waitCount(t, "with both pages connected", 2)
			fmt.Fprintln(stdin, "ok")
		case "CHECK stopped":
			tb.waitCount(t, "after one page pressed Stop", 1)
			fmt.Fprintln(stdin, "ok")
		case "E2E PASSED":
			passed = true
		default:
			t.Logf("page: %s", line)
		}
	}
	err = cmd.Wait()
	waited = true
	stderr.flush()
	if ctx.Err() != nil {
		t.Fatalf("the page test did not finish within 2 minutes")
	}
	if err != nil || !passed {
		t.Fatalf("the page test failed (%v): see the page lines above and the screenshots in %s", err, outDir)
	}
	// Closing the browser closed the last page's connection.
	tb.waitCount(t, "after the browser closed", 0)
}
