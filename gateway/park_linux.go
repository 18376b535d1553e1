//go:build linux

package gateway

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// pollEvents is how many readiness events the poller takes per wait.
const pollEvents = 256

// poller watches the sockets of parked readers (park.go) with an epoll
// instance of its own: each parked socket is armed once (level-triggered,
// one-shot), so one event wakes one reader, and a socket that became
// readable before it was armed is reported at once.
//
// The epoll descriptor is itself pollable (readable while events are
// ready), so the poller's one goroutine waits for it in Go's own network
// poller, like any socket, instead of holding a thread in epoll_wait: a
// wake is scheduled as promptly as a read on a socket would be.
// Server.Shutdown stops it (stopPoller) by closing the descriptor.
type poller struct {
	file *os.File        // the epoll descriptor, non-blocking, in Go's network poller
	raw  syscall.RawConn // file's: Control keeps the descriptor open during a call

	mu    sync.Mutex
	conns []*conn // by descriptor: the connection each armed socket wakes

	// stopped: the loop ended; arm refuses, so readers stay blocked in Read.
	stopped atomic.Bool

	done chan struct{}
}

// newPoller creates the epoll instance and starts the poller's goroutine.
func newPoller(s *Server) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	p := &poller{file: os.NewFile(uintptr(epfd), "epoll"), done: make(chan struct{})}
	if p.raw, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, err
	}
	go p.loop(s)
	return p, nil
}

// loop wakes the reader of each socket that became readable, until stop
// closes the descriptor.
func (p *poller) loop(s *Server) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, pollEvents)
	var ready []*conn
	var werr error
	err := p.raw.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			ready = ready[:0]
			p.mu.Lock()
			for _, ev := range events[:n] {
				if fd := int(ev.Fd); fd < len(p.conns) && p.conns[fd] != nil {
					ready = append(ready, p.conns[fd])
				}
			}
			p.mu.Unlock()
			for i, c := range ready {
				c.wake()
				ready[i] = nil
			}
			if n < len(events) {
				return false // wait until more are ready
			}
		}
	})
	if werr == nil && !errors.Is(err, os.ErrClosed) {
		werr = err
	}
	// stop closed the descriptor: RawConn.Read then fails with the
	// poller's own "use of closed file" (not os.ErrClosed), which is no
	// failure.
	if werr != nil && !p.stopped.Load() {
		s.log.Error("parked readers: waiting on epoll failed; idle connections keep their reader from now on", "err", werr)
	}
	p.wakeAll()
}

