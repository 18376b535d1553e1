package gateway

import (
	"fmt"
	"net"
	"time"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// enqueue appends a prepared frame to the connection's send queue. The frame
// is shared, never modified: one frame built for a broadcast is queued to
// every recipient. data frames count as activity for the idle timeout.
//
// A consumer whose queue would exceed Limits.SendQueueBytes is too slow to
// keep up: it is closed with 1008 and the frame is refused with ErrGone.
func (c *conn) enqueue(frame []byte, data bool) error {
	var now int64
	if data {
		now = time.Now().UnixNano()
	}
	err := c.enqueueAt(frame, now)
	if err == nil && data {
		c.srv.metrics.messagesOut.Add(1)
	}
	return err
}

// enqueueAt is enqueue with the time of a data frame given (unix
// nanoseconds; 0 for a control frame): a broadcast reads the clock once
// for all its recipients, and counts them once.
func (c *conn) enqueueAt(frame []byte, now int64) error {
	_, err := c.enqueueOrClaim(frame, now, false)
	return err
}

// enqueueOrClaim is enqueueAt; with claim, when nothing is queued or being
// written, it takes the writing flag instead of queueing the frame and
// starting a writer, and returns claimed: the caller then writes the frame
// itself, with writeClaimed.
func (c *conn) enqueueOrClaim(frame []byte, now int64, claim bool) (claimed bool, err error) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false, ErrGone
	}
	if c.queued+len(frame) > c.srv.limits.SendQueueBytes {
		c.mu.Unlock()
		c.slowConsumer()
		return false, ErrGone
	}
	c.queued += len(frame)
	if now != 0 {
		c.counts.out += uint64(payloadLen(frame))
	}
	start := !c.writing
	c.writing = true
	claimed = claim && start && len(c.queue) == 0
	if !claimed {
		c.queue = append(c.queue, frame)
		if start {
			c.srv.wg.Add(1) // under c.mu, while open: see goroutines
		}
	}
	c.mu.Unlock()
	if now != 0 {
		c.lastActive.Store(now)
		if c.srv.insp.watching.Load() {
			c.srv.insp.frame(c, eventFrameOut, framePayload(frame))
		}
	}
	if start && !claimed {
		go c.writeLoop()
	}
	return claimed, nil
}

// slowConsumer drops what is queued, queues a 1008 close, and shortens the
// deadline of the write under way so that a stuck client is let go soon:
// if the client reads again within closeWriteGrace, the rest of the frame being
// written and the 1008 close reach it; otherwise the write fails and the
// socket is reset (writeLoop), freeing what the kernel held for it.
func (c *conn) slowConsumer() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	for i := range c.queue {
		c.queued -= len(c.queue[i])
	}
	c.queue = c.queue[:0]
	c.mu.Unlock()
	c.srv.log.Warn("closing slow consumer", "connectionId", c.meta.id, "sendQueueBytes", c.srv.limits.SendQueueBytes)
	c.closeWith(causeSlowConsumer, wsproto.ClosePolicyViolation, fmt.Sprintf("Slow consumer: more than %d bytes queued", c.srv.limits.SendQueueBytes))
	c.nc.SetWriteDeadline(time.Now().Add(c.closeWriteGrace()))
}

// writeLoop drains the send queue: everything queued at the time goes out in
// one write, vectored (writev) when there are several frames. It exits when
// the queue is empty, so an idle connection has no writer goroutine.
//
// It runs as a goroutine of the server's: whoever starts it counted it with
// c.srv.wg.Add(1) first.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	var bufs net.Buffers
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.state == stateClosed {
			c.writing = false
			c.queue = nil
			if c.state != stateOpen {
				closeOnce(c.flushed)
			}
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		closing := c.state == stateClosing
		c.mu.Unlock()

		n := 0
		for _, f := range batch {
			n += len(f)
		}
		if closing {
			c.setWriteDeadline(time.Now().Add(c.closeWriteGrace()))
		} else {
			c.refreshWriteDeadline()
			if c.closing.Load() {
				// A close began after the batch was taken: slowConsumer
				// shortened the deadline, perhaps before the refresh
				// above lengthened it again.
				c.setWriteDeadline(time.Now().Add(c.closeWriteGrace()))
			}
		}
		var err error
		if len(batch) == 1 {
			_, err = c.nc.Write(batch[0])
		} else {
			bufs = append(bufs[:0], batch...)
			_, err = bufs.WriteTo(c.nc)
		}
		clear(batch)

		if err == nil {
			c.srv.metrics.bytesOut.Add(uint64(n))
		}
		c.mu.Lock()
		c.queued -= n
		if c.queue == nil {
			c.queue = batch[:0] // reuse the slice for the next batch
		}
		c.mu.Unlock()
		if err != nil {
			// The peer is gone or stuck: reset the TCP connection (what it
			// has not read is dropped, not kept in a FIN-WAIT socket); the
			// reader sees it and finishes the connection.
			c.startClose(causeWriteFailed, wsproto.CloseAbnormal, "", nil)
			closeAbortively(c.nc)
			c.mu.Lock()
			c.writing = false
			c.queue = nil
			closeOnce(c.flushed)
			c.mu.Unlock()
			return
		}
		if closing {
			// The close frame went out: give the client closeGrace to answer.
			c.nc.SetReadDeadline(time.Now().Add(closeGrace))
		}
	}
}

// closeWriteGrace is how long a write may wait once the connection is
// closing: closeGrace, or WriteTimeout if shorter.
func (c *conn) closeWriteGrace() time.Duration {
	return min(closeGrace, c.srv.limits.WriteTimeout)
}

// refreshWriteDeadline makes sure the next write has at least
// Limits.WriteTimeout: setting a deadline is not free (it rearms a runtime
// timer), so it is moved only when less than WriteTimeout remains, to
// 1.5 x WriteTimeout from now. A write therefore fails after between
// WriteTimeout and 1.5 x WriteTimeout. The caller holds the writing flag.
func (c *conn) refreshWriteDeadline() {
	wt := c.srv.limits.WriteTimeout
	now := time.Now()
	if c.writeDeadline-now.UnixNano() < int64(wt) {
		c.setWriteDeadline(now.Add(wt + wt/2))
	}
}

// setWriteDeadline sets nc's write deadline and remembers it. The caller
// holds the writing flag.
func (c *conn) setWriteDeadline(t time.Time) {
	c.nc.SetWriteDeadline(t)
	c.writeDeadline = t.UnixNano()
}

// closeOnce closes ch unless it is nil or already closed. Callers hold c.mu.
func closeOnce(ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}
