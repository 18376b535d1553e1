//go:build unix

package gateway

import (
	"errors"
	"net"
	"sync"
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
	w := rawWrites.Get().(*rawWrite)
	w.b, w.n, w.err = b, 0, nil
	err = rc.Write(w.fn)
	n, werr := w.n, w.err
	w.b, w.err = nil, nil
	rawWrites.Put(w)
	if err != nil {
		return n, err
	}
	return n, werr
}

// rawWrite is one tryWrite's state, reused (rawWrites) so that a write
// allocates nothing of its own: a closure passed to RawConn.Write, and the
// variables it sets, would escape to the heap on every write.
type rawWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // w.write, made once per rawWrite
}

var rawWrites = sync.Pool{New: func() any {
	w := new(rawWrite)
	w.fn = w.write
	return w
}}

// write is the RawConn.Write callback: it writes w.b to fd until the socket
// takes no more, and never asks to wait for the poller (a writer goroutine
// will).
func (w *rawWrite) write(fd uintptr) bool {
	for w.n < len(w.b) {
		m, e := syscall.Write(int(fd), w.b[w.n:])
		if m > 0 {
			w.n += m
		}
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN || (e == nil && m <= 0) {
			w.err = errWouldBlock
			break
		}
		if e != nil {
			w.err = e
			break
		}
	}
	return true
}
