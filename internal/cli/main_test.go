package cli

import (
	"os"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// envAsSwitchboard makes this test binary run as the switchboard command
// (Main with its arguments): the bench's tests start it as `switchboard
// dev` nodes and as bench workers.
const envAsSwitchboard = "SWITCHBOARD_CLI_TEST_AS_SWITCHBOARD"

func TestMain(m *testing.M) {
	if os.Getenv(envAsSwitchboard) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	testutil.StopDynamoDB()
	testutil.StopPostgres()
	os.Exit(code)
}
