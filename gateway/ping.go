package gateway

import (
	"time"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// pingFrame is the server's ping: no payload, prepared once.
var pingFrame = wsproto.Frame(wsproto.OpPing, nil)

// startPings arms the connection's ping timer when Limits.PingInterval is
// set. The reader calls it once, at its start. The timer holds no
// goroutine between pings (time.AfterFunc); its callback counts itself in
// the server's goroutines while the connection is open.
func (c *conn) startPings() {
	d := c.srv.limits.PingInterval
	if d <= 0 {
		return
	}
	c.mu.Lock()
	if c.state == stateOpen {
		c.pinger = time.AfterFunc(d, c.pingTick)
	}
	c.mu.Unlock()
}

// stopPings disarms the timer; the reader calls it as it finishes. A tick
// already running finds the connection closed and does nothing.
func (c *conn) stopPings() {
	c.mu.Lock()
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
}

// heard records that the client sent a frame: its pings are answered. The
// reader calls it for every frame; it writes only when pings are missed.
func (c *conn) heard() {
	if c.missedPongs.Load() != 0 {
		c.missedPongs.Store(0)
	}
}

// pingTick runs every PingInterval: it closes a connection whose client
// has left MaxMissedPongs pings in a row unanswered (1001 "Ping timeout"),
// and otherwise sends the next ping and rearms the timer.
func (c *conn) pingTick() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.srv.wg.Add(1) // under c.mu, while open: see goroutines
	c.mu.Unlock()
	defer c.srv.wg.Done()

	if int(c.missedPongs.Load()) >= c.srv.limits.MaxMissedPongs {
		c.srv.log.Info("closing a connection that does not answer pings", "connectionId", c.meta.id,
			"missedPongs", c.missedPongs.Load(), "pingInterval", c.srv.limits.PingInterval)
		c.closeWith(causePingTimeout, wsproto.CloseGoingAway, "Ping timeout")
		return
	}
	c.missedPongs.Add(1)
	if c.enqueue(pingFrame, false) != nil {
		return // closing (a slow consumer is closed by enqueue)
	}
	c.mu.Lock()
	if c.state == stateOpen {
		c.pinger.Reset(c.srv.limits.PingInterval)
	}
	c.mu.Unlock()
}
