package store

import "context"

// NodeSweeper is implemented by stores shared by the nodes of a cluster
// (docs/cluster.md): it removes what a dead node left behind. A clustered
// connection id begins with its node's prefix (4 characters), so the
// connections of a node are those whose id has that prefix.
type NodeSweeper interface {
	// DeleteNodeConnections deletes up to limit connections whose id
	// begins with prefix (limit <= 0: DefaultPageLimit), with their
	// memberships and typing slots, and returns their images as
	// DeleteExpired does: memberships first, then connections. Expired or
	// not, they go: their node is gone. Several nodes may call it at once:
	// each connection is deleted, and its images returned, by exactly one
	// call. No image means none is left. On an error, the images of the
	// connections deleted before it are returned with it.
	DeleteNodeConnections(ctx context.Context, prefix string, limit int) ([]Image, error)
}

// NodeIDRange is the range [lo, hi) of the connection ids that begin with
// prefix: ids are URL-safe base64 (A-Z a-z 0-9 - _ =), all below '~', so
// in byte order they lie between prefix and prefix+"~".
func NodeIDRange(prefix string) (lo, hi string) { return prefix, prefix + "~" }

// NodeImages are the images of deleted connections and their memberships
// in the order of NodeSweeper: every membership, then every connection.
func NodeImages(conns []Connection, memberships []Membership) []Image {
	imgs := make([]Image, 0, len(conns)+len(memberships))
	for _, m := range memberships {
		imgs = append(imgs, MembershipImage(m))
	}
	for _, c := range conns {
		imgs = append(imgs, ConnectionImage(c))
	}
	return imgs
}

// NodeLister is implemented by shared stores that can tell which nodes
// their connections belong to, cheaply: a node that joins a cluster asks
// once, so that the connections of nodes that died before it ever heard
// them (the whole cluster restarted, say) are judged and removed like
// those of a node that dies later, instead of waiting for the connection
// TTL (docs/cluster.md).
type NodeLister interface {
	// NodePrefixes returns up to limit distinct node prefixes (the first
	// 4 characters of the connection ids) of the stored connections, in
	// byte order (limit <= 0: DefaultPageLimit).
	NodePrefixes(ctx context.Context, limit int) ([]string, error)
}
