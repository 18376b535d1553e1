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
