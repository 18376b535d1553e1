package gateway

import (
	"errors"
	"runtime"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// directChunk is the least number of connections worth a goroutine of
// their own in writeDirect.
const directChunk = 32

// writeDirect writes frame to connections whose writing flag the caller
// claimed (enqueueOrClaim), from at most GOMAXPROCS goroutines instead of
// one writer goroutine per connection: starting and scheduling 10,000
// goroutines for one broadcast cost more than the writes' own bookkeeping.
// A write never waits: a socket that takes less than the whole frame gets
// the rest queued and a writer goroutine (writeClaimed). The goroutines are
// the server's (s.wg); the caller, PostFrame, holds a count of its own from
// before it claimed the connections, so that Shutdown cannot find the count
// at zero in between.
func (s *Server) writeDirect(conns []*conn, frame []byte) {
	k := min(runtime.GOMAXPROCS(0), (len(conns)+directChunk-1)/directChunk)
	per := (len(conns) + k - 1) / k
	for len(conns) > 0 {
		part := conns[:min(per, len(conns))]
		conns = conns[len(part):]
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for _, c := range part {
				c.writeClaimed(frame)
			}
		}()
	}
}

// writeClaimed writes frame for a caller that holds the writing flag with
// frame counted in queued but not queued. What the socket does not take at
// once is queued at the front, and a writer goroutine carries on, as it
// does for whatever was queued meanwhile (the close frame of a close that
// began during the write among it).
func (c *conn) writeClaimed(frame []byte) {
	// The write does not wait, but the socket refuses any write once its
	// deadline has passed: keep it ahead, as writeLoop does.
	c.refreshWriteDeadline()
	n, err := tryWrite(c.nc, frame)
	if n > 0 {
		c.srv.metrics.bytesOut.Add(uint64(n))
	}
	if err != nil && !errors.Is(err, errWouldBlock) {
		c.startClose(causeWriteFailed, wsproto.CloseAbnormal, "", nil)
		c.nc.Close()
		c.mu.Lock()
		c.queued -= n
		c.writing = false
		c.queue = nil
		closeOnce(c.flushed)
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	c.queued -= n
	if n < len(frame) {
		c.queue = append([][]byte{frame[n:]}, c.queue...)
	}
	if len(c.queue) == 0 {
		c.writing = false
		c.queue = nil
		if c.state != stateOpen {
			closeOnce(c.flushed)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.srv.wg.Add(1) // the caller, a direct writer, is counted: see goroutines
	go c.writeLoop()
}
