//go:build unix

package httpserve

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises the soft limit of open files (RLIMIT_NOFILE) to the
// hard limit, and returns the soft limit in effect. (Go's runtime does the
// same at start on most systems; this makes it explicit, and reports it.)
func RaiseFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if r.Cur >= r.Max {
		return r.Cur, nil
	}
	raised := r
	raised.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		// macOS refuses more than kern.maxfilesperproc: keep the soft one.
		return r.Cur, fmt.Errorf("setrlimit RLIMIT_NOFILE %d: %w", raised.Cur, err)
	}
	return raised.Cur, nil
}

// fileLimit is the soft limit of open files.
func fileLimit() (uint64, bool) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, false
	}
	return r.Cur, true
}
