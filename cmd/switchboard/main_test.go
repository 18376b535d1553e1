package main

import (
	"os"
	"testing"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestMain runs up to 4 tests at a time: each runs switchboard processes
// and mostly waits for them (to start, to notice a killed node, to
// resume), and two at a time (go test's default on 2 cores) put the
// longest ones end to end.
func TestMain(m *testing.M) {
	os.Exit(testutil.RunParallel(m, 4))
}
