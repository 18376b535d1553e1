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
// interval, and nothing on the request path.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]store.Image, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if err := s.lockConns(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	defer s.cmu.Unlock()
	at := ms(now)
	var imgs []store.Image
	members := s.idx.expiredMembers(at)
	if len(members) > limit {
		members = members[:limit]
	}
	for _, m := range members {
		s.idx.leave(m.TenantID, m.RoomID, m.ConnectionID)
		s.pending[memberKeyOf(m)] = m.UserID
		imgs = append(imgs, store.MembershipImage(m))
	}
	if rest := limit - len(members); rest > 0 {
		conns := s.idx.expiredConns(at)
		if len(conns) > rest {
			conns = conns[:rest]
		}
		for _, c := range conns {
			s.idx.deleteConn(c.ConnectionID)
			imgs = append(imgs, store.ConnectionImage(c))
		}
	}
	s.idx.sweepTyping(at, limit)
	return imgs, nil
}
