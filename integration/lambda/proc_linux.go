package lambda

import "syscall"

// sysProcAttr puts an instance in a process group of its own and asks the
// kernel to kill it should this process die first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
