package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeLister = (*Store)(nil)

const qNodePrefixes = `SELECT DISTINCT substr(connection_id, 1, 4) FROM connections
	ORDER BY 1 LIMIT ?1`

// NodePrefixes returns the node prefixes of the stored connections
// (store.NodeLister). Not a cached statement: it runs once per node.
func (s *Store) NodePrefixes(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	rows, err := s.r.QueryContext(ctx, qNodePrefixes, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: node prefixes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("sqlite: node prefixes: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: node prefixes: %w", err)
	}
	return out, nil
}
