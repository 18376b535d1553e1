// Package cluster lets several gateway nodes share one connection
// namespace over NATS, as API Gateway's many nodes do behind one API: any
// node can post to, describe or delete any connection. It implements
// gateway.Cluster; the gateway never imports it, and it never imports the
// chat application.
//
// # Ids lead to their node
//
// A connection id keeps AWS's shape: 11 bytes in URL-safe base64 with
// padding, 16 characters. When clustered, its first 3 bytes are the node's
// prefix and the other 8 are random, so the first 4 characters of an id
// name the node that holds it. A node therefore knows from the id alone,
// with no lookup and no shared table, whether a connection is its own and,
// if not, where to send the request: to the subjects
//
//	switchboard.<api>.node.<prefix>.{post,get,delete,batch}
//
// which only the owning node subscribes to.
//
// A node's prefix is chosen at random (24 bits) each time it joins, and is
// free: before taking it, the node asks switchboard.<api>.node.<prefix>.ping,
// and takes it only when NATS says no one subscribes (no responders). The
// prefix is thereby also the node's incarnation: a node that restarts gets
// a new prefix, so the ids of its previous life (whose clients are gone)
// are sent to a prefix no one answers, and are 410 GoneException at once,
// without a timeout. Should a new node draw a dead node's prefix again (one
// chance in 16 million per restart), the old ids reach a node that does not
// hold them, which answers 410 as well: an id is gone unless its node holds
// it now. Two nodes joining in the same instant could draw the same prefix
// without seeing each other; the chance of that is the same one in 16
// million, and is why the prefix is random rather than a counter.
//
// # Requests and broadcasts
//
// Post, Info and Disconnect of another node's id are one NATS request each,
// bounded by Config.RequestTimeout. No responders means the node is gone:
// ErrGone, which the management API answers as 410 GoneException; a
// timeout is an error (500), not 410, since the node may still hold the
// connection. The receiving node checks the id is its own and runs the
// request on its gateway as a local one; the management API's rules
// (SigV4 or loopback, origins) were applied by the node that received the
// HTTP request. Cluster traffic itself is authenticated by NATS.
//
// A broadcast (gateway.Server.PostFrame, the batch extension) groups its
// ids by prefix: the local ones are written as before, and each other node
// gets ONE message carrying the payload once and its ids, and answers with
// the ids that are gone. The node builds the frame once for all its
// recipients.
//
// # Messages
//
// Messages are small and binary, version 1 (wire.go). A node refuses a
// message that is malformed (wrong version, wrong length, invalid id) or
// over its size limit with a status the sender sees, counts it (Refused)
// and logs it at most every ten seconds; it never panics on one.
//
// # NATS
//
// With Config.URL the node connects to an external NATS (user and
// password, token, TLS with a CA and a client certificate). With
// Config.Listen each node runs an embedded NATS server (nats-server's Go
// module): no client port (the node connects to it in-process), routes on
// Listen (loopback unless set otherwise) with the shared Config.Secret as
// their password, routed to Config.Peers; three nodes need nothing else
// installed. A node given the wrong credentials cannot join: Join fails with
// NATS's authorization error (external), or its routes are refused and
// logged on both sides (embedded).
//
// # Dead nodes
//
// Every node beats (liveness.go): a message with its prefix every
// Config.BeatInterval. A node silent for Config.DeadAfter whose subjects
// NATS says nobody subscribes to (no responders) is declared dead: its
// ids are 410 at once, and one surviving node (the smallest prefix heard
// beating) calls the OnNodeDead function, which removes the dead node's
// connections from the chat's shared store. A slow node keeps its
// subscription, so it is spared however long it is silent.
//
// # Leaving
//
// A node leaves by shutting down its gateway first (new connections
// refused, every client closed with 1001 so that it reconnects to another
// node, $disconnect run for each), then Close: requests already received
// are answered, the subscription ends, then the NATS connection and the
// embedded server. From then on its ids are 410 on every node.
package cluster
