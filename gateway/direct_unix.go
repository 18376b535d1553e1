//go:build unix

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// directWrites: PostFrame writes to idle sockets directly (writeDirect).
const directWrites = true

// errWouldBlock: the socket took less than asked without waiting.
var errWouldBlock = errors.New("write would block")

// tryWrite writes b to nc without waiting for the socket to become
// writable: n < len(b) with errWouldBlock means the rest must wait. A
// net.Conn that is not a socket is not written (n 0, errWouldBlock).
func tryWrite(nc net.Conn, b []byte) (n int, err error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, errWouldBlock
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN || (e == nil && m <= 0) {
				werr = errWouldBlock
				break
			}
			if e != nil {
				werr = e
				break
			}
		}
		return true // never wait for the poller: a writer goroutine will
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
