package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopDynamoDB()
	os.Exit(code)
}

// binaries are the executables the end-to-end tests run.
type binaries struct {
	bootstrap   string // this package, as scripts/build-lambda builds it
	switchboard string // ../switchboard
}

// buildBinaries returns the bootstrap and the switchboard binary for this
// machine, linked once for the suite (testutil.GoBinary), and fails (or
// skips, without a go command) the test when it cannot.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to build the bootstrap for this machine: %v", err)
	}
	return binaries{
		// As scripts/build-lambda builds it (-tags lambda.norpc: the
		// provided runtime's build; -s -w), for this machine; but without
		// CGO_ENABLED=0 and -trimpath, which change nothing the tests see
		// and would compile every dependency again beside the go test build.
		bootstrap:   testutil.GoBinary(t, testutil.Build{Pkg: ".", Flags: []string{"-tags", "lambda.norpc", "-ldflags", "-s -w"}}),
		switchboard: testutil.GoBinary(t, testutil.Build{Pkg: "../switchboard"}),
	}
}
