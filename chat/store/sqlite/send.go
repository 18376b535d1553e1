package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// AddConnection counts the user's live connections and stores c unless
// they are at limit. The count is taken under the write lock that every
// write of a connection holds, so the count and the write are one step:
// concurrent calls for one user see each other.
func (s *Store) AddConnection(ctx context.Context, c store.Connection, limit int) (int, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite: add connection %q: %w", c.ConnectionID, err) }
	limit = max(limit, 0)
	var before int
	err := s.write(ctx, &writeReq{
		// The count reads the index, which shows the committed writes
		// only: a batch that changed the user's connections is committed
		// first.
		admit:  func(b *batch) bool { return !b.users[userRef{c.TenantID, c.UserID}] },
		single: true,
		run: func(ctx context.Context, tx txStmts, b *batch) error {
			before = s.idx.countUserConns(c.TenantID, c.UserID, s.nowMs(), max(limit, 1))
			if limit > 0 && before >= limit {
				return store.ErrConnectionLimit
			}
			return putConnection(ctx, tx, b, c)
		},
		apply: func() { s.idx.putConn(c) },
	})
	if err != nil {
		return before, wrap(err)
	}
	return before, nil
}

// SendMessage checks the membership in the index, stores the message, and
// returns the room's members from the index.
func (s *Store) SendMessage(ctx context.Context, connectionID string, m store.Message) ([]store.Membership, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: send message %q to room %q of tenant %q: %w", m.MessageID, m.RoomID, m.TenantID, err)
	}
	rooms, err := s.ConnectionRooms(ctx, connectionID)
	if err != nil {
		return nil, wrap(err)
	}
	member := false
	for _, r := range rooms {
		if r.TenantID == m.TenantID && r.RoomID == m.RoomID {
			member = true
			break
		}
	}
	if !member {
		return nil, wrap(store.ErrNotMember)
	}
	if err := s.PutMessage(ctx, m); err != nil {
		return nil, err
	}
	members, err := s.RoomMembers(ctx, m.TenantID, m.RoomID)
	if err != nil {
		return nil, wrap(err)
	}
	return members, nil
}
