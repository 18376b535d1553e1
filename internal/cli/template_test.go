package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/internal/localca"
)

func needNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
}

// TestTemplateServesTheRoutesThatWork runs a template whose functions are
// one that works, one that throws while its module loads and one that
// exits at start: the broken routes answer with the gateway's Internal
// server error frame, the log names each broken function and what went
// wrong, the working route keeps working, and the resource type serve
// does not run is listed once.
func TestTemplateServesTheRoutesThatWork(t *testing.T) {
	needNode(t)
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	addr, stdout, stderr := startServeOutput(t, "--template", "testdata/badfuncs/template.yaml", "--addr", "127.0.0.1:0", "--no-tls")
	if !strings.Contains(stdout.String(), "Alarm (AWS::CloudWatch::Alarm)") {
		t.Errorf("the alarm is not listed as not run:\n%s", stdout)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(msg string) string {
		t.Helper()
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v\nserve's log:\n%s", msg, err, stderr)
		}
		return string(b)
	}
	if got := ask(`{"action":"good","n":1}`); got != "good: 1" {
		t.Fatalf("good route: %q", got)
	}
	for _, action := range []string{"throws", "exits"} {
		if got := ask(`{"action":"` + action + `"}`); !strings.Contains(got, "Internal server error") {
			t.Errorf("%s: got %q, want the Internal server error frame", action, got)
		}
	}
	if got := ask(`{"action":"good","n":2}`); got != "good: 2" {
		t.Fatalf("good route after the failures: %q", got)
	}
	log := stderr.String()
	for _, want := range []string{"ThrowsFunction", "configuration missing", "ExitsFunction", "Runtime.ExitError"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log does not mention %q:\n%s", want, log)
		}
	}
}

// TestTemplateErrorsNameTheResource breaks the same template in ways found
// before anything is served: each is an error naming the resource (and
// property), and nothing is served.
func TestTemplateErrorsNameTheResource(t *testing.T) {
	needNode(t)
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	orig, err := os.ReadFile("testdata/badfuncs/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		old, new string
		wantAll  []string
	}{
		{"missing CodeUri", "Properties: {CodeUri: good/}", "Properties: {}", []string{"GoodFunction", "CodeUri"}},
		{"code directory missing", "Properties: {CodeUri: good/}", "Properties: {CodeUri: nowhere/}", []string{"GoodFunction", "nowhere"}},
		{"handler file missing", "Properties: {CodeUri: good/}", "Properties: {CodeUri: good/, Handler: app.handler}", []string{"GoodFunction", "app"}},
		{"dependency cycle", "  GoodFunction:\n    Type: AWS::Serverless::Function\n", "  GoodFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: ExitsFunction\n", []string{"ExitsFunction", "GoodFunction"}},
		{"bad intrinsic", "IntegrationUri: !GetAtt ThrowsFunction.Arn", "IntegrationUri: !GetAtt ThrowsFunction.Nope", []string{"ThrowsIntegration", "Nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := string(orig)
			if !strings.Contains(doc, tc.old) {
				t.Fatalf("the template has no %q", tc.old)
			}
			doc = strings.Replace(doc, tc.old, tc.new, 1)
			if tc.name == "dependency cycle" {
				doc = strings.Replace(doc, "  ExitsFunction:\n    Type: AWS::Serverless::Function\n", "  ExitsFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: GoodFunction\n", 1)
			}
			dir := t.TempDir()
			for _, d := range []string{"good", "throws", "exits"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
				b, _ := os.ReadFile(filepath.Join("testdata/badfuncs", d, "index.js"))
				os.WriteFile(filepath.Join(dir, d, "index.js"), b, 0o644)
			}
			path := filepath.Join(dir, "template.yaml")
			os.WriteFile(path, []byte(doc), 0o644)
			code, stdout, stderr := run("serve", "--template", path, "--addr", "127.0.0.1:0")
			if code != 1 || strings.Contains(stdout, "listening") {
				t.Fatalf("exit %d, want 1 before serving\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			t.Logf("%s", stderr)
			for _, want := range tc.wantAll {
				if !strings.Contains(stderr, want) {
					t.Errorf("the error does not name %q: %s", want, stderr)
				}
			}
		})
	}
}
