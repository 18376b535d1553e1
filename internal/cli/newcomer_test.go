package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// Help that was asked for goes to stdout with exit 0, for the program and
// for each command; a usage error still goes to stderr with exit 2.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"-help"}} {
		code, stdout, stderr := run(args...)
		if code != 0 || !strings.Contains(stdout, "Commands:") || !strings.Contains(stdout, "token") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want the usage on stdout and exit 0", args, code, stdout, stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "-h"}, "-user"},
		{[]string{"token", "--help"}, "-tenant"},
		{[]string{"help", "token"}, "-user"},
		{[]string{"post", "--help"}, "-endpoint"},
		{[]string{"connect", "-h"}, "-subprotocol"},
		{[]string{"connect", "ws://127.0.0.1:1/dev", "--help"}, "-subprotocol"},
		{[]string{"serve", "-h"}, "-config"},
		{[]string{"dev", "-h"}, "-data"},
		{[]string{"bench", "-h"}, "fanout"},
		{[]string{"help", "version"}, "version"},
	} {
		code, stdout, stderr := run(tc.args...)
		if code != 0 || !strings.Contains(stdout, tc.want) || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q on stdout and exit 0", tc.args, code, stdout, stderr, tc.want)
		}
	}
	if code, stdout, stderr := run("help", "frobnicate"); code != 2 || stdout != "" || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: %d %q %q", code, stdout, stderr)
	}
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	code, want, _ := run("version")
	if code != 0 || !strings.HasPrefix(want, "switchboard ") {
		t.Fatalf("version: %d %q", code, want)
	}
	for _, flag := range []string{"--version", "-version"} {
		if code, got, stderr := run(flag); code != 0 || got != want || stderr != "" {
			t.Errorf("%s: exit %d, %q, stderr %q; want %q like version", flag, code, got, stderr, want)
		}
	}
}

// A binary built with go build or go install says what it was built from.
func TestVersionFromBuildInfo(t *testing.T) {
	old := readBuildInfo
	defer func() { readBuildInfo = old }()
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-07T00:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, true
	}
	if _, got, _ := run("version"); got != "switchboard v1.2.3 (commit 0123456789ab, 2026-12-07T00:00:00Z, modified, go1.26.0)\n" {
		t.Errorf("go install m@v1.2.3 from a modified checkout: %q", got)
	}
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-07T00:00:00Z"}, {Key: "vcs.modified", Value: "false"},
		}}, true
	}
	if _, got, _ := run("version"); got != "switchboard dev (commit 0123456789ab, 2026-12-07T00:00:00Z, go1.26.0)\n" {
		t.Errorf("go build in a clean checkout: %q", got)
	}
}

// post and connect say which argument is missing, not only the usage.
func TestMissingArgumentsAreNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"post", "--endpoint", "http://127.0.0.1:1/dev", "AAAAAAAAAAAAAAA="}, "missing the message to post"},
		{[]string{"post", "--endpoint", "http://127.0.0.1:1/dev"}, "missing the connection id"},
		{[]string{"post", "AAAAAAAAAAAAAAA=", "hi"}, "missing --endpoint"},
		{[]string{"post", "--endpoint", "http://127.0.0.1:1/dev", "--get", "--delete", "AAAAAAAAAAAAAAA="}, "at most one of --get and --delete"},
		{[]string{"post", "--endpoint", "http://127.0.0.1:1/dev", "AAAAAAAAAAAAAAA=", "hello", "world"}, `unexpected argument "world"`},
		{[]string{"connect"}, "missing the URL"},
		{[]string{"connect", "--token", "x"}, "missing the URL"},
	} {
		code, _, stderr := run(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "Usage:") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q with the usage", tc.args, code, stderr, tc.want)
		}
	}
}

// token on a directory switchboard dev never ran in refuses, names the
// directory and how to point at the right one, and creates nothing.
func TestTokenWithoutDevSecret(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "not-the-data-dir")
	code, stdout, stderr := run("token", "--data", dir, "--user", "alice")
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and no token", code, stdout)
	}
	for _, want := range []string{"no dev secret in " + dir, "--data", "switchboard dev"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("token created %s (%v)", dir, err)
	}
	// An existing directory without the secret: same, and still nothing created.
	empty := t.TempDir()
	if code, _, _ := run("token", "--data", empty, "--user", "alice"); code != 1 {
		t.Fatalf("empty directory: exit %d", code)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("token wrote %v into %s", ents, empty)
	}
}

// connect never prints the token: not in the connected line, not anywhere.
func TestConnectDoesNotPrintTheToken(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`{"hello":true}`))
		c.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	old := stdin
	stdin = strings.NewReader("")
	defer func() { stdin = old }()
	const secret, inURL = "eyJhbGciOiJIUzI1NiJ9.sekrit.sig", "url-sekrit-token"
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/dev?token=" + inURL + "&x=1"
	code, stdout, stderr := run("connect", u, "--token", secret, "--wait", "0")
	if code != 0 || !strings.Contains(stderr, "connected (") || !strings.Contains(stdout, `{"hello":true}`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, s := range []string{secret, inURL, "sekrit"} {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("connect printed the token %q:\n%s%s", s, stderr, stdout)
		}
	}
	if !strings.Contains(stderr, "token=xxxxx") || !strings.Contains(stderr, "x=1") {
		t.Errorf("connected line %q should show the URL with the token redacted", stderr)
	}
	// A URL that is refused is not printed with its token either.
	code, _, stderr = run("connect", "http://h/dev?token="+inURL)
	if code != 1 || strings.Contains(stderr, inURL) {
		t.Errorf("bad scheme: exit %d, stderr %q", code, stderr)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ws://h/dev?token=abc":                         "ws://h/dev?token=xxxxx",
		"wss://u:pw@h/dev?a=1&access_token=abc":        "wss://u:xxxxx@h/dev?a=1&access_token=xxxxx",
		"https://h/x?X-Amz-Signature=abc&X-Amz-Date=1": "https://h/x?X-Amz-Date=1&X-Amz-Signature=xxxxx",
		"ws://h/dev": "ws://h/dev",
		"postgres://u:pw@db:5432/x?sslmode=disable": "postgres://u:xxxxx@db:5432/x?sslmode=disable",
		"ws://h/dev?myToken=abc":                    "ws://h/dev?myToken=xxxxx",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A negative rate other than -1 is refused, naming the flag.
func TestNegativeRateFlagsRefused(t *testing.T) {
	t.Parallel()
	// --fanout-batch 0 is refused after the rates are checked: a dev that
	// took -3 fails on it instead of running.
	for _, args := range [][]string{
		{"dev", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--fanout-batch", "0", "--connect-rate", "-3"},
		{"dev", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--fanout-batch", "0", "--source-connect-rate", "-3"},
	} {
		if code, _, stderr := run(args...); code != 1 || !strings.Contains(stderr, args[len(args)-2]+" -3: want") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestDocumentedConfigErrors runs serve on docs/config.md's invalid
// api.yaml and compares what it prints with the doc's transcript.
func TestDocumentedConfigErrors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml title=\"api.yaml\"\n(.*?)```\n.*?```\n\\$ (switchboard serve --config api.yaml)\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/config.md no longer has the invalid api.yaml and its transcript")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, stdout, stderr := run(strings.Fields(string(m[2]))[1:]...)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if stderr != string(m[3]) {
		t.Errorf("docs/config.md shows\n%s\nthe binary prints\n%s", m[3], stderr)
	}
}
