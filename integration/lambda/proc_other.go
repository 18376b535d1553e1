//go:build !unix

package lambda

import (
	"context"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process, sig syscall.Signal) {
	if p != nil {
		p.Kill()
	}
}

func isExecutable(fs.FileInfo) bool { return true }

var installLock sync.Mutex

// lockFile serialises installations within this process only (no file
// locks on this platform).
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	installLock.Lock()
	return installLock.Unlock, nil
}

func fionread(uintptr) int { return 0 }

// readCounted reads f, then counts what it read (readThenCount).
func readCounted(f *os.File, _ *sync.Mutex, received *atomic.Int64) func([]byte) (int, error) {
	return readThenCount(f, received)
}
