//go:build unix

package lambda

import (
	"io/fs"
	"os"
	"syscall"
)

// killGroup signals the process group of p (each instance is the leader of
// its own), so that children a bootstrap script started go with it.
func killGroup(p *os.Process, sig syscall.Signal) {
	if p == nil {
		return
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}

func isExecutable(st fs.FileInfo) bool { return st.Mode().Perm()&0o111 != 0 }
