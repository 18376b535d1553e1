package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Holds (store.Join): room_holds has a row per membership held, keyed by
// tenant, room, user and connection. Every change of a user's holds in a
// room first takes a transaction-scoped advisory lock on (tenant, room,
// user) in a statement of its own, so that the next statement's snapshot
// sees every change another transaction (on any node) made under that lock:
// of concurrent joins or leaves of one user, exactly one sees the holds go
// from none to some, or from some to none. Hash collisions of the lock key
// only make unrelated changes wait for each other.
//
// A join and its connection's DeleteConnection are kept apart by a
// transaction-scoped advisory lock of the connection (connectionLockClass
// and a hash of its id; shared by joins, exclusive by DeleteConnection),
// in a statement of its own before anything else: either the join locked
// first, and DeleteConnection waits for it to commit and then, in later
// statements with later snapshots, finds and deletes its membership; or
// DeleteConnection did, and the join waits, then finds no connection and
// adds nothing (ErrNotFound). No membership outlives its connection (a
// ghost, which would be sent the room's broadcasts and hold its user in
// the room until it expired). Under READ COMMITTED a statement's snapshot
// is taken when it starts, so the lock must come in an earlier statement
// than the reads it orders. An advisory lock rather than a row lock (FOR
// KEY SHARE on the connection) because it writes nothing: a row lock is a
// WAL record and a dirtied page of connections per join.
//
// DeleteNodeConnections takes the advisory locks of the connections it
// deleted before it deletes their memberships, likewise.
//
// Lock order, so that no two transactions wait for each other: first the
// connections' rows, if any (DeleteConnection and TouchConnection: its
// connection's, FOR UPDATE; DeleteNodeConnections: those it deletes, SKIP
// LOCKED; a join takes none); then the connections' advisory locks (a
// join, DeleteConnection or TouchConnection: one, exclusive but for a
// join's; DeleteNodeConnections: several, in ascending key
// order); then the hold locks (several in ascending key order), before it
// writes memberships or holds. Nothing that holds a hold lock waits for a
// connection's lock, nothing that holds a connection's advisory lock waits
// for a connection's row.
const (
	// connectionLockClass is the first key of the connections' advisory
	// locks (the two-int4 form, a key space apart from the hold locks'
	// bigint keys): the ASCII bytes "swb" and a zero.
	connectionLockClass = `1937203712`
	qLockHold           = `SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text || '/' || $3::text, 0))`
	// The advisory locks of every (tenant, room, user) a connection has a
	// membership in, in ascending key order.
	qLockConnectionHolds = `SELECT pg_advisory_xact_lock(k) FROM (
			SELECT DISTINCT hashtextextended(tenant_id || '/' || room_id || '/' || user_id, 0) AS k
			FROM memberships WHERE connection_id = $1 ORDER BY k) AS keys`
	// Join and hold in one statement; first: no hold of the user in the
	// room before it (the snapshot precedes the statement's inserts).
	// found: the connection was there and live (else nothing was added);
	// allowed: the cap on its rooms let it join (qJoinRoom's n).
	qJoinHold = qJoinRoom + `,
		h AS (INSERT INTO room_holds (tenant_id, room_id, user_id, connection_id)
			SELECT $1, $2, $4, $3 WHERE EXISTS (SELECT 1 FROM j) ON CONFLICT DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM c), (SELECT ok FROM n), EXISTS (SELECT 1 FROM j),
			EXISTS (SELECT 1 FROM j) AND NOT EXISTS (SELECT 1 FROM room_holds WHERE tenant_id = $1 AND room_id = $2 AND user_id = $4)`
	qMembershipUser = `SELECT user_id FROM memberships WHERE tenant_id = $1 AND room_id = $2 AND connection_id = $3`
	// Leave and release in one statement: the membership's expiry (NULL
	// if it was not there) and whether it was the user's last hold.
	qLeaveRelease = `WITH d AS (DELETE FROM memberships WHERE tenant_id = $1 AND room_id = $2 AND connection_id = $3
			RETURNING expires_at),
		h AS (DELETE FROM room_holds WHERE tenant_id = $1 AND room_id = $2 AND user_id = $4 AND connection_id = $3
			AND EXISTS (SELECT 1 FROM d) RETURNING 1)
		SELECT (SELECT expires_at FROM d),
			EXISTS (SELECT 1 FROM h) AND NOT EXISTS (SELECT 1 FROM room_holds
				WHERE tenant_id = $1 AND room_id = $2 AND user_id = $4 AND connection_id <> $3)`
	// Whether the hold was there and the user's last in the room.
	// A membership of the connection in the room (the one released was
	// deleted before) is a join again that took over the hold (JoinRoom's
	// ON CONFLICT DO NOTHING): then nothing is released, and its leave
	// or DeleteConnection releases the hold.
	qRelease = `WITH h AS (DELETE FROM room_holds WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3 AND connection_id = $4
			AND NOT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND room_id = $2 AND connection_id = $4)
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM h) AND NOT EXISTS (SELECT 1 FROM room_holds
			WHERE tenant_id = $1 AND room_id = $2 AND user_id = $3 AND connection_id <> $4)`
	// Reads at most $4 live index entries of the room (and the expired
	// ones it meets): the ORDER BY is the primary key's, an ordered scan
	// of the room's range that stops at the LIMIT, not a bitmap of the
	// whole room (TestBoundedCountPlans).
	qCountRoomMembers = `SELECT count(*) FROM (SELECT 1 FROM memberships
		WHERE tenant_id = $1 AND room_id = $2 AND expires_at > $3 ORDER BY connection_id LIMIT $4) AS live`
)

