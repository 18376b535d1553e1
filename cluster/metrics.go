package cluster

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/switchboard-ws/switchboard/gateway"
)

var _ gateway.ClusterMetrics = (*Node)(nil)

// The operations of the requests a node sends, in metrics order.
var metricOps = [...]string{opPost, opGet, opDelete, opBatch}

// The outcomes of a request to another node.
const (
	outcomeOK       = iota // answered: done (batch: the ids that are gone come back in the reply)
	outcomeGone            // 410: the node is gone, or does not hold the id
	outcomeTooLarge        // 413
	outcomeTimeout         // 500: no answer within RequestTimeout
	outcomeError           // 500: NATS not connected, the node's own error, a malformed reply
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "gone", "too_large", "timeout", "error"}

// metrics are a node's counters; each an atomic add, no lock.
type metrics struct {
	requests        [len(metricOps)][numOutcomes]atomic.Uint64
	served          [len(metricOps)]atomic.Uint64
	noResponderGone atomic.Uint64
	batchesSent     atomic.Uint64
	batchesReceived atomic.Uint64
	disconnects     atomic.Uint64
	reconnects      atomic.Uint64
}

func opIndex(op string) int {
	for i, o := range metricOps {
		if o == op {
			return i
		}
	}
	return -1
}

// countRequest counts one request of op to another node by its outcome.
func (m *metrics) countRequest(op string, err error) {
	i := opIndex(op)
	if i < 0 {
		return
	}
	var te *timeoutError
	o := outcomeOK
	switch {
	case err == nil:
	case errors.Is(err, gateway.ErrGone):
		o = outcomeGone
	case errors.Is(err, gateway.ErrPayloadTooLarge):
		o = outcomeTooLarge
	case errors.As(err, &te):
		o = outcomeTimeout
	default:
		o = outcomeError
	}
	m.requests[i][o].Add(1)
}

// countServed counts one request of op from another node (refused ones
// included).
func (m *metrics) countServed(op string) {
	if i := opIndex(op); i >= 0 {
		m.served[i].Add(1)
	}
}

// WriteMetrics implements gateway.ClusterMetrics: the node's counters in
// the Prometheus text format, served on /metrics (docs/metrics.md).
func (n *Node) WriteMetrics(w io.Writer) {
	m := &n.metrics
	head := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric := func(name, typ, help string, v uint64) {
		head(name, typ, help)
		fmt.Fprintf(w, "%s %d\n", name, v)
	}
	head("switchboard_cluster_requests_total", "counter", "Requests sent to other nodes (forwarded @connections calls and broadcast messages), by operation and outcome.")
	for i, op := range metricOps {
		for o := range numOutcomes {
			fmt.Fprintf(w, "switchboard_cluster_requests_total{op=%q,outcome=%q} %d\n", op, outcomeNames[o], m.requests[i][o].Load())
		}
	}
	head("switchboard_cluster_requests_served_total", "counter", "Requests of other nodes received by this node, by operation (refused ones included).")
	for i, op := range metricOps {
		fmt.Fprintf(w, "switchboard_cluster_requests_served_total{op=%q} %d\n", op, m.served[i].Load())
	}
	metric("switchboard_cluster_broadcasts_sent_total", "counter", "Broadcast messages sent to other nodes (one per node and broadcast).", m.batchesSent.Load())
	metric("switchboard_cluster_broadcasts_received_total", "counter", "Broadcast messages received from other nodes.", m.batchesReceived.Load())
	metric("switchboard_cluster_messages_refused_total", "counter", "Cluster messages refused as malformed or oversized.", n.refusals.Load())
	metric("switchboard_cluster_no_responder_gone_total", "counter", "Requests answered 410 because no node answers on the id's prefix (the node is gone).", m.noResponderGone.Load())
	metric("switchboard_cluster_peers", "gauge", "Other servers the embedded NATS server is routed to (0 with an external NATS).", uint64(n.Peers()))
	connected := uint64(0)
	if n.nc.IsConnected() {
		connected = 1
	}
	metric("switchboard_cluster_nats_connected", "gauge", "1 when the node is connected to NATS, 0 while it reconnects.", connected)
	metric("switchboard_cluster_nats_disconnects_total", "counter", "Times the connection to NATS was lost.", m.disconnects.Load())
	metric("switchboard_cluster_nats_reconnects_total", "counter", "Times the node reconnected to NATS.", m.reconnects.Load())
}
