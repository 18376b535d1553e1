package gateway

import "net"

// closeAbortively closes nc with a TCP reset (SO_LINGER 0) instead of a
// FIN: the kernel drops what the client has not read instead of holding it
// in a FIN-WAIT socket (up to the send buffer, megabytes) for as long as
// it keeps retransmitting. It is for clients that stopped reading: a slow
// consumer, a write that timed out, a closing handshake the client never
// answered. A TLS connection's socket is closed under it, without a
// close_notify, which could only wait behind the unread data.
func closeAbortively(nc net.Conn) {
	inner := nc
	for {
		u, ok := inner.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		inner = u.NetConn()
	}
	setLingerZero(inner)
	inner.Close()
	if inner != nc {
		nc.Close()
	}
}
