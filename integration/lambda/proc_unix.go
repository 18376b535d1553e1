//go:build unix

package lambda

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
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

// lockFile takes an exclusive lock (flock) on the file at path, waiting for
// it as long as ctx lasts; other processes taking the same lock wait in
// turn. The lock ends with unlock, or with the process.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
