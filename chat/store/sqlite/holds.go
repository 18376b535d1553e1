package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Holds (store.Join): Store.holds counts the memberships each user holds
// in each room. A membership is held from the JoinRoom that adds it until
// the LeaveRoom or DeleteConnection that removes it, or, for one the sweep
// (DeleteExpired) removed, until ReleaseMembership: such a membership
// waits in Store.pending, so that releasing it twice reports last once.
// All of it changes under Store.cmu, so that of concurrent joins or
// leaves of one user exactly one sees the count go from zero or to zero.

// holdKey is a user in a room.
type holdKey struct{ tenant, room, user string }

func holdKeyOf(m store.Membership) holdKey { return holdKey{m.TenantID, m.RoomID, m.UserID} }

// memberKey is a connection's membership of a room.
type memberKey struct{ tenant, room, conn string }

func memberKeyOf(m store.Membership) memberKey {
	return memberKey{m.TenantID, m.RoomID, m.ConnectionID}
}

// release ends the hold of m and reports whether it was its user's last
// in the room. The caller holds cmu.
func (s *Store) release(m store.Membership) bool {
	k := holdKeyOf(m)
	if s.holds[k] <= 1 {
		delete(s.holds, k)
		return true
	}
	s.holds[k]--
	return false
}

// adoptPending gives m, joining again, the hold of its connection's
// membership of the room that the sweep removed and nobody released yet,
// if there is one of the same user: the hold continues, and a late
// ReleaseMembership finds nothing to release. The caller holds cmu.
func (s *Store) adoptPending(m store.Membership) bool {
	mk := memberKeyOf(m)
	if u, ok := s.pending[mk]; ok && u == m.UserID {
		delete(s.pending, mk)
		return true
	}
	return false
}

// ReleaseMembership ends the hold of a membership DeleteExpired deleted;
// false for one it did not delete or that was released already.
func (s *Store) ReleaseMembership(ctx context.Context, m store.Membership) (bool, error) {
	if err := s.lockConns(ctx); err != nil {
		return false, fmt.Errorf("sqlite: release membership of %q in room %q of tenant %q: %w", m.ConnectionID, m.RoomID, m.TenantID, err)
	}
	defer s.cmu.Unlock()
	mk := memberKeyOf(m)
	if u, ok := s.pending[mk]; !ok || u != m.UserID {
		return false, nil
	}
	delete(s.pending, mk)
	return s.release(m), nil
}

// CountRoomMembers counts a room's live memberships up to max, from the
// index.
func (s *Store) CountRoomMembers(ctx context.Context, tenantID, roomID string, max int) (int, error) {
	if err := s.readable(); err != nil {
		return 0, fmt.Errorf("sqlite: count members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	if max <= 0 {
		return 0, nil
	}
	return s.idx.countRoomMembers(tenantID, roomID, s.nowMs(), max), nil
}
