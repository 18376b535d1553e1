package lambda

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts an instance in a process group of its own and asks the
// kernel to kill it should this process die first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// fionread is how many bytes wait to be read on fd (0 when unknown).
func fionread(fd uintptr) int {
	n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
	if err != nil {
		return 0
	}
	return n
}

// readCounted returns a read of the pipe f that adds what it reads to
// received under mu, the read system call included (f is non-blocking:
// os.Pipe's files wait in Go's poller, not in read), so that whoever
// holds mu sees every byte either in the pipe (fionread) or in received.
func readCounted(f *os.File, mu *sync.Mutex, received *atomic.Int64) func([]byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return readThenCount(f, received)
	}
	return func(buf []byte) (int, error) {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			mu.Lock()
			defer mu.Unlock()
			for {
				n, rerr = syscall.Read(int(fd), buf)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				return false // the poller waits for more
			}
			if n > 0 {
				received.Add(int64(n))
			}
			return true
		}); err != nil {
			return 0, err
		}
		switch {
		case rerr != nil:
			return 0, rerr
		case n <= 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
