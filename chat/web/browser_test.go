package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestBrowser drives the UI in Chromium (chat/web/e2e/chat.spec.mjs, with
// playwright-core): two people sign in, chat, type, edit, delete, send HTML,
// scroll back, and live through a server restart. Screenshots go to
// test-output/browser/ at the top of the repository.
//
// It needs chromium, node and web/e2e/node_modules (scripts/browser-test-setup
// installs them) and fails without them, unless SWITCHBOARD_SKIP_BROWSER=1.
func TestBrowser(t *testing.T) {
	t.Parallel()
	browserSpec(t, "chat.spec.mjs", "browser", 4*time.Minute, nil)
}

// browserSpec starts a dev stack and runs the playwright script spec
// against it (runSpec), after setup, when there is one, has prepared the
// stack. It needs what browserDeps checks, and skips with
// SWITCHBOARD_SKIP_BROWSER=1.
func browserSpec(t *testing.T, spec, outName string, limit time.Duration, setup func(*devstack.Stack)) {
	t.Helper()
	browserSpecChat(t, spec, outName, limit, chat.Config{}, setup)
}

// browserSpecChat is browserSpec on stacks whose chat handlers have the
// configuration cfg (zero: the defaults).
func browserSpecChat(t *testing.T, spec, outName string, limit time.Duration, cfg chat.Config, setup func(*devstack.Stack)) {
	t.Helper()
	if os.Getenv("SWITCHBOARD_SKIP_BROWSER") == "1" {
		t.Skip("SWITCHBOARD_SKIP_BROWSER=1")
	}
	browserDeps(t) // before starting anything
	dir := t.TempDir()
	stack := startDevStack(t, dir, "127.0.0.1:0", cfg)
	defer func() {
		if stack != nil {
			stack.Close(context.Background())
		}
	}()
	if setup != nil {
		setup(stack)
	}
	runSpec(t, &stack, dir, cfg, spec, outName, limit)
}

// runSpec runs the playwright script e2e/spec against *stack (serving on
// its address from dir) until it prints E2E PASSED, with screenshots in
// test-output/outName; the script's STOP and START lines close the stack
// and start a new one on the same address, so that it lives through a
// server restart.
func runSpec(t *testing.T, stack **devstack.Stack, dir string, cfg chat.Config, spec, outName string, limit time.Duration) {
	t.Helper()
	addr := (*stack).Addr()
	outDir, err := filepath.Abs(filepath.Join("..", "..", "test-output", outName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Screenshots of an earlier failure would mislead.
	if old, _ := filepath.Glob(filepath.Join(outDir, "failure-*.png")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	browser, node := browserDeps(t)

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", spec), "http://"+addr+"/", outDir)
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
	stderr := &lineLogger{t: t, prefix: "e2e: "}
	cmd.Stderr = stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}

	// The script prints STOP / START and waits for our answer on stdin.
	passed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "STOP":
			t.Logf("e2e: stopping the dev stack")
			if err := (*stack).Close(context.Background()); err != nil {
				t.Errorf("closing the dev stack: %v", err)
			}
			*stack = nil
			fmt.Fprintln(stdin, "stopped")
		case "START":
			t.Logf("e2e: starting a new dev stack on %s", addr)
			*stack = startDevStack(t, dir, addr, cfg)
			fmt.Fprintln(stdin, "started")
		case "E2E PASSED":
			passed = true
		default:
			t.Logf("e2e: %s", line)
		}
	}
	err = cmd.Wait()
	stderr.flush()
	t.Logf("browser test took %v; screenshots in %s", time.Since(start).Round(100*time.Millisecond), outDir)
	if ctx.Err() != nil {
		t.Fatalf("the browser test did not finish within the time limit")
	}
	if err != nil || !passed {
		t.Fatalf("the browser test failed (%v): see the e2e lines above and the screenshots in %s", err, outDir)
	}
}

// browserDeps finds Chromium, node and playwright-core, or fails the test
// saying how to install them (scripts/browser-test-setup); it skips only
// when node is not installed at all.
func browserDeps(t *testing.T) (browser, node string) {
	t.Helper()
	node = testutil.RequireNode(t)
	browser = testutil.RequireChromium(t)
	testutil.RequireNPMPackages(t, "e2e")
	return browser, node
}

func startDevStack(t *testing.T, dir, addr string, cfg chat.Config) *devstack.Stack {
	t.Helper()
	st, err := devstack.New(devstack.Options{
		Chat:    cfg,
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The old listener's port may take a moment to be free again.
	var serveErr error
	if testutil.Poll(5*time.Second, func() bool { serveErr = st.Serve(addr); return serveErr == nil }) {
		return st
	}
	st.Close(context.Background())
	t.Fatalf("serving the dev stack on %s: %v", addr, serveErr)
	return nil
}

// lineLogger sends what is written to it to t.Log, a line at a time.
type lineLogger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err == io.EOF {
			l.buf.WriteString(line) // incomplete: keep it
			return len(p), nil
		}
		l.t.Log(l.prefix + strings.TrimRight(line, "\r\n"))
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log(l.prefix + l.buf.String())
		l.buf.Reset()
	}
}
