package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeSweeper = (*Store)(nil)

// qNodeConnections lists the connections of a node: a range of the
// primary key.
const qNodeConnections = `SELECT connection_id FROM connections
	WHERE connection_id >= ?1 AND connection_id < ?2 ORDER BY connection_id LIMIT ?3`

// DeleteNodeConnections deletes up to limit connections of the node of
// prefix, each with DeleteConnection (one writer: a connection deleted by
// another call meanwhile is skipped), and returns their images
// (store.NodeSweeper). The embedded store serves one process, so this
// only matters to a process that shares its data directory in turn.
func (s *Store) DeleteNodeConnections(ctx context.Context, prefix string, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	lo, hi := store.NodeIDRange(prefix)
	ids, err := s.nodeConnections(ctx, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: connections of node %q: %w", prefix, err)
	}
	var conns []store.Connection
	var members []store.Membership
	for _, id := range ids {
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

// nodeConnections reads the ids in [lo, hi), at most limit, from the
// table (not the index: a dead node's connections are looked for once,
// not on a request path). Not a cached statement: it runs once per node.
func (s *Store) nodeConnections(ctx context.Context, lo, hi string, limit int) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, qNodeConnections, lo, hi, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
