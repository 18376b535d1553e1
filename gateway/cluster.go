package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"strings"
	"sync"
)

// Cluster lets several gateway nodes share one connection namespace: the
// connections another node holds are reached through it. Package cluster
// implements it over NATS; the gateway only needs this much.
//
// Every connection id this node mints begins with NodePrefix (4 of the 16
// characters: the first 3 of the id's 11 bytes), so whether an id is local
// and, if not, which node holds it is read from the id itself: no lookup on
// the hot path. An id that begins otherwise is sent to the Cluster, which
// answers ErrGone when no node holds it.
type Cluster interface {
	// NodePrefix is the 4-character prefix of this node's connection ids
	// (URL-safe base64 of 3 bytes, no padding).
	NodePrefix() string
	// Post, Info and Disconnect are Connections' methods, for an id held by
	// another node: ErrGone when its node is gone or does not know it.
	Post(ctx context.Context, id string, data []byte) error
	Info(ctx context.Context, id string) (ConnectionInfo, error)
	Disconnect(ctx context.Context, id string) error
	// PostMany sends data as one text frame to connections that all belong
	// to the node of prefix, and returns the ids that are gone (all of them
	// when the node is gone).
	PostMany(ctx context.Context, prefix string, ids []string, data []byte) (gone []string)
}

// NodePrefixLen is the length of the node prefix of a clustered
// connection id.
const NodePrefixLen = 4

// ValidNodePrefix reports whether p can be a node prefix: 4 characters of
// URL-safe base64 (3 bytes).
func ValidNodePrefix(p string) bool {
	if len(p) != NodePrefixLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(p)
	return err == nil
}

// ValidConnectionID reports whether id has the shape of a connection id
// (16 characters of URL-safe base64 with its padding).
func ValidConnectionID(id string) bool { return validID(id) }

// newConnID returns the id of a new connection: newID's shape, its first 3
// bytes the node's prefix when clustered.
func (s *Server) newConnID() string {
	if s.cluster == nil {
		return newID()
	}
	var b [11]byte
	rand.Read(b[3:])
	base64.RawURLEncoding.Decode(b[:3], []byte(s.cluster.NodePrefix()))
	return base64.URLEncoding.EncodeToString(b[:])
}

// remote reports whether id belongs to another node of the cluster.
func (s *Server) remote(id string) bool {
	return s.cluster != nil && len(id) >= NodePrefixLen && !strings.HasPrefix(id, s.nodePrefix)
}

// postRemote sends frame's payload to the ids held by other nodes, one
// request per node (in parallel), and returns the ids that are gone and,
// when the cluster tells them (ClusterBroadcaster), those not reached.
func (s *Server) postRemote(ctx context.Context, byNode map[string][]string, frame []byte) (gone, failed []string) {
	data := framePayload(frame)
	post := func(prefix string, ids []string) (gone, failed []string) {
		if cb, ok := s.cluster.(ClusterBroadcaster); ok {
			return cb.PostManyResult(ctx, prefix, ids, data)
		}
		return s.cluster.PostMany(ctx, prefix, ids, data), nil
	}
	if len(byNode) == 1 {
		for prefix, ids := range byNode {
			return post(prefix, ids)
		}
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for prefix, ids := range byNode {
		wg.Go(func() {
			g, f := post(prefix, ids)
			if len(g) > 0 || len(f) > 0 {
				mu.Lock()
				gone, failed = append(gone, g...), append(failed, f...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return gone, failed
}

// framePayload returns the payload of a final, unmasked frame made by
// wsproto.Frame.
func framePayload(frame []byte) []byte {
	switch frame[1] & 0x7f {
	case 126:
		return frame[4:]
	case 127:
		return frame[10:]
	default:
		return frame[2:]
	}
}

// ClusterBroadcaster is implemented by a Cluster that tells, of a
// broadcast to another node, the ids it could not reach (the node did not
// answer, NATS is down: not known to be gone, perhaps not delivered) apart
// from those gone. PostFrameResult and the batch extension report them.
type ClusterBroadcaster interface {
	PostManyResult(ctx context.Context, prefix string, ids []string, data []byte) (gone, failed []string)
}

// ClusterMetrics is implemented by a Cluster that has metrics of its own:
// MetricsHandler writes them after the gateway's (docs/metrics.md).
type ClusterMetrics interface {
	WriteMetrics(w io.Writer)
}
