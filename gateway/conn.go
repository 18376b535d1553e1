package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // a close was sent or received: no more data frames
	stateClosed            // the reader has finished
)

// closeGrace is how long a connection closed by the server waits for the
// client's close frame before the TCP connection is dropped.
const closeGrace = 2 * time.Second

// conn is one client connection. Memory matters here: an idle connection
// holds this struct and its net.Conn, no buffers, and on Linux no
// goroutine (its reader is parked: park.go). The fields are ordered so that
// the small ones share words: the struct fits the 288-byte size class
// (checked by TestConnSize).
type conn struct {
	srv   *Server
	nc    net.Conn
	early *bytes.Reader // bytes the handshake had buffered, read before nc; nil once read (only the reader uses it)
	meta  connMeta

	lastActive atomic.Int64 // unix nanoseconds of the last data frame, either way
	// pinger is the ping timer (nil when pings are off); missedPongs
	// counts the pings sent since the client last sent a frame (ping.go).
	pinger      *time.Timer
	missedPongs atomic.Int32
	// closing is set with state leaving stateOpen, for the reader to check
	// without the lock: once set, the reader drops what the client sends
	// until its close frame.
	closing atomic.Bool

	mu          sync.Mutex
	queue       [][]byte      // prepared frames not yet handed to the kernel
	queued      int           // bytes in queue and in the write under way
	inbox       [][]byte      // inbound messages read but not yet dispatched
	inboxBytes  int           // bytes of the messages in inbox
	room        chan struct{} // made when the reader waits for room in inbox
	flushed     chan struct{} // made when closing starts; closed once the queue drained
	closeReason string        // why the connection ended (with closeCode): the first cause recorded wins
	// counts are the connection's bytes in and out, for the inspector
	// (inspect.go), counted under mu where it is held anyway: a pointer,
	// so that the struct keeps its size class, into the allocation of nc's
	// wrapper (onClose).
	counts      *connCounts
	state       connState
	writing     bool // a writer goroutine (or the handshake) owns the socket's write side
	dispatching bool
	readerDone  bool

	// clientClosed: the client's close frame arrived, so the closing
	// handshake completed (only the reader uses it).
	clientClosed bool
	closeCode    uint16                      // with closeReason
	hdr          [wsproto.MaxHeaderSize]byte // the reader's scratch space
	// parked: the reader is parked (park.go); under mu. polled: the
	// poller knows the socket (set by the reader under mu; the first
	// startClose makes the poller forget it).
	parked bool
	polled bool

	// writeDeadline is the write deadline set on nc (unix nanoseconds). Only
	// the holder of the writing flag uses it.
	writeDeadline int64
}

// connReader reads what the client sent: the bytes buffered behind its
// handshake first, then the socket. Only the reader goroutine reads.
type connReader conn

func (r *connReader) Read(p []byte) (int, error) {
	if r.early != nil {
		n, _ := r.early.Read(p)
		if r.early.Len() == 0 {
			r.early = nil
		}
		if n > 0 {
			return n, nil
		}
	}
	return r.nc.Read(p)
}

// rd is the connection's inbound byte stream: nc itself once the early
// bytes are read (a reader blocked in Read keeps its stack as shallow as
// it can: one more frame can make it outgrow its first 2 KB).
func (c *conn) rd() io.Reader {
	if c.early == nil {
		return c.nc
	}
	return (*connReader)(c)
}

