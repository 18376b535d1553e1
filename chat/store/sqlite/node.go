package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

var _ store.NodeSweeper = (*Store)(nil)

// DeleteNodeConnections deletes up to limit connections of the node of
// prefix, each with its memberships and typing slot (a connection deleted
// by another call meanwhile is skipped), and returns their images
// (store.NodeSweeper). As with DeleteExpired, each membership deleted
// stays held until ReleaseMembership (the cleanup handler's, which
// announces user_left for the user's last). The embedded store serves one
// process, whose connections are in its memory only: it holds no other
// node's.
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
	ids := s.idx.connsInRange(lo, hi, limit)
	if err := s.lockConns(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: connections of node %q: %w", prefix, err)
	}
	defer s.cmu.Unlock()
	for _, id := range ids {
		c, ms, ok := s.idx.removeConn(id)
		if !ok {
			continue
		}
		for _, m := range ms {
			s.pending[memberKeyOf(m)] = m.UserID
		}
		sortMemberships(ms)
		conns, members = append(conns, c), append(members, ms...)
	}
	return store.NodeImages(conns, members), nil
}
