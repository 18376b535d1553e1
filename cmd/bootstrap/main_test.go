package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// binDir holds the binaries the tests build, once per test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	testutil.StopDynamoDB()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaries are the executables the end-to-end tests run.
type binaries struct {
	bootstrap   string // this package, as scripts/build-lambda builds it
	switchboard string // ../switchboard
}

var built struct {
	once sync.Once
	bin  binaries
	err  error
}

// buildBinaries builds the bootstrap and the switchboard binary for this
// machine, once for all the tests, and fails (or skips, without a go
// command) the test when it cannot.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to build the bootstrap for this machine: %v", err)
	}
	built.once.Do(func() {
		b := binaries{bootstrap: filepath.Join(binDir, "bootstrap"), switchboard: filepath.Join(binDir, "switchboard")}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		build := func(i int, args ...string) {
			defer wg.Done()
			cmd := exec.Command("go", append([]string{"build"}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
			}
		}
		wg.Add(2)
		// As scripts/build-lambda builds it (-tags lambda.norpc: the
		// provided runtime's build; -s -w), for this machine; but without
		// CGO_ENABLED=0 and -trimpath, which change nothing the tests see
		// and would compile every dependency again beside the go test build.
		go build(0, "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", b.bootstrap, ".")
		go build(1, "-o", b.switchboard, "../switchboard")
		wg.Wait()
		built.bin, built.err = b, errors.Join(errs...)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}
