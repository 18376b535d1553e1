//go:build !unix

package lambda

import (
	"io/fs"
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process, sig syscall.Signal) {
	if p != nil {
		p.Kill()
	}
}

func isExecutable(fs.FileInfo) bool { return true }
