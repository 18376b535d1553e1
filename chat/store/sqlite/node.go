package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeSweeper = (*Store)(nil)

// DeleteNodeConnections deletes up to limit connections of the node of
// prefix, each with DeleteConnection (a connection deleted by another call
// meanwhile is skipped), and returns their images (store.NodeSweeper).
// The embedded store serves one process, whose connections are in its
// memory only: it holds no other node's.
func (s *Store) DeleteNodeConnections(ctx context.Context, prefix string, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: connections of node %q: %w", prefix, err)
	}
	lo, hi := store.NodeIDRange(prefix)
	var conns []store.Connection
	var members []store.Membership
	for _, id := range s.idx.connsInRange(lo, hi, limit) {
		c, ms, err := s.DeleteConnection(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.NodeImages(conns, members), err
		}
		conns, members = append(conns, c), append(members, ms...)
	}
	return store.NodeImages(conns, members), nil
}
