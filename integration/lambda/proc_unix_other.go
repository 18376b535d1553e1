//go:build unix && !linux

package lambda

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// sysProcAttr puts an instance in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// fionread is 0: the output's labels are best effort here.
func fionread(uintptr) int { return 0 }

// readCounted reads f, then counts what it read (readThenCount).
func readCounted(f *os.File, _ *sync.Mutex, received *atomic.Int64) func([]byte) (int, error) {
	return readThenCount(f, received)
}
