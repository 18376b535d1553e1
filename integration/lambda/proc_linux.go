package lambda

import (
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