func (c *conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// readLoop reads frames until the connection ends, then runs $disconnect
// (after any messages still queued have been dispatched).
//
// Once the closing handshake has started on the server's side (DELETE,
// limits, shutdown, or a frame the client should not have sent), the reader
// keeps reading, but drops every data frame, until the client's close frame,
// a read error, or the close grace deadline the writer sets once our close
// frame is out. Closing the socket with the client's data unread would make
// the kernel answer with a reset, which can destroy our close frame before
// the client reads it (the client would see 1006).
func (c *conn) readLoop() {
	c.startPings()
	c.read()
}

// read is the reader: it reads frames until the connection ends, and then
// finishes it, or until the connection is idle at a frame boundary, where
// it parks (park.go) and returns; a new read starts when the socket is
// readable again or the connection starts closing.
func (c *conn) read() {
	parked := false
	defer func() {
		if !parked {
			c.finish()
			c.srv.wg.Done()
		}
	}()

	var (
		h     wsproto.Header
		msg   []byte // the message being assembled from fragments
		inMsg bool
	)
	for {
		if !inMsg && c.park() {
			parked = true
			return
		}
		if err := wsproto.ReadHeader(c.rd(), c.hdr[:], &h); err != nil {
			if !c.badHeader(err, &h) {
				return
			}
			continue
		}
		c.heard()
		if c.closing.Load() {
			if !c.frameWhileClosing(&h) {
				return
			}
			continue
		}
		if h.Op.IsControl() && h.Masked {
			if !c.controlFrame(&h) {
				return
			}
			continue
		}
		if code, reason := c.frameViolation(&h, len(msg), inMsg); code != 0 {
			c.fail(code, reason)
			msg, inMsg = nil, false
			if !c.skip(h.Length) {
				return
			}
			continue
		}
		var ok bool
		if msg, inMsg, ok = c.dataFrame(&h, msg); !ok {
			return
		}
	}
}

// badHeader handles a frame header that could not be read, and reports
// whether the reader reads on.
func (c *conn) badHeader(err error, h *wsproto.Header) bool {
	if !c.readFailed(err) {
		return false
	}
	// A malformed header: the close frame is queued. Unless the length is
	// unusable, the frame's extent is known: skip it and read on for the
	// client's close. Otherwise discard everything until the client goes or
	// the close grace period ends.
	if errors.Is(err, wsproto.ErrLengthEncoding) {
		io.Copy(io.Discard, c.rd())
		return false
	}
	return c.skip(h.Length)
}

// frameWhileClosing handles a frame that arrives once the closing handshake
// has started: data is dropped; the client's close frame completes the
// handshake. It reports whether the reader reads on.
func (c *conn) frameWhileClosing(h *wsproto.Header) bool {
	if h.Op != wsproto.OpClose {
		return c.skip(h.Length)
	}
	// The client's close frame: the closing handshake is complete.
	p, err := c.readControl(h)
	if err != nil {
		c.readFailed(err)
		return false
	}
	c.control(h.Op, p)
	return false
}

// controlFrame reads and handles a (masked) control frame, and reports
// whether the reader reads on.
func (c *conn) controlFrame(h *wsproto.Header) bool {
	p, err := c.readControl(h)
	if err != nil {
		c.readFailed(err)
		return false
	}
	return c.control(h.Op, p)
}

// frameViolation returns the close code and reason for a data frame the
// client should not have sent (given msgLen bytes of the message so far, and
// whether a fragmented message is open), or 0.
func (c *conn) frameViolation(h *wsproto.Header, msgLen int, inMsg bool) (code int, reason string) {
	lim := &c.srv.limits
	switch {
	case !h.Masked:
		return wsproto.CloseProtocolError, "Client frames must be masked"
	case h.Op == wsproto.OpBinary:
		return wsproto.CloseUnsupportedData, "Binary frames are not supported"
	case h.Op == wsproto.OpContinuation && !inMsg:
		return wsproto.CloseProtocolError, "Continuation frame without a message to continue"
	case h.Op == wsproto.OpText && inMsg:
		return wsproto.CloseProtocolError, "New message before the previous one was finished"
	case h.Length > int64(lim.MaxFrameBytes):
		return wsproto.CloseMessageTooBig, "Frame too big"
	case int64(msgLen)+h.Length > int64(lim.MaxMessageBytes):
		return wsproto.CloseMessageTooBig, "Message too big"
	}
	return 0, ""
}

// dataFrame reads a valid data frame's payload onto msg and, on the final
// frame, delivers the message. It returns the message still being assembled
// (nil when none is), whether one is, and whether the reader reads on.
func (c *conn) dataFrame(h *wsproto.Header, msg []byte) (_ []byte, inMsg, ok bool) {
	// Wait until the inbox has room for the message this frame belongs
	// to before reading (and allocating) its payload.
	if !c.waitRoom(len(msg) + int(h.Length)) {
		return nil, false, c.skip(h.Length)
	}
	start := len(msg)
	msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
	if _, err := io.ReadFull(c.rd(), msg[start:]); err != nil {
		c.readFailed(err)
		return nil, false, false
	}
	wsproto.Unmask(msg[start:], h.Mask, 0)
	if !h.Fin {
		return msg, true, true
	}
	if !utf8.Valid(msg) {
		c.fail(wsproto.CloseInvalidPayload, "Text message is not valid UTF-8")
	} else {
		c.touch()
		c.srv.metrics.messagesIn.Add(1)
		c.srv.metrics.bytesIn.Add(uint64(len(msg)))
		if c.srv.insp.watching.Load() {
			c.srv.insp.frame(c, eventFrameIn, msg)
		}
		c.deliver(msg) // dropped if the connection is closing
	}
	return nil, false, true
}

// readControl reads a control frame's payload (at most 125 bytes, checked by
// ReadHeader). Control frames are rare: the buffer is not kept.
func (c *conn) readControl(h *wsproto.Header) ([]byte, error) {
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.rd(), p); err != nil {
		return nil, err
	}
	wsproto.Unmask(p, h.Mask, 0)
	return p, nil
}

