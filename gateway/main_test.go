package gateway_test

import (
	"os"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestMain runs up to 8 tests at a time: most of this package's tests wait
// (idle timeouts, pings, drains, slow consumers) far more than they
// compute, and two at a time (go test's default on 2 cores) left the CPU
// mostly idle (22 s of wall time for 5 s of CPU).
func TestMain(m *testing.M) {
	os.Exit(testutil.RunParallel(m, 8))
}
