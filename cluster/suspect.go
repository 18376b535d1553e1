package cluster

import "github.com/switchboard-ws/switchboard/gateway"

// Suspect adds node prefixes this node has never heard beat — found, say,
// in the ids of a shared store's connections when it joins — to the
// dead-node detection as if they had beaten when this node connected to
// NATS: a prefix that stays silent for DeadAfter and that nobody
// subscribes to is declared dead, and cleaned up through OnNodeDead, like
// a node that dies later. Without it, the connections of nodes that died
// before any live node heard them (the whole cluster restarted) would wait
// for the connection TTL. Live nodes beat and are never judged; this
// node's own prefix and known prefixes are ignored. Call it after Serve.
func (n *Node) Suspect(prefixes ...string) {
	n.mu.Lock()
	l := n.live
	n.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range prefixes {
		if p == n.prefix || len(p) != gateway.NodePrefixLen || l.peers[p] != nil || len(l.peers) >= maxPeers {
			continue
		}
		l.peers[p] = &peerState{} // heard never: silent since l.since
		n.log.Info("cluster: node suspected from the store (never heard): judged after deadAfter", "peer", p)
	}
}
