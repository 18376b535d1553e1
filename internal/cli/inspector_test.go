package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestServeInspector: serve prints the inspector's URL (no secret in it)
// and serves the page there to this machine; with credentials for the
// management API the inspector is off unless --inspector on; a wrong
// --inspector value is refused before anything starts.
func TestServeInspector(t *testing.T) {
	t.Parallel()
	plain := "stage: live\nrouteSelectionExpression: $request.body.action\n"
	signed := plain + "management:\n  credentials:\n    - accessKeyId: AKIDINSPECT\n      secretAccessKey: s3cr3t-inspect\n"
	for _, tc := range []struct {
		name, yaml, flag string
		served           bool
		banner           string
	}{
		{"default", plain, "", true, "Inspector:       http://ADDR/_inspector/"},
		{"off", plain, "off", false, ""},
		{"credentials", signed, "", false, "Inspector:       off (the management API has credentials"},
		{"credentials, on", signed, "on", true, "Inspector:       http://ADDR/_inspector/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			path := filepath.Join(t.TempDir(), "api.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"--config", path, "--addr", addr, "--watch=false"}
			if tc.flag != "" {
				args = append(args, "--inspector", tc.flag)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr lockedBuffer
			done := make(chan error, 1)
			go func() { done <- runServe(ctx, args, &stdout, &stderr) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			var status int
			testutil.Eventually(t, 10*time.Second, func() bool {
				resp, err := http.Get("http://" + addr + "/_inspector/")
				if err != nil {
					return false
				}
				resp.Body.Close()
				status = resp.StatusCode
				return true
			}, "serve listening")
			if served := status == http.StatusOK; served != tc.served {
				t.Errorf("GET /_inspector/: %d, want served=%v", status, tc.served)
			}
			out := stdout.String()
			if want := strings.ReplaceAll(tc.banner, "ADDR", addr); want != "" && !strings.Contains(out, want) {
				t.Errorf("stdout does not say %q:\n%s", want, out)
			}
			if !tc.served && tc.banner == "" && strings.Contains(out, "_inspector") {
				t.Errorf("stdout names the inspector, which is off:\n%s", out)
			}
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("a secret in the banner:\n%s", out)
			}
		})
	}
	var stderr lockedBuffer
	if err := runServe(context.Background(), []string{"--config", "x.yaml", "--inspector", "maybe"}, &stderr, &stderr); err == nil || !strings.Contains(err.Error(), "--inspector") {
		t.Errorf("--inspector maybe: %v, want an error naming the flag", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevPrintsTheInspector: dev's banner gives the inspector's URL, and
// the page is there.
func TestDevPrintsTheInspector(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev: %v", err)
		}
	}()
	var url string
	testutil.Eventually(t, 20*time.Second, func() bool {
		for _, line := range strings.Split(stdout.String(), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Inspector:"); ok {
				url = strings.TrimSpace(rest)
				return true
			}
		}
		return false
	}, "the banner's Inspector line")
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/_inspector/") {
		t.Fatalf("inspector URL %q", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET %s: %d", url, resp.StatusCode)
	}
}

func TestInspectorURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/_inspector/",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/_inspector/",
		"[::]:9000":      "http://127.0.0.1:9000/_inspector/",
	} {
		if got := inspectorURL(addr); got != want {
			t.Errorf("inspectorURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
