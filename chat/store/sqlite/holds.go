package sqlite

import (
	"context"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Holds (store.Join): room_holds has a row per membership held, keyed by
// tenant, room, user and connection. The trigger memberships_hold adds it
// in the statement that adds the membership; LeaveRoom and
// DeleteConnection delete it in the transaction that deletes the
// membership; DeleteExpired leaves it to ReleaseMembership. Store.holds
// counts the rows of each user in each room, loaded at Open and changed
// after each commit: the writes run under the writer's lock, one at a
// time, so that of concurrent joins or leaves of one user exactly one
// sees the count go from zero or to zero, and no statement reads the
// table on the request path.
const (
	qUnhold   = `DELETE FROM room_holds WHERE tenant_id = ?1 AND room_id = ?2 AND user_id = ?3 AND connection_id = ?4`
	qAllHolds = `SELECT tenant_id, room_id, user_id, count(*) FROM room_holds GROUP BY tenant_id, room_id, user_id`
)

// holdKey is a user in a room.
type holdKey struct{ tenant, room, user string }

func holdKeyOf(m store.Membership) holdKey { return holdKey{m.TenantID, m.RoomID, m.UserID} }

// unhold deletes the hold of m in tx and reports whether it was there.
func unhold(ctx context.Context, tx txStmts, m store.Membership) (bool, error) {
	res, err := tx.exec(ctx, qUnhold, m.TenantID, m.RoomID, m.UserID, m.ConnectionID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release counts a committed deletion of m's hold and reports whether it
// was its user's last in the room. Called under the writer's lock.
func (s *Store) release(m store.Membership) bool {
	k := holdKeyOf(m)
	if s.holds[k] <= 1 {
		delete(s.holds, k)
		return true
	}
	s.holds[k]--
	return false
}

// loadHolds counts the holds of each user in each room.
func (s *Store) loadHolds(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, qAllHolds)
	if err != nil {
		return fmt.Errorf("loading holds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k holdKey
		var n int
		if err := rows.Scan(&k.tenant, &k.room, &k.user, &n); err != nil {
			return fmt.Errorf("loading holds: %w", err)
		}
		s.holds[k] = n
	}
	return rows.Err()
}

// ReleaseMembership ends the hold of a membership DeleteExpired deleted:
// one statement.
func (s *Store) ReleaseMembership(ctx context.Context, m store.Membership) (bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: release membership of %q in room %q of tenant %q: %w", m.ConnectionID, m.RoomID, m.TenantID, err)
	}
	var last bool
	err := s.write(ctx, &writeReq{
		run: func(ctx context.Context, tx txStmts, _ *batch) error {
			var err error
			last, err = unhold(ctx, tx, m)
			return err
		},
		apply: func() { last = last && s.release(m) },
	})
	if err != nil {
		return false, wrap(err)
	}
	return last, nil
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
