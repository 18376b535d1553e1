package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const connCols = `connection_id, tenant_id, user_id, username, connected_at, expires_at, source_ip, user_agent`

const memberCols = `tenant_id, room_id, connection_id, user_id, username, joined_at, expires_at`

// The queries, named so that TestQueryPlans can check them. Reads of
// connections and memberships are answered by the index (index.go).
const (
	qPutConnection = `INSERT INTO connections (` + connCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection_id) DO NOTHING`
	qTouchConnection   = `UPDATE connections SET expires_at = ?2 WHERE connection_id = ?1 AND expires_at > ?3`
	qTouchMemberships  = `UPDATE memberships SET expires_at = ?2 WHERE connection_id = ?1 AND expires_at > ?3`
	qDeleteConnection  = `DELETE FROM connections WHERE connection_id = ?1 RETURNING ` + connCols
	qDeleteTypingSlot  = `DELETE FROM typing_slots WHERE connection_id = ?1`
	qDeleteMemberships = `DELETE FROM memberships WHERE connection_id = ?1 RETURNING ` + memberCols
	qTakeTypingSlot    = `INSERT INTO typing_slots (connection_id, at, expires_at) VALUES (?1, ?2, ?2 + ?3)
		ON CONFLICT (connection_id) DO UPDATE SET at = excluded.at, expires_at = excluded.expires_at
		WHERE excluded.at - typing_slots.at >= ?3`
	// A membership that exists but has expired counts as absent: joining
	// again replaces it.
	qJoinRoom = `INSERT INTO memberships (` + memberCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
		ON CONFLICT (tenant_id, room_id, connection_id) DO UPDATE SET
			user_id = excluded.user_id, username = excluded.username,
			joined_at = excluded.joined_at, expires_at = excluded.expires_at
		WHERE memberships.expires_at <= ?8`
	// Loading the index.
	qAllConnections = `SELECT ` + connCols + ` FROM connections ORDER BY connection_id`
	qAllMemberships = `SELECT ` + memberCols + ` FROM memberships ORDER BY tenant_id, room_id, connection_id`
	qLeaveRoom      = `DELETE FROM memberships WHERE tenant_id = ?1 AND room_id = ?2 AND connection_id = ?3 RETURNING expires_at, user_id`
)

type scanner interface{ Scan(dest ...any) error }

func scanConnection(r scanner) (store.Connection, error) {
	var c store.Connection
	var connected, expires int64
	if err := r.Scan(&c.ConnectionID, &c.TenantID, &c.UserID, &c.Username, &connected, &expires, &c.SourceIP, &c.UserAgent); err != nil {
		return store.Connection{}, err
	}
	c.ConnectedAt, c.ExpiresAt = fromMs(connected), fromMs(expires)
	return c, nil
}

func scanMembership(r scanner) (store.Membership, error) {
	var m store.Membership
	var joined, expires int64
	if err := r.Scan(&m.TenantID, &m.RoomID, &m.ConnectionID, &m.UserID, &m.Username, &joined, &expires); err != nil {
		return store.Membership{}, err
	}
	m.JoinedAt, m.ExpiresAt = fromMs(joined), fromMs(expires)
	return m, nil
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PutConnection stores a new connection (ErrExists if the id is taken).
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	err := s.write(ctx, &writeReq{
		single: true,
		run: func(ctx context.Context, tx txStmts, b *batch) error {
			return putConnection(ctx, tx, b, c)
		},
		apply: func() { s.idx.putConn(c) },
	})
	if err != nil {
		return fmt.Errorf("sqlite: put connection %q: %w", c.ConnectionID, err)
	}
	return nil
}

// putConnection inserts c in tx: ErrExists if its id is taken.
func putConnection(ctx context.Context, tx txStmts, b *batch, c store.Connection) error {
	n, err := rowsAffected(tx.exec(ctx, qPutConnection,
		c.ConnectionID, c.TenantID, c.UserID, c.Username, ms(c.ConnectedAt), ms(c.ExpiresAt), c.SourceIP, c.UserAgent))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrExists
	}
	b.users[userRef{c.TenantID, c.UserID}] = true
	return nil
}

