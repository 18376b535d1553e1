package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// DeleteExpired deletes up to limit expired connections and memberships
// (those whose expiry is not after now; limit <= 0 means DefaultLimit)
// from the index, in one step, and returns their images: memberships
// first, then connections, each oldest expiry first, so that the cleanup
// handler sees a connection's memberships no later than the connection
// (user_left before offline). A deleted membership stays held until
// ReleaseMembership (holds.go). It also deletes up to limit typing slots
// that no longer limit anything. Rooms and messages never expire.
//
// It looks at every connection, and at the memberships of every room
// where one has expired: a sweep costs O(connections), once per sweep
// interval, and nothing on the request path. That scan takes the index's
// shard locks only, one at a time, not cmu: the writes do not wait for it.
// Under cmu, each item it found is looked up again and deleted only if it
// is still there and still expired at now (one renewed, left or deleted
// meanwhile is not deleted again), so that cmu is held for O(limit).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	at := ms(now)
	members := s.idx.expiredMembers(at, limit)
	var conns []store.Connection
	if rest := limit - len(members); rest > 0 {
		conns = s.idx.expiredConns(at, rest)
	}
	s.idx.sweepTyping(at, limit)
	if err := s.lockConns(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	defer s.cmu.Unlock()
	var imgs []store.Image
	for _, m := range members {
		m, ok := s.idx.memberOf(roomKey{m.TenantID, m.RoomID}, m.ConnectionID)
		if !ok || ms(m.ExpiresAt) > at {
			continue
		}
		s.idx.leave(m.TenantID, m.RoomID, m.ConnectionID)
		s.pending[memberKeyOf(m)] = m.UserID
		imgs = append(imgs, store.MembershipImage(m))
	}
	for _, c := range conns {
		e, ok := s.idx.connEntryOf(c.ConnectionID)
		if !ok || e.live(at) {
			continue
		}
		s.idx.deleteConn(c.ConnectionID)
		imgs = append(imgs, store.ConnectionImage(e.conn()))
	}
	return imgs, nil
}
