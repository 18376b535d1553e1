package httpserve

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultRefusers bounds the connections being refused at once (each is
// answered 503 by a goroutine of its own, within refuseTimeout); beyond it
// a connection over the limit is closed without an answer.
const DefaultRefusers = 64

// refuseTimeout bounds the answer to a refused connection.
const refuseTimeout = time.Second

// RefusalBody is the body of the 503 a connection over the limit reads
// before it is closed.
const RefusalBody = "Too many connections, retry later\n"

var refusal = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: " + strconv.Itoa(len(RefusalBody)) + "\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n\r\n" + RefusalBody)

// Listener counts the connections it accepted until they are closed, and
// keeps them at most max: at the maximum, a new connection closes the one
// idle for longest (between requests of a keep-alive connection, or not
// yet sent its first request), and when none is idle it is answered 503 and
// closed. The state of each connection comes from the http.Server's
// ConnState hook: install Listener.ConnState (New does).
//
// The connections returned by Accept wrap the accepted ones: closing one
// (by whoever owns it, a WebSocket server after a hijack too) is what
// frees its place. They keep syscall.Conn when the accepted one has it.
type Listener struct {
	inner net.Listener
	max   int
	log   *slog.Logger

	mu sync.Mutex
	n  int // open connections
	// The idle connections, least recently idle first: an intrusive list
	// so that every change is O(1) under mu.
	head, tail *tracked

	refusers chan struct{} // semaphore of refusing goroutines
	wg       sync.WaitGroup

	evicted, refused atomic.Uint64
}

var _ net.Listener = (*Listener)(nil)

// NewListener limits inner to max open connections (max > 0).
func NewListener(inner net.Listener, max int, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{inner: inner, max: max, log: log, refusers: make(chan struct{}, DefaultRefusers)}
}

// Accept returns the next connection within the limit.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			return nil, err
		}
		if t := l.admit(c); t != nil {
			return t.outer, nil
		}
	}
}

// admit counts c in, closing the longest idle connection at the maximum,
// or refuses it (nil).
func (l *Listener) admit(c net.Conn) *tracked {
	var victim *tracked
	l.mu.Lock()
	if l.n >= l.max {
		victim = l.head
		if victim == nil {
			l.mu.Unlock()
			l.refuse(c)
			return nil
		}
		l.unlinkLocked(victim)
	}
	t := newTracked(c, l)
	l.n++
	l.pushLocked(t) // not sent a request yet: idle
	l.mu.Unlock()
	if victim != nil {
		l.evicted.Add(1)
		victim.Close()
	}
	return t
}

// refuse answers c 503 and closes it, off the accept loop.
func (l *Listener) refuse(c net.Conn) {
	if n := l.refused.Add(1); n == 1 || n%1000 == 0 {
		l.log.Warn("at the maximum of open connections, none idle: refusing new ones with 503", "max", l.max, "refused", n)
	}
	select {
	case l.refusers <- struct{}{}:
	default:
		c.Close()
		return
	}
	l.wg.Go(func() {
		defer func() { <-l.refusers }()
		answerRefused(c)
	})
}

// answerRefused reads what the client sent first (so that closing does not
// reset the connection before the answer is read), answers 503 unless it
// opened with TLS (it could not read a plain answer), and closes c.
func answerRefused(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(refuseTimeout))
	var buf [4096]byte
	n, err := c.Read(buf[:])
	if err != nil || n == 0 || buf[0] == 0x16 { // 0x16: a TLS handshake record
		return
	}
	if !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		// More header to come: read a little more, within the deadline.
		c.Read(buf[:])
	}
	if _, err := c.Write(refusal); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		for { // until the client closes, or the deadline
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}
}

// ConnState is the http.Server hook that tells the Listener which
// connections are idle.
func (l *Listener) ConnState(c net.Conn, st http.ConnState) {
	t := find(c)
	if t == nil || t.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.closed {
		return
	}
	switch st {
	case http.StateNew, http.StateIdle:
		if !t.linked {
			l.pushLocked(t)
		}
	case http.StateActive, http.StateHijacked:
		if t.linked {
			l.unlinkLocked(t)
		}
	}
}

// Open is the number of open connections.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Max is the maximum of open connections.
func (l *Listener) Max() int { return l.max }

// Evicted and Refused count the idle connections closed to make room and
// the connections refused with 503.
func (l *Listener) Evicted() uint64 { return l.evicted.Load() }
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Close closes the inner listener and waits for the refusals in progress.
// The connections accepted stay open: their owners close them.
func (l *Listener) Close() error {
	err := l.inner.Close()
	l.wg.Wait()
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) pushLocked(t *tracked) {
	t.prev, t.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = t
	} else {
		l.head = t
	}
	l.tail = t
	t.linked = true
}

func (l *Listener) unlinkLocked(t *tracked) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		l.tail = t.prev
	}
	t.prev, t.next, t.linked = nil, nil, false
}

// tracked is an accepted connection; its place is freed by its first
// Close. prev, next, linked and closed are guarded by l.mu.
type tracked struct {
	net.Conn
	l          *Listener
	outer      net.Conn // what Accept returned: t, or t with SyscallConn
	prev, next *tracked
	linked     bool
	closed     bool
}

// newTracked tracks c. One allocation per connection: with a socket
// under it, the tracked connection lives inside its trackedSyscall.
func newTracked(c net.Conn, l *Listener) *tracked {
	if _, ok := c.(syscall.Conn); ok {
		// The gateway writes to idle WebSocket sockets directly.
		ts := &trackedSyscall{tracked: tracked{Conn: c, l: l}}
		ts.outer = ts
		return &ts.tracked
	}
	t := &tracked{Conn: c, l: l}
	t.outer = t
	return t
}

// Close frees the connection's place once, and closes it.
func (t *tracked) Close() error {
	l := t.l
	l.mu.Lock()
	first := !t.closed
	if first {
		t.closed = true
		if t.linked {
			l.unlinkLocked(t)
		}
		l.n--
	}
	l.mu.Unlock()
	return t.Conn.Close()
}

// NetConn is the accepted connection.
func (t *tracked) NetConn() net.Conn { return t.Conn }

func (t *tracked) self() *tracked { return t }

// trackedSyscall is a tracked connection that keeps its socket's
// syscall.Conn (newTracked made sure Conn has one).
type trackedSyscall struct {
	tracked
}

func (t *trackedSyscall) SyscallConn() (syscall.RawConn, error) {
	return t.Conn.(syscall.Conn).SyscallConn()
}

// find returns the tracked connection under c: c itself, or what c wraps
// (a *tls.Conn, tlsmux's connections) through NetConn.
func find(c net.Conn) *tracked {
	for range 4 {
		if s, ok := c.(interface{ self() *tracked }); ok {
			return s.self()
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}
