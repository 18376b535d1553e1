package gateway

import (
	"fmt"
	"io"
	"sync/atomic"
)

// closeCause is why a connection ended, as the metrics count it.
type closeCause uint8

const (
	causeClient       closeCause = iota // the client's close frame
	causeProtocol                       // the client broke the protocol or a limit (1002, 1003, 1007, 1009)
	causeDeleted                        // DELETE @connections, or Server.Disconnect
	causeIdle                           // the idle timeout
	causeMaxDuration                    // the maximum connection duration
	causeSlowConsumer                   // more than SendQueueBytes queued (1008)
	causeShutdown                       // Server.Shutdown (1001)
	causeWriteFailed                    // a write to the socket failed or timed out
	causeDropped                        // the TCP connection ended without a close frame (1006)
	causePingTimeout                    // Limits.MaxMissedPongs pings unanswered (1001)
	numCauses
)

var causeNames = [numCauses]string{
	"client", "protocol_error", "deleted", "idle_timeout", "max_duration",
	"slow_consumer", "shutdown", "write_failed", "dropped",
	"ping_timeout",
}

// counter is an atomic counter on a cache line of its own, so that the
// goroutines of different connections adding to different counters do not
// contend.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// metrics are the server's counters. Every update is one atomic add: no
// lock is taken on the send or receive path for them.
type metrics struct {
	connections counter // handshakes completed
	messagesIn  counter // data messages received from clients
	bytesIn     counter // their payload bytes
	messagesOut counter // data frames queued to clients, one per recipient
	bytesOut    counter // bytes written to client sockets (frames of every kind)
	closes      [numCauses]counter
	mgmtPosts   counter // POST @connections/{id}
	mgmtGone    counter // of which answered 410
	batches     counter // POST @switchboard/connections
	batchGone   counter // ids a batch found gone
}

// writeMetrics writes the gateway's metrics in the Prometheus text format.
func (s *Server) writeMetrics(w io.Writer) {
	m := &s.metrics
	metric := func(name, typ, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	metric("switchboard_connections_open", "gauge", "WebSocket connections open now.", uint64(s.reg.len()))
	metric("switchboard_connections_total", "counter", "WebSocket handshakes completed.", m.connections.Load())
	fmt.Fprintf(w, "# HELP switchboard_connections_closed_total Connections ended, by cause.\n# TYPE switchboard_connections_closed_total counter\n")
	for i := range m.closes {
		fmt.Fprintf(w, "switchboard_connections_closed_total{cause=%q} %d\n", causeNames[i], m.closes[i].Load())
	}
	metric("switchboard_messages_received_total", "counter", "Data messages received from clients.", m.messagesIn.Load())
	metric("switchboard_received_bytes_total", "counter", "Payload bytes of the data messages received from clients.", m.bytesIn.Load())
	metric("switchboard_messages_sent_total", "counter", "Data frames queued to clients, one per recipient.", m.messagesOut.Load())
	metric("switchboard_sent_bytes_total", "counter", "Bytes written to client sockets, frames of every kind.", m.bytesOut.Load())
	metric("switchboard_management_posts_total", "counter", "POST @connections/{id} requests.", m.mgmtPosts.Load())
	metric("switchboard_management_posts_gone_total", "counter", "POST @connections/{id} requests answered 410 Gone.", m.mgmtGone.Load())
	metric("switchboard_batch_posts_total", "counter", "POST @switchboard/connections requests.", m.batches.Load())
	metric("switchboard_batch_gone_total", "counter", "Connection ids of batch posts that were gone.", m.batchGone.Load())
	metric("switchboard_integrations_past_timeout", "gauge", "Integration and authorizer calls still running after their timeout was answered (user code that ignores its context).", uint64(max(s.overdue.Load(), 0)))
	s.writeRouteMetrics(w)
}
