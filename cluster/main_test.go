package cluster_test

import (
	"os"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestMain runs up to 4 tests at a time: most of them wait on other
// processes (serve nodes, nats-server) and on liveness timers, and two at a
// time (go test's default on 2 cores) held the CPU half idle.
func TestMain(m *testing.M) {
	os.Exit(testutil.RunParallel(m, 4))
}
