package devstack_test

import (
	"os"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopDynamoDB()
	testutil.StopPostgres()
	os.Exit(code)
}