// wakeAll wakes every parked reader: the poller is going away.
func (p *poller) wakeAll() {
	p.stopped.Store(true)
	p.mu.Lock()
	conns := make([]*conn, 0, len(p.conns))
	for _, c := range p.conns {
		if c != nil {
			conns = append(conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.wake()
	}
}

// stop ends the loop and waits for it. Readers still parked (none once
// Shutdown closed every connection) are woken.
func (p *poller) stop() {
	p.stopped.Store(true)
	p.file.Close()
	<-p.done
}

// arm makes the poller wake c's reader once its socket is readable, and
// reports whether it will. The caller holds c.mu.
func (p *poller) arm(c *conn, rc syscall.RawConn) bool {
	if p.stopped.Load() {
		return false
	}
	var err error
	cerr := rc.Control(func(fdp uintptr) {
		fd := int(fdp)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
		if !c.polled {
			p.register(c, fd)
			if err = p.ctl(syscall.EPOLL_CTL_ADD, fd, &ev); errors.Is(err, syscall.EEXIST) {
				err = p.ctl(syscall.EPOLL_CTL_MOD, fd, &ev)
			}
			if err != nil {
				p.forget(c, fd)
				return
			}
			c.polled = true
			return
		}
		err = p.ctl(syscall.EPOLL_CTL_MOD, fd, &ev)
	})
	// Checked after c was registered: a wakeAll that missed c in the table
	// stored stopped first.
	return cerr == nil && err == nil && !p.stopped.Load()
}

// ctl is epoll_ctl on the poller's instance, which stays open meanwhile.
func (p *poller) ctl(op, fd int, ev *syscall.EpollEvent) error {
	var err error
	if cerr := p.raw.Control(func(epfd uintptr) { err = syscall.EpollCtl(int(epfd), op, fd, ev) }); cerr != nil {
		return cerr
	}
	return err
}

// register records that events on fd wake c.
func (p *poller) register(c *conn, fd int) {
	p.mu.Lock()
	if fd >= len(p.conns) {
		grown := make([]*conn, max(fd+1, 2*len(p.conns), 1024))
		copy(grown, p.conns)
		p.conns = grown
	}
	p.conns[fd] = c
	p.mu.Unlock()
}

// forget drops c's place (fd), unless another connection took the
// descriptor over since c's socket was closed.
func (p *poller) forget(c *conn, fd int) {
	p.mu.Lock()
	if fd < len(p.conns) && p.conns[fd] == c {
		p.conns[fd] = nil
	}
	p.mu.Unlock()
}

// unpoll forgets a connection that was armed at some point: the first
// startClose calls it, before the socket is closed (which takes the socket
// out of the epoll instance): whoever closes it (finish, a failed write)
// starts closing first, and the reader parks no more once it did. A socket
// closed all the same no longer tells its descriptor: the table is
// searched.
func (c *conn) unpoll() {
	p := c.srv.poll.p
	if p == nil {
		return
	}
	if rc, ok := parkable(c.nc); ok && rc.Control(func(fd uintptr) { p.forget(c, int(fd)) }) == nil {
		return
	}
	p.mu.Lock()
	for fd, o := range p.conns {
		if o == c {
			p.conns[fd] = nil
		}
	}
	p.mu.Unlock()
}

// waitReadable waits, in Go's network poller, until the socket has bytes
// to read, or an end or an error to report, or the read deadline passes
// (os.ErrDeadlineExceeded). Nothing is read. It costs what a blocked Read
// costs: one system call that finds nothing, then the poller's word.
func waitReadable(rc syscall.RawConn) error {
	w := readWaits.Get().(*readWait)
	w.calls = 0
	err := rc.Read(w.fn)
	readWaits.Put(w)
	return err
}

// readWait is one waitReadable's state, reused (readWaits) so that a wait
// allocates nothing: a closure passed to RawConn.Read would escape to the
// heap on every message.
type readWait struct {
	calls   int
	scratch [1]byte
	fn      func(fd uintptr) bool // w.check, made once per readWait
}

var readWaits = sync.Pool{New: func() any {
	w := new(readWait)
	w.fn = w.check
	return w
}}

// check is the RawConn.Read callback: the first call looks; a second one
// comes only once the poller reported the socket readable, which it takes
// at its word (were it wrong, the reader would block in Read, as it
// always did before readers parked).
func (w *readWait) check(fd uintptr) bool {
	w.calls++
	return w.calls > 1 || peek(fd, w.scratch[:])
}

// peek reports whether a read of fd would not block, without reading.
func peek(fd uintptr, scratch []byte) bool {
	for {
		_, _, err := syscall.Recvfrom(int(fd), scratch[:1], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		return err != syscall.EAGAIN
	}
}

// readPoller is the server's poller, started with the first reader that
// parks; nil if it could not be made or the server is shutting down.
func (s *Server) readPoller() *poller {
	s.poll.once.Do(func() {
		if s.closing.Load() {
			return
		}
		p, err := newPoller(s)
		if err != nil {
			s.log.Warn("parked readers: no epoll instance; idle connections keep their reader", "err", err)
			return
		}
		s.poll.p = p
	})
	return s.poll.p
}

// stopPoller stops the poller, if it was started; Shutdown calls it once
// every connection was closed.
func (s *Server) stopPoller() {
	s.poll.once.Do(func() {})
	if s.poll.p != nil {
		s.poll.p.stop()
	}
}