// locked runs the lock of (tenant, room, user), then q, as one batch: an
// implicit transaction, one round trip. scan reads q's row.
func (s *Store) locked(ctx context.Context, tenantID, roomID, userID, q string, args []any, scan ...any) error {
	return s.db.do(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(qLockHold, tenantID, roomID, userID)
		b.Queue(q, args...)
		br := s.pool.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		err := br.QueryRow().Scan(scan...)
		return errors.Join(err, br.Close())
	})
}

// JoinRoom adds a membership (an upsert) and its hold, under the lock of
// its connection (shared) and then the lock of the user's holds in the room,
// in one round trip (a batch: an implicit transaction); Joined=false if it
// was already there and live. ErrNotFound, nothing added, if the
// connection is not there or has expired: the connection's lock orders
// the join and the connection's DeleteConnection, so that no membership
// outlives its connection (a ghost). A zero m.ExpiresAt is the
// connection's expiry, read in the same statement (qJoinRoom). With
// maxRooms > 0 the connection's lock is taken exclusive and the statement
// counts its other live rooms (at most maxRooms): ErrRoomLimit, nothing
// added, if there are maxRooms.
func (s *Store) JoinRoom(ctx context.Context, m store.Membership, maxRooms int) (store.Join, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: join room %q of tenant %q: %w", m.RoomID, m.TenantID, err)
	}
	var j store.Join
	var found, allowed bool
	now := s.nowMs()
	var expiry *int64 // nil: the connection's (qJoinRoom)
	if !m.ExpiresAt.IsZero() {
		e := ms(m.ExpiresAt)
		expiry = &e
	}
	err := s.db.do(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(qLockJoin, m.ConnectionID, m.TenantID, m.RoomID, m.UserID, maxRooms > 0)
		b.Queue(qJoinHold, m.TenantID, m.RoomID, m.ConnectionID, m.UserID, m.Username, ms(m.JoinedAt), expiry, now, max(maxRooms, 0))
		br := s.pool.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		err := br.QueryRow().Scan(&found, &allowed, &j.Joined, &j.First)
		return errors.Join(err, br.Close())
	})
	if err != nil {
		return store.Join{}, wrap(err)
	}
	if !found {
		return store.Join{}, wrap(fmt.Errorf("connection %q: %w", m.ConnectionID, store.ErrNotFound))
	}
	if !allowed {
		return store.Join{}, wrap(fmt.Errorf("connection %q in %d rooms: %w", m.ConnectionID, maxRooms, store.ErrRoomLimit))
	}
	return j, nil
}

// LeaveRoom reads whose the membership is, then removes it and its hold
// under the lock of that user's holds in the room, and reports whether it
// existed (an expired one is removed, but did not exist any more) and was
// the user's last in the room.
func (s *Store) LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (store.Leave, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: leave room %q of tenant %q: %w", roomID, tenantID, err)
	}
	var userID string
	err := s.db.QueryRow(ctx, qMembershipUser, tenantID, roomID, connectionID).Scan(&userID)
	if noRows(err) {
		return store.Leave{}, nil
	}
	if err != nil {
		return store.Leave{}, wrap(err)
	}
	var expires *int64
	var l store.Leave
	err = s.locked(ctx, tenantID, roomID, userID, qLeaveRelease, []any{tenantID, roomID, connectionID, userID}, &expires, &l.Last)
	if err != nil {
		return store.Leave{}, wrap(err)
	}
	l.Left = expires != nil && *expires > s.nowMs()
	return l, nil
}

// ReleaseMembership ends the hold of a membership DeleteExpired deleted.
func (s *Store) ReleaseMembership(ctx context.Context, m store.Membership) (bool, error) {
	var last bool
	err := s.locked(ctx, m.TenantID, m.RoomID, m.UserID, qRelease, []any{m.TenantID, m.RoomID, m.UserID, m.ConnectionID}, &last)
	if err != nil {
		return false, fmt.Errorf("postgres: release membership of %q in room %q of tenant %q: %w", m.ConnectionID, m.RoomID, m.TenantID, err)
	}
	return last, nil
}

// releaseAll ends the holds of the memberships a transaction deleted,
// setting each one's Last; the transaction holds their locks (taking one
// again is a no-op, and takes a lock missed before).
func releaseAll(ctx context.Context, tx pgx.Tx, members []store.Membership) error {
	if len(members) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, m := range members {
		b.Queue(qLockHold, m.TenantID, m.RoomID, m.UserID)
		b.Queue(qRelease, m.TenantID, m.RoomID, m.UserID, m.ConnectionID)
	}
	br := tx.SendBatch(ctx, b)
	for i := range members {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		if err := br.QueryRow().Scan(&members[i].Last); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// CountRoomMembers counts a room's live memberships up to max.
func (s *Store) CountRoomMembers(ctx context.Context, tenantID, roomID string, max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRow(ctx, qCountRoomMembers, tenantID, roomID, s.nowMs(), max).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return n, nil
}
