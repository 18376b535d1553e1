package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// A profiled server writes its CPU profile of the measured phase and, at
// its end, its in-use heap beside it (what --profile promises), both
// gzipped pprof files.
func TestProfileOnSignalWritesHeap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x-devserver.pprof")
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	stop := profileOnSignal(path)
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(path); return err == nil }, "the CPU profile is started")
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	heap := filepath.Join(dir, "x-devserver-heap.pprof")
	for _, p := range []string{heap, path} {
		testutil.Eventually(t, 10*time.Second, func() bool {
			b, err := os.ReadFile(p)
			return err == nil && bytes.HasPrefix(b, []byte{0x1f, 0x8b})
		}, "%s written", filepath.Base(p))
	}
}