// GetConnection returns a live connection; ErrNotFound if absent or expired.
func (s *Store) GetConnection(ctx context.Context, connectionID string) (store.Connection, error) {
	if err := s.readable(); err != nil {
		return store.Connection{}, fmt.Errorf("sqlite: get connection %q: %w", connectionID, err)
	}
	c, ok := s.idx.getConn(connectionID, s.nowMs())
	if !ok {
		return store.Connection{}, fmt.Errorf("sqlite: get connection %q: %w", connectionID, store.ErrNotFound)
	}
	return c, nil
}

// DeleteConnection removes a connection, its memberships and its typing
// slot in one transaction, and returns the connection and memberships
// (expired or not: they had not been deleted yet).
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) (store.Connection, []store.Membership, error) {
	var c store.Connection
	var members []store.Membership
	err := s.write(ctx, &writeReq{
		run: func(ctx context.Context, tx txStmts, b *batch) error {
			var err error
			c, err = scanConnection(tx.queryRow(ctx, qDeleteConnection, connectionID))
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			b.users[userRef{c.TenantID, c.UserID}] = true
			if members, err = queryAll(ctx, tx, scanMembership, qDeleteMemberships, connectionID); err != nil {
				return err
			}
			for i, m := range members {
				if members[i].Last, err = unhold(ctx, tx, m); err != nil {
					return err
				}
			}
			_, err = tx.exec(ctx, qDeleteTypingSlot, connectionID)
			return err
		},
		apply: func() {
			s.idx.deleteConnAndMemberships(connectionID)
			for i, m := range members {
				members[i].Last = m.Last && s.release(m) // Last said its hold was deleted
			}
		},
	})
	if err != nil {
		return store.Connection{}, nil, fmt.Errorf("sqlite: delete connection %q: %w", connectionID, err)
	}
	sortMemberships(members)
	return c, members, nil
}

