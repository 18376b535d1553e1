package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Holds (store.Join): room_holds has a row per membership held, keyed by
// tenant, room, user and connection, so that whether a user holds another
// membership in a room is a SEARCH of the user's rows. The writes that
// change it run under the writer's lock, one at a time: of concurrent
// joins or leaves of one user, exactly one sees the rows go from none to
// some, or from some to none.
const (
	qHold = `INSERT INTO room_holds (tenant_id, room_id, user_id, connection_id) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT DO NOTHING`
	qUnhold = `DELETE FROM room_holds WHERE tenant_id = ?1 AND room_id = ?2 AND user_id = ?3 AND connection_id = ?4`
	qHeld   = `SELECT 1 FROM room_holds WHERE tenant_id = ?1 AND room_id = ?2 AND user_id = ?3 LIMIT 1`
)

// hold records that m is held and reports whether none of its user's was
// before (a hold of m itself, left by an expired membership m replaces,
// counts).
func hold(ctx context.Context, tx txStmts, m store.Membership) (first bool, err error) {
	held, err := heldIn(ctx, tx, m)
	if err != nil {
		return false, err
	}
	if _, err := tx.exec(ctx, qHold, m.TenantID, m.RoomID, m.UserID, m.ConnectionID); err != nil {
		return false, err
	}
	return !held, nil
}

// release ends the hold of m and reports whether it was its user's last in
// the room; false if m was not held.
func release(ctx context.Context, tx txStmts, m store.Membership) (last bool, err error) {
	res, err := tx.exec(ctx, qUnhold, m.TenantID, m.RoomID, m.UserID, m.ConnectionID)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	held, err := heldIn(ctx, tx, m)
	return !held && err == nil, err
}

// heldIn reports whether m's user holds a membership in m's room.
func heldIn(ctx context.Context, tx txStmts, m store.Membership) (bool, error) {
	var one int
	err := tx.queryRow(ctx, qHeld, m.TenantID, m.RoomID, m.UserID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ReleaseMembership ends the hold of a membership DeleteExpired deleted.
func (s *Store) ReleaseMembership(ctx context.Context, m store.Membership) (bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: release membership of %q in room %q of tenant %q: %w", m.ConnectionID, m.RoomID, m.TenantID, err)
	}
	if err := s.lockWrite(ctx); err != nil {
		return false, wrap(err)
	}
	defer s.unlockWrite()
	var last bool
	err := s.inTx(ctx, func(tx txStmts) error {
		var err error
		last, err = release(ctx, tx, m)
		return err
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
