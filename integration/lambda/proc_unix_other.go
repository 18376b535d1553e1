//go:build unix && !linux

package lambda

import "syscall"

// sysProcAttr puts an instance in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// fionread is 0: the output's labels are best effort here.
func fionread(uintptr) int { return 0 }
