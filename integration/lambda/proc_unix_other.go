//go:build unix && !linux

package lambda

import "syscall"

// sysProcAttr puts an instance in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
