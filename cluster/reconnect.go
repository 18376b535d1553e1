package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Reconnecting to NATS.
const (
	// DefaultReconnectWait is how long a node waits between attempts to
	// reconnect to a NATS server it lost (it tries the others of the URL
	// list at once); it tries forever. A jitter of up to
	// DefaultReconnectJitter (TLS: twice that) is added.
	DefaultReconnectWait   = time.Second
	DefaultReconnectJitter = 500 * time.Millisecond
	// DefaultReconnectSettle is how long after a (re)connection to NATS a
	// node does not take "no responders" for a node that is gone: the
	// other nodes reconnect at their own pace, and until they do their
	// subscriptions are unknown to the server. Such a request is answered
	// as failed (500), not 410: a chat deletes a connection on 410.
	DefaultReconnectSettle = 5 * time.Second
)

// reconnectOptions make the node reconnect forever, fail requests at once
// while disconnected (nothing is buffered to be sent late, after the
// caller was told it failed), and count and log the disconnections.
func (n *Node) reconnectOptions() []nats.Option {
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(DefaultReconnectWait),
		nats.ReconnectJitter(DefaultReconnectJitter, 2*DefaultReconnectJitter),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.metrics.disconnects.Add(1)
			n.link.lost()
			if err != nil {
				n.log.Warn("cluster: disconnected from NATS; reconnecting (requests to other nodes fail until then)", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.metrics.reconnects.Add(1)
			n.link.restored()
			n.reconnectedAt.Store(time.Now().UnixNano())
			n.forgetGone()
			n.log.Info("cluster: reconnected to NATS", "server", c.ConnectedUrlRedacted())
		}),
	}
}

// settling reports whether the node (re)connected to NATS less than
// DefaultReconnectSettle ago.
func (n *Node) settling() bool {
	at := n.reconnectedAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < DefaultReconnectSettle
}

// forgetGone forgets the prefixes found gone: after a reconnection, a
// prefix without responder may be a node that has not reconnected yet.
func (n *Node) forgetGone() {
	n.goneMu.Lock()
	n.gone = nil
	n.goneMu.Unlock()
}

// timeoutError is a request that got no answer within the request timeout.
type timeoutError struct {
	prefix string
	after  time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("cluster: node %s did not answer within %v", e.prefix, e.after)
}

// errNotConnected is a request made while the node reconnects to NATS.
var errNotConnected = errors.New("not connected to NATS (reconnecting)")

// disconnected reports whether err means the request could not be sent
// because the connection to NATS is down.
func disconnected(err error) bool {
	return errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected)
}

// linkState gives each request a context that ends when the connection to
// NATS is lost: a request in flight then would otherwise wait its whole
// timeout for a reply that cannot come.
type linkState struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
}

// current is the context of the connection now: done once it is lost.
func (l *linkState) current() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		l.ctx, l.cancel = context.WithCancel(context.Background())
	}
	return l.ctx
}

// lost ends the current connection's context.
func (l *linkState) lost() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel()
	}
}

// restored starts a new connection context.
func (l *linkState) restored() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel()
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
}

// errLinkLost is a request whose connection to NATS was lost before the
// reply came: the other node may or may not have received it.
var errLinkLost = errors.New("connection to NATS lost before the answer came (the request may or may not have reached the node)")