// skip discards the payload of a frame the reader drops; false means the
// connection ended.
func (c *conn) skip(n int64) bool {
	if n == 0 {
		return true
	}
	if _, err := io.CopyN(io.Discard, c.rd(), n); err != nil {
		c.readFailed(err)
		return false
	}
	return true
}

// control handles a ping, pong or close; false means the connection ends.
func (c *conn) control(op wsproto.Opcode, p []byte) bool {
	switch op {
	case wsproto.OpPing:
		c.enqueue(wsproto.Frame(wsproto.OpPong, p), false)
		return true
	case wsproto.OpPong:
		return true
	}
	c.clientClosed = true
	code, reason, ok := wsproto.ParseClosePayload(p)
	if !ok {
		c.startClose(causeProtocol, wsproto.CloseProtocolError, "Invalid close frame", wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(wsproto.CloseProtocolError, "Invalid close frame")))
		c.waitFlushed()
		return false
	}
	// Echo the close (RFC 6455 5.5.1) unless we started the closing
	// handshake, and wait until it is written.
	reply := code
	if reply == wsproto.CloseNoStatus {
		reply = wsproto.CloseNormal
	}
	c.startClose(causeClient, code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(reply, "")))
	c.waitFlushed()
	return false
}

// waitRoom waits until the inbox can take a message of need bytes: fewer
// than Limits.InboundQueue messages and at most Limits.InboundQueueBytes
// bytes with it, or an empty inbox (so that a message larger than
// InboundQueueBytes still goes through, alone). Only the reader adds to the
// inbox, so the room found here is still there when the message is
// complete. false means the connection is closing.
func (c *conn) waitRoom(need int) bool {
	lim := &c.srv.limits
	c.mu.Lock()
	for c.state == stateOpen && len(c.inbox) > 0 &&
		(len(c.inbox) >= lim.InboundQueue || c.inboxBytes+need > lim.InboundQueueBytes) {
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		<-room
		c.mu.Lock()
	}
	open := c.state == stateOpen
	c.mu.Unlock()
	return open
}

// deliver hands a complete message to the dispatcher (waitRoom made room
// for it). A message that arrives while the connection is closing is
// dropped.
func (c *conn) deliver(msg []byte) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.inbox = append(c.inbox, msg)
	c.inboxBytes += len(msg)
	c.counts.in += uint64(len(msg))
	start := !c.dispatching
	c.dispatching = true
	c.mu.Unlock()
	if start {
		// On a goroutine counted in wg (callers.go): the reader's own
		// count keeps the group above zero.
		c.srv.dispatchers.Go(c.dispatchLoop)
	}
}

// dispatchLoop runs the route of each queued message in order, and
// $disconnect when the reader has finished and the queue is empty. It
// runs on one of the server's dispatchers (callers.go).
func (c *conn) dispatchLoop() {
	for {
		c.mu.Lock()
		if len(c.inbox) > 0 && c.srv.closing.Load() {
			// Shutting down: messages not dispatched yet are dropped, so
			// that $disconnect runs without waiting for a backlog.
			c.srv.log.Debug("shutdown: dropping undispatched messages", "connectionId", c.meta.id, "messages", len(c.inbox))
			clear(c.inbox)
			c.inbox = c.inbox[:0]
			c.inboxBytes = 0
		}
		if len(c.inbox) == 0 {
			c.inbox = nil
			c.inboxBytes = 0
			c.dispatching = false
			if c.room != nil {
				close(c.room)
				c.room = nil
			}
			done := c.readerDone
			c.mu.Unlock()
			if done {
				c.srv.disconnected(c)
			}
			return
		}
		msg := c.inbox[0]
		c.inbox[0] = nil
		c.inbox = c.inbox[1:]
		c.inboxBytes -= len(msg)
		if c.room != nil {
			close(c.room)
			c.room = nil
		}
		c.mu.Unlock()
		c.srv.handleMessage(c, unsafe.String(unsafe.SliceData(msg), len(msg)))
	}
}

