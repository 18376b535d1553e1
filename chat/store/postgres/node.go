package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeSweeper = (*Store)(nil)

// The connections of a dead node: a range of the primary key (connection
// ids are COLLATE "C"), locked with SKIP LOCKED as the sweeps do, so that
// nodes removing the same prefix at once take disjoint rows.
const (
	qDeleteNodeConnections = `DELETE FROM connections WHERE connection_id IN (
			SELECT connection_id FROM connections WHERE connection_id >= $1 AND connection_id < $2
			ORDER BY connection_id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING ` + connCols
	// The connections' advisory locks (holds.go), ascending: the joins of
	// them under way commit first, and their memberships are then seen by
	// qDeleteNodeMemberships; later ones find no connection.
	qLockNodeConnections = `SELECT pg_advisory_xact_lock(` + connectionLockClass + `, h) FROM (
			SELECT DISTINCT hashtext(id) AS h FROM unnest($1::text[]) AS id ORDER BY h) AS keys`
	qDeleteNodeMemberships = `DELETE FROM memberships WHERE connection_id = ANY($1)
		RETURNING ` + memberCols
	qDeleteNodeTypingSlots = `DELETE FROM typing_slots WHERE connection_id = ANY($1)`
)

// DeleteNodeConnections deletes up to limit connections of the node of
// prefix, with their memberships and typing slots, in one transaction, and
// returns their images (store.NodeSweeper).
func (s *Store) DeleteNodeConnections(ctx context.Context, prefix string, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	lo, hi := store.NodeIDRange(prefix)
	var imgs []store.Image
	err := s.db.do(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			conns, err := queryAll(ctx, tx, scanConnection, qDeleteNodeConnections, lo, hi, limit)
			if err != nil || len(conns) == 0 {
				imgs = nil
				return err
			}
			ids := make([]string, len(conns))
			for i, c := range conns {
				ids[i] = c.ConnectionID
			}
			if _, err := tx.Exec(ctx, qLockNodeConnections, ids); err != nil {
				return err
			}
			members, err := queryAll(ctx, tx, scanMembership, qDeleteNodeMemberships, ids)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, qDeleteNodeTypingSlots, ids); err != nil {
				return err
			}
			imgs = store.NodeImages(conns, members)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: delete the connections of node %q: %w", prefix, err)
	}
	return imgs, nil
}
