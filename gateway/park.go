package gateway

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Parking the readers of idle connections.
//
// A reader goroutine blocked in Read costs an idle connection more than
// everything else it holds: the goroutine's descriptor and a stack of at
// least 2 KB, against about 0.9 KB for the connection's state and socket.
// So when a connection has had nothing to read at a frame boundary for
// parkAfter, its reader parks instead of blocking on: it asks the poller
// (park_linux.go: an epoll instance of the server's, one goroutine) to
// tell it when the socket becomes readable, and exits. The poller starts
// a new reader when bytes (or the end of the stream) arrive; anything that
// starts closing the connection starts one too (startClose), since the
// closing handshake needs a reader.
//
// A parked reader keeps its place in the server's goroutine count (wg), so
// Shutdown still waits for every connection to finish. Only a plain socket
// parks: a TLS connection (whose library may hold decrypted bytes the
// socket no longer shows) and anything that is not a socket keep their
// reader blocked in Read, as does a connection with handshake bytes still
// buffered (early), mid-message, or closing.

// parkAfter is how long a reader waits for the next frame before it
// parks: a connection that sends often (20 frames a second or more) keeps
// its reader, and pays for no park and wake per message (a readiness
// check, an epoll_ctl, a new goroutine: a few microseconds each). It is
// short because the runtime never frees a goroutine's descriptor (and
// frees a dead goroutine's stack only at the next collection): the
// readers waiting at once during a burst of connections cost memory
// for good.
const parkAfter = 50 * time.Millisecond

// parkable reports whether nc is a socket the poller can watch: a
// net.Conn that gives its descriptor (syscall.Conn), and nothing that
// buffers bytes of its own in between (tls.Conn does not implement
// syscall.Conn; the listeners' wrappers forward it and buffer nothing once
// the HTTP request was read).
func parkable(nc net.Conn) (syscall.RawConn, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return rc, true
}

// park parks the reader if the connection is idle: open, nothing
// buffered, nothing to read on the socket for parkAfter. It reports whether it did;
// the reader then returns without finishing the connection. The reader
// calls it at a frame boundary only (no message being assembled).
func (c *conn) park() bool {
	if c.early != nil || c.closing.Load() {
		return false
	}
	p := c.srv.readPoller()
	if p == nil {
		return false
	}
	rc, ok := parkable(c.nc)
	if !ok {
		return false
	}
	if !c.linger(rc) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return false
	}
	// Armed under c.mu: the poller's wake takes c.mu, so it finds parked
	// set even if the socket became readable at once.
	if !p.arm(c, rc) {
		return false
	}
	c.parked = true
	return true
}

// wake starts a reader for a parked connection: the poller calls it when
// the socket became readable. A connection no longer parked (its reader
// was started by startClose, or an event arrived twice) is left alone.
func (c *conn) wake() {
	c.mu.Lock()
	if !c.parked {
		c.mu.Unlock()
		return
	}
	c.parked = false
	c.mu.Unlock()
	go c.read() // the parked reader's count in wg carries over
}

// linger waits up to parkAfter for the socket to become readable, under a
// read deadline it clears again, and reports whether the reader should
// park: nothing came, and the connection is not closing.
//
// The writer sets a read deadline too, once the close frame is out, to
// bound the wait for the client's answer (closeGrace). When the connection
// is found closing here, the reader sets that deadline again, from now,
// unless it is the writer's deadline that just passed (the wait lasted
// closeGrace: the reader's own is parkAfter, shorter, and the writer's
// replaced it): whichever of the two was set last, the client gets
// closeGrace to answer, and no more than twice that.
func (c *conn) linger(rc syscall.RawConn) bool {
	start := time.Now()
	c.nc.SetReadDeadline(start.Add(parkAfter))
	if c.closing.Load() {
		c.closeGraceDeadline()
		return false
	}
	err := waitReadable(rc)
	if c.closing.Load() {
		if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) < closeGrace {
			c.closeGraceDeadline()
		}
		return false
	}
	c.nc.SetReadDeadline(time.Time{})
	if c.closing.Load() {
		c.closeGraceDeadline()
		return false
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// closeGraceDeadline gives the client closeGrace from now to answer the
// close frame.
func (c *conn) closeGraceDeadline() {
	c.nc.SetReadDeadline(time.Now().Add(closeGrace))
}
