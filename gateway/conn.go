package gateway

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/switchboard-ws/switchboard/wsproto"
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
// holds this struct, its net.Conn and one parked reader goroutine, and no
// buffers.
type conn struct {
	srv  *Server
	nc   net.Conn
	rd   io.Reader // nc, or bytes the handshake had buffered followed by nc
	meta connMeta

	lastActive atomic.Int64 // unix nanoseconds of the last data frame, either way

	mu      sync.Mutex
	state   connState
	writing bool     // a writer goroutine is draining queue
	queue   [][]byte // prepared frames not yet handed to the kernel
	queued  int      // bytes in queue and in the write under way
	// why the connection ended: the first cause recorded wins
	closeCode   int
	closeReason string
	flushed     chan struct{} // made when closing starts; closed once the queue drained
	// inbound messages read but not yet dispatched
	inbox       [][]byte
	dispatching bool
	readerDone  bool
	room        chan struct{} // made when the reader waits for room in inbox

	hdr [wsproto.MaxHeaderSize]byte // the reader's scratch space
}

func (c *conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// readLoop reads frames until the connection ends, then runs $disconnect
// (after any messages still queued have been dispatched).
func (c *conn) readLoop() {
	defer c.srv.wg.Done()
	defer c.finish()

	lim := &c.srv.limits
	var (
		h       wsproto.Header
		msg     []byte // the message being assembled from fragments
		inMsg   bool
		ctrlBuf []byte
	)
	for {
		if err := wsproto.ReadHeader(c.rd, c.hdr[:], &h); err != nil {
			c.readFailed(err)
			return
		}
		if !h.Masked {
			c.fail(wsproto.CloseProtocolError, "Client frames must be masked")
			return
		}
		if h.Op.IsControl() {
			if cap(ctrlBuf) == 0 {
				ctrlBuf = make([]byte, 0, 125)
			}
			p := ctrlBuf[:h.Length]
			if _, err := io.ReadFull(c.rd, p); err != nil {
				c.readFailed(err)
				return
			}
			wsproto.Unmask(p, h.Mask, 0)
			if !c.control(h.Op, p) {
				return
			}
			continue
		}
		switch {
		case h.Op == wsproto.OpBinary:
			c.fail(wsproto.CloseUnsupportedData, "Binary frames are not supported")
			return
		case h.Op == wsproto.OpContinuation && !inMsg:
			c.fail(wsproto.CloseProtocolError, "Continuation frame without a message to continue")
			return
		case h.Op == wsproto.OpText && inMsg:
			c.fail(wsproto.CloseProtocolError, "New message before the previous one was finished")
			return
		case h.Length > int64(lim.MaxFrameBytes):
			c.fail(wsproto.CloseMessageTooBig, "Frame too big")
			return
		case int64(len(msg))+h.Length > int64(lim.MaxMessageBytes):
			c.fail(wsproto.CloseMessageTooBig, "Message too big")
			return
		}
		inMsg = true
		start := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
		if _, err := io.ReadFull(c.rd, msg[start:]); err != nil {
			c.readFailed(err)
			return
		}
		wsproto.Unmask(msg[start:], h.Mask, 0)
		if !h.Fin {
			continue
		}
		if !utf8.Valid(msg) {
			c.fail(wsproto.CloseInvalidPayload, "Text message is not valid UTF-8")
			return
		}
		c.touch()
		if !c.deliver(msg) {
			return
		}
		msg, inMsg = nil, false
	}
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
	code, reason, ok := wsproto.ParseClosePayload(p)
	if !ok {
		c.fail(wsproto.CloseProtocolError, "Invalid close frame")
		return false
	}
	// Echo the close (RFC 6455 5.5.1) unless we started the closing
	// handshake, and wait until it is written.
	reply := code
	if reply == wsproto.CloseNoStatus {
		reply = wsproto.CloseNormal
	}
	c.startClose(code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(reply, "")))
	c.waitFlushed()
	return false
}

// deliver hands a complete message to the dispatcher, waiting while the
// connection has too many messages queued. false means the connection ended.
func (c *conn) deliver(msg []byte) bool {
	c.mu.Lock()
	for len(c.inbox) >= c.srv.limits.InboundQueue && c.state == stateOpen {
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		<-room
		c.mu.Lock()
	}
	if c.state != stateOpen {
		c.mu.Unlock()
		return false
	}
	c.inbox = append(c.inbox, msg)
	start := !c.dispatching
	c.dispatching = true
	c.mu.Unlock()
	if start {
		c.srv.wg.Add(1) // the reader's own count keeps the group above zero
		go c.dispatchLoop()
	}
	return true
}

// dispatchLoop runs the route of each queued message in order, and
// $disconnect when the reader has finished and the queue is empty.
func (c *conn) dispatchLoop() {
	defer c.srv.wg.Done()
	for {
		c.mu.Lock()
		if len(c.inbox) == 0 {
			c.inbox = nil
			c.dispatching = false
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
		if c.room != nil {
			close(c.room)
			c.room = nil
		}
		c.mu.Unlock()
		c.srv.handleMessage(c, unsafe.String(unsafe.SliceData(msg), len(msg)))
	}
}

// readFailed ends the connection after a read error: a TCP connection that
// ended without a close frame is 1006; a malformed frame is 1002.
func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, wsproto.ErrReservedBits), errors.Is(err, wsproto.ErrReservedOpcode),
		errors.Is(err, wsproto.ErrControlTooLong), errors.Is(err, wsproto.ErrControlFragment),
		errors.Is(err, wsproto.ErrLengthEncoding):
		c.fail(wsproto.CloseProtocolError, err.Error()[len("wsproto: "):])
	case errors.As(err, &ne) && ne.Timeout():
		// The close grace period ran out: the cause is already recorded.
		c.startClose(wsproto.CloseAbnormal, "", nil)
	default:
		c.startClose(wsproto.CloseAbnormal, "", nil)
	}
}

// fail closes the connection from the reader because of what the client
// sent, telling it why.
func (c *conn) fail(code int, reason string) {
	c.startClose(code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(code, reason)))
	c.waitFlushed()
}

// closeWith closes the connection from the server's side (DELETE, limits,
// shutdown): the close frame is sent and the client given closeGrace to
// answer before the TCP connection is dropped.
func (c *conn) closeWith(code int, reason string) {
	c.startClose(code, reason, wsproto.Frame(wsproto.OpClose, wsproto.ClosePayload(code, reason)))
}

// startClose records why the connection ends and queues closeFrame (nil:
// none). Only the first call has an effect. The connection leaves the
// registry at once, so that the management API answers 410 from now on.
func (c *conn) startClose(code int, reason string, closeFrame []byte) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.closeCode, c.closeReason = code, reason
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
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	c.mu.Unlock()
	c.srv.reg.remove(c)
	if start {
		go c.writeLoop()
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
func (c *conn) finish() {
	c.startClose(wsproto.CloseAbnormal, "", nil) // no-op if a cause is recorded
	c.nc.Close()
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
