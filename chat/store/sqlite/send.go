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
	if err := s.readable(); err != nil {
		return 0, wrap(err)
	}
	if err := s.lockWrite(ctx); err != nil {
		return 0, wrap(err)
	}
	defer s.unlockWrite()
	limit = max(limit, 0)
	before := s.idx.countUserConns(c.TenantID, c.UserID, s.nowMs(), max(limit, 1))
	if limit > 0 && before >= limit {
		return before, wrap(store.ErrConnectionLimit)
	}
	res, err := s.ws.exec(ctx, qPutConnection,
		c.ConnectionID, c.TenantID, c.UserID, c.Username, ms(c.ConnectedAt), ms(c.ExpiresAt), c.SourceIP, c.UserAgent)
	if err != nil {
		return before, wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return before, wrap(err)
	} else if n == 0 {
		return before, wrap(store.ErrExists)
	}
	s.idx.putConn(c)
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