func sortMemberships(ms []store.Membership) {
	slices.SortFunc(ms, func(a, b store.Membership) int {
		if c := strings.Compare(a.TenantID, b.TenantID); c != 0 {
			return c
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
}

// TouchConnection moves the expiry of a live connection and of its live
// memberships to expiresAt; ErrNotFound if absent or expired.
func (s *Store) TouchConnection(ctx context.Context, connectionID string, expiresAt time.Time) error {
	now := s.nowMs()
	err := s.write(ctx, &writeReq{
		run: func(ctx context.Context, tx txStmts, _ *batch) error {
			n, err := rowsAffected(tx.exec(ctx, qTouchConnection, connectionID, ms(expiresAt), now))
			if err != nil {
				return err
			}
			if n == 0 {
				return store.ErrNotFound
			}
			_, err = tx.exec(ctx, qTouchMemberships, connectionID, ms(expiresAt), now)
			return err
		},
		apply: func() { s.idx.touch(connectionID, ms(expiresAt), now) },
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch connection %q: %w", connectionID, err)
	}
	return nil
}

// UserConnections lists a user's live connections, by connection id. A
// read sees every write that returned before it began.
func (s *Store) UserConnections(ctx context.Context, tenantID, userID string) ([]store.Connection, error) {
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	return s.idx.userConns(tenantID, userID, s.nowMs()), nil
}

// CountUserConnections counts a user's live connections up to max, from
// the index: it looks at no more than max live ones, under the lock of the
// user's shard only.
func (s *Store) CountUserConnections(ctx context.Context, tenantID, userID string, max int) (int, error) {
	if err := s.readable(); err != nil {
		return 0, fmt.Errorf("sqlite: count connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	if max <= 0 {
		return 0, nil
	}
	return s.idx.countUserConns(tenantID, userID, s.nowMs(), max), nil
}

var _ store.TenantConnectionCounter = (*Store)(nil)

// CountTenantConnections counts a tenant's live connections up to max,
// from the index: it looks at no more than max live ones (and the expired
// ones it meets on the way, which the sweeper deletes).
func (s *Store) CountTenantConnections(ctx context.Context, tenantID string, max int) (int, error) {
	if err := s.readable(); err != nil {
		return 0, fmt.Errorf("sqlite: count connections of tenant %q: %w", tenantID, err)
	}
	if max <= 0 {
		return 0, nil
	}
	return s.idx.countTenantConns(tenantID, s.nowMs(), max), nil
}

// TenantConnections lists a tenant's live connections, by connection id.
func (s *Store) TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error) {
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: connections of tenant %q: %w", tenantID, err)
	}
	return s.idx.tenantConns(tenantID, s.nowMs()), nil
}

// TakeTypingSlot records a typing event of a connection at now, unless one
// was recorded less than interval before (one atomic upsert).
func (s *Store) TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error) {
	var took bool
	err := s.write(ctx, &writeReq{
		single: true,
		run: func(ctx context.Context, tx txStmts, _ *batch) error {
			n, err := rowsAffected(tx.exec(ctx, qTakeTypingSlot, connectionID, ms(now), interval.Milliseconds()))
			took = n == 1
			return err
		},
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: typing slot of %q: %w", connectionID, err)
	}
	return took, nil
}

// JoinRoom adds a membership (one atomic upsert, whose trigger adds its
// hold: holds.go); joined=false if it was already there and live.
func (s *Store) JoinRoom(ctx context.Context, m store.Membership) (store.Join, error) {
	var j store.Join
	now := s.nowMs()
	err := s.write(ctx, &writeReq{
		single: true,
		run: func(ctx context.Context, tx txStmts, _ *batch) error {
			n, err := rowsAffected(tx.exec(ctx, qJoinRoom,
				m.TenantID, m.RoomID, m.ConnectionID, m.UserID, m.Username, ms(m.JoinedAt), ms(m.ExpiresAt), now))
			j.Joined = n > 0
			return err
		},
		apply: func() {
			if !j.Joined {
				return
			}
			// A row was written: a new one, whose hold the trigger added,
			// or one replacing an expired membership of the connection,
			// whose hold is there already (a membership is always held).
			// The writes before this one are applied: the count is exact.
			k := holdKeyOf(m)
			j.First = s.holds[k] == 0
			if !s.idx.hasMember(m.TenantID, m.RoomID, m.ConnectionID) {
				s.holds[k]++
			}
			s.idx.join(m)
		},
	})
	if err != nil {
		return store.Join{}, fmt.Errorf("sqlite: join room %q of tenant %q: %w", m.RoomID, m.TenantID, err)
	}
	return j, nil
}

// LeaveRoom removes a membership and its hold in one transaction and
// reports whether it existed (an expired one is removed, but did not
// exist any more) and was the user's last in the room.
func (s *Store) LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (store.Leave, error) {
	var m store.Membership
	found, released, last := false, false, false
	err := s.write(ctx, &writeReq{
		run: func(ctx context.Context, tx txStmts, _ *batch) error {
			var expires int64
			var userID string
			err := tx.queryRow(ctx, qLeaveRoom, tenantID, roomID, connectionID).Scan(&expires, &userID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			found = true
			m = store.Membership{TenantID: tenantID, RoomID: roomID, UserID: userID, ConnectionID: connectionID, ExpiresAt: fromMs(expires)}
			released, err = unhold(ctx, tx, m)
			return err
		},
		apply: func() {
			if found {
				s.idx.leave(tenantID, roomID, connectionID)
				last = released && s.release(m)
			}
		},
	})
	if err != nil {
		return store.Leave{}, fmt.Errorf("sqlite: leave room %q of tenant %q: %w", roomID, tenantID, err)
	}
	if !found {
		return store.Leave{}, nil
	}
	return store.Leave{Left: ms(m.ExpiresAt) > s.nowMs(), Last: last}, nil
}

// RoomMembers lists the live memberships of a room, in no order. The
// slice may be shared with other callers: it must not be modified.
func (s *Store) RoomMembers(ctx context.Context, tenantID, roomID string) ([]store.Membership, error) {
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return s.idx.roomMembers(tenantID, roomID, s.nowMs()), nil
}

// ConnectionRooms lists the live memberships of a connection, by tenant and
// room id.
func (s *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]store.Membership, error) {
	if err := s.readable(); err != nil {
		return nil, fmt.Errorf("sqlite: rooms of connection %q: %w", connectionID, err)
	}
	return s.idx.connRooms(connectionID, s.nowMs()), nil
}
