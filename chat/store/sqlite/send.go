package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// AddConnection counts the user's live connections and stores c unless
// they are at limit, in one step under the write lock of the
// connection-scoped state: concurrent calls for one user see each other.
func (s *Store) AddConnection(ctx context.Context, c store.Connection, limit int) (int, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite: add connection %q: %w", c.ConnectionID, err) }
	limit = max(limit, 0)
	if err := s.lockConns(ctx); err != nil {
		return 0, wrap(err)
	}
	defer s.cmu.Unlock()
	before := s.idx.countUserConns(c.TenantID, c.UserID, s.nowMs(), max(limit, 1))
	if limit > 0 && before >= limit {
		return before, wrap(store.ErrConnectionLimit)
	}
	if err := s.putConn(c); err != nil {
		return before, wrap(err)
	}
	return before, nil
}

// SendMessage checks the membership in the index, stores the message, and
// returns the room's members from the index.
func (s *Store) SendMessage(ctx context.Context, connectionID string, m store.Message) (store.Members, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: send message %q to room %q of tenant %q: %w", m.MessageID, m.RoomID, m.TenantID, err)
	}
	rooms, err := s.ConnectionRooms(ctx, connectionID)
	if err != nil {
		return store.Members{}, wrap(err)
	}
	member := false
	for _, r := range rooms {
		if r.TenantID == m.TenantID && r.RoomID == m.RoomID {
			member = true
			break
		}
	}
	if !member {
		return store.Members{}, wrap(store.ErrNotMember)
	}
	if err := s.PutMessage(ctx, m); err != nil {
		return store.Members{}, err
	}
	members, err := s.RoomMembers(ctx, m.TenantID, m.RoomID)
	if err != nil {
		return store.Members{}, wrap(err)
	}
	return members, nil
}
