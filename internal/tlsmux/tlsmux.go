// Package tlsmux serves TLS and plain connections on one port: a client
// that opens with a TLS ClientHello (https, wss) gets TLS, any other
// (http, ws) the plain protocol. Handlers that post back to
// https://{domainName}/{stage}, as AWS's documentation and samples do, and
// those that post to http:// reach the same listener.
//
// The first byte decides: a TLS record starts with 0x16 (handshake), which
// no HTTP method does. Listener.Accept returns a *tls.Conn (not yet
// handshaken, so that net/http does the handshake under its own deadlines
// and fills Request.TLS) or the plain connection with that byte put back.
// Reading the first byte happens off the accept loop, in a goroutine per
// new connection that the Listener owns, bounded by Options.SniffTimeout: a
// client that connects and says nothing is closed, and never delays
// others.
package tlsmux

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// DefaultSniffTimeout is how long a new connection may stay silent.
const DefaultSniffTimeout = 10 * time.Second

// recordTypeHandshake is the first byte of every TLS ClientHello.
const recordTypeHandshake = 0x16

// Options configure a Listener.
type Options struct {
	// TLS is the server configuration of TLS connections; nil makes the
	// Listener plain only (every connection passes through unchanged).
	TLS *tls.Config
	// SniffTimeout bounds the wait for a new connection's first byte.
	// Default DefaultSniffTimeout.
	SniffTimeout time.Duration
}

// Listener wraps a net.Listener; it is safe for concurrent use.
type Listener struct {
	inner net.Listener
	opts  Options

	ready chan net.Conn // sniffed connections, for Accept
	errc  chan error    // the inner listener's terminal error

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the accept loop and the sniffers

	mu      sync.Mutex
	pending map[net.Conn]struct{} // being sniffed; Close closes them
}

var _ net.Listener = (*Listener)(nil)

// New starts accepting on inner. Close the Listener, not inner.
func New(inner net.Listener, opts Options) *Listener {
	if opts.SniffTimeout <= 0 {
		opts.SniffTimeout = DefaultSniffTimeout
	}
	l := &Listener{
		inner:   inner,
		opts:    opts,
		ready:   make(chan net.Conn),
		errc:    make(chan error, 1),
		done:    make(chan struct{}),
		pending: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors or a transient failure: wait and
				// retry, as net/http's Serve does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
					return
				}
			}
			l.errc <- err
			return
		}
		backoff = 0
		if l.opts.TLS == nil {
			if !l.deliver(c) {
				return
			}
			continue
		}
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			return
		default:
		}
		l.pending[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.sniff(c)
	}
}

// sniff reads c's first byte and hands c to Accept as TLS or plain.
func (l *Listener) sniff(c net.Conn) {
	defer l.wg.Done()
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(l.opts.SniffTimeout))
	_, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		c.Close() // silent, gone, or closed by Close
		return
	}
	pc := wrap(c, b[0])
	if b[0] == recordTypeHandshake {
		l.deliver(tls.Server(pc, l.opts.TLS))
		return
	}
	l.deliver(pc)
}

// deliver passes c to Accept, or closes it once the Listener is closed.
func (l *Listener) deliver(c net.Conn) bool {
	select {
	case l.ready <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

// Accept returns the next connection: a *tls.Conn or a plain one.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case err := <-l.errc:
		l.errc <- err // every later Accept fails the same way
		return nil, err
	}
}

// Close stops accepting, closes the connections not yet accepted and
// waits for the Listener's goroutines.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
		err = l.inner.Close()
		l.wg.Wait()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// wrap puts first back in front of c's stream. The result keeps c's
// syscall.Conn, so that the gateway's direct writes to idle sockets still
// apply to plain connections.
func wrap(c net.Conn, first byte) net.Conn {
	p := prefixed{Conn: c, first: first, has: true}
	if sc, ok := c.(syscall.Conn); ok {
		return &prefixedSyscall{prefixed: p, sc: sc}
	}
	return &p
}

// prefixed is a connection whose first byte was already read. Only the
// connection's one reader touches first and has.
type prefixed struct {
	net.Conn
	first byte
	has   bool
}

func (p *prefixed) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		// A short read: every reader of a net.Conn copes with one, and
		// waiting here for more could outlast the caller's deadline.
		p.has = false
		b[0] = p.first
		return 1, nil
	}
	return p.Conn.Read(b)
}

// NetConn is the connection underneath, as tls.Conn's NetConn: a
// connection-limiting listener finds its own through it.
func (p *prefixed) NetConn() net.Conn { return p.Conn }

type prefixedSyscall struct {
	prefixed
	sc syscall.Conn
}

func (p *prefixedSyscall) SyscallConn() (syscall.RawConn, error) { return p.sc.SyscallConn() }