// readFailed ends the connection after a read error: a TCP connection that
// ended without a close frame is 1006 (a no-op when a cause is recorded, as
// when the close grace period ran out); a malformed frame is 1002, and true
// is returned: a close frame was queued.
func (c *conn) readFailed(err error) (protocolError bool) {
	switch {
	case errors.Is(err, wsproto.ErrReservedBits), errors.Is(err, wsproto.ErrReservedOpcode),
		errors.Is(err, wsproto.ErrControlTooLong), errors.Is(err, wsproto.ErrControlFragment),
		errors.Is(err, wsproto.ErrLengthEncoding):
		c.fail(wsproto.CloseProtocolError, err.Error()[len("wsproto: "):])
		return true
	default:
		c.startClose(causeDropped, wsproto.CloseAbnormal, "", nil)
		return false
	}
}

// fail starts closing the connection because of what the client sent,
// telling it why. The reader goes on, dropping data, until the client
// answers with its close frame or the close grace period ends.
func (c *conn) fail(code int, reason string) {
	c.startClose(causeProtocol, code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(code, reason)))
}

// closeWith closes the connection from the server's side (DELETE, limits,
// shutdown): the close frame is sent and the client given closeGrace to
// answer before the TCP connection is dropped.
func (c *conn) closeWith(cause closeCause, code int, reason string) {
	c.startClose(cause, code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(code, reason)))
}

// startClose records why the connection ends (and counts it under cause)
// and queues closeFrame (nil: none). Only the first call has an effect. The connection leaves the
// registry at once, so that the management API answers 410 from now on.
func (c *conn) startClose(cause closeCause, code int, reason string, closeFrame []byte) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.closing.Store(true)
	c.closeCode, c.closeReason = uint16(code), reason
	c.flushed = make(chan struct{})
	start := false
	if closeFrame != nil {
		c.queue = append(c.queue, closeFrame)
		c.queued += len(closeFrame)
		start = !c.writing
		c.writing = true
	}
	if !c.writing {
		close(c.flushed)
	}
	if start {
		c.srv.wg.Add(1) // under c.mu, while open: see goroutines
	}
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	// A parked reader is needed again: for the client's close frame, or
	// to notice that the socket was closed.
	resume := c.parked
	c.parked = false
	polled := c.polled
	c.mu.Unlock()
	if polled {
		// Before anything closes the socket (whoever does calls this
		// first), so that the poller finds the descriptor in O(1); the
		// reader parks no more.
		c.unpoll()
	}
	c.srv.metrics.closes[cause].Add(1)
	c.srv.reg.remove(c)
	if start {
		go c.writeLoop()
	}
	if resume {
		go c.read() // the parked reader's count in wg carries over
	}
}

// waitFlushed waits until everything queued, the close frame included, was
// written, or the close grace period passed.
func (c *conn) waitFlushed() {
	c.mu.Lock()
	ch := c.flushed
	c.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// finish runs when the reader stops: it drops the TCP connection and, unless
// the dispatcher still has messages to run first, $disconnect.
//
// Unless the closing handshake completed (the client's close frame came),
// the connection is reset rather than closed: a client that did not answer
// within the close grace period, or that went away, has not read what is
// still queued in the kernel, and a FIN would leave it there (a FIN-WAIT
// socket holding up to the send buffer) for minutes.
func (c *conn) finish() {
	c.startClose(causeDropped, wsproto.CloseAbnormal, "", nil) // no-op if a cause is recorded
	c.stopPings()
	if c.clientClosed {
		c.nc.Close()
	} else {
		closeAbortively(c.nc)
	}
	c.mu.Lock()
	c.state = stateClosed
	c.readerDone = true
	c.queue = nil
	run := !c.dispatching
	c.mu.Unlock()
	if run {
		c.srv.disconnected(c)
	}
}
