package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeLister = (*Store)(nil)

// qNodePrefixes is a loose index scan of the primary key: one index probe
// per distinct prefix (the next id at or after prefix+"~"), not a read of
// every connection.
const qNodePrefixes = `WITH RECURSIVE p(prefix) AS (
		(SELECT left(connection_id, 4) FROM connections ORDER BY connection_id LIMIT 1)
		UNION ALL
		SELECT (SELECT left(c.connection_id, 4) FROM connections c
			WHERE c.connection_id >= p.prefix || '~' ORDER BY c.connection_id LIMIT 1)
		FROM p WHERE p.prefix IS NOT NULL)
	SELECT prefix FROM p WHERE prefix IS NOT NULL LIMIT $1`

// NodePrefixes returns the node prefixes of the stored connections
// (store.NodeLister).
func (s *Store) NodePrefixes(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	var out []string
	err := s.db.do(ctx, func() error {
		var err error
		out, err = queryAll(ctx, s.pool, func(r pgx.Row) (string, error) {
			var p string
			return p, r.Scan(&p)
		}, qNodePrefixes, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: node prefixes: %w", err)
	}
	return out, nil
}
