package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const connCols = `connection_id, tenant_id, user_id, username, connected_at, expires_at, source_ip, user_agent`

const memberCols = `tenant_id, room_id, connection_id, user_id, username, joined_at, expires_at`

// The queries, named so that TestQueryPlans can check them. $n are
// positional; "now" is always the store's clock in milliseconds.
const (
	qPutConnection = `INSERT INTO connections (` + connCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connection_id) DO NOTHING`
	qGetConnection = `SELECT ` + connCols + ` FROM connections WHERE connection_id = $1 AND expires_at > $2`
	// DeleteConnection's locks (holds.go), its transaction's first
	// statements: the connection's row, then the connection's advisory
	// lock, exclusive, which waits for the joins of the connection under
	// way (qLockJoin) to commit, and makes every later one wait for this
	// transaction, then find the connection gone.
	qLockDeleteConnectionRow = `SELECT 1 FROM connections WHERE connection_id = $1 FOR UPDATE`
	qLockDeleteConnection    = `SELECT pg_advisory_xact_lock(` + connectionLockClass + `, hashtext($1))`
	// One statement: the connection, its memberships and its typing slot
	// go together or not at all; of two concurrent calls, the second
	// waits for the first's row locks and then finds nothing. Its snapshot
	// is taken after qLockDeleteConnection: it sees the membership of every
	// join of the connection. Rows: the connection joined with each
	// membership (NULLs if none); no row if the connection was not there.
	qDeleteConnection = `WITH c AS (
			DELETE FROM connections WHERE connection_id = $1 RETURNING ` + connCols + `),
		m AS (
			DELETE FROM memberships WHERE connection_id = $1 AND EXISTS (SELECT 1 FROM c) RETURNING ` + memberCols + `),
		t AS (
			DELETE FROM typing_slots WHERE connection_id = $1 AND EXISTS (SELECT 1 FROM c))
		SELECT c.connection_id, c.tenant_id, c.user_id, c.username, c.connected_at, c.expires_at, c.source_ip, c.user_agent,
			m.tenant_id, m.room_id, m.user_id, m.username, m.joined_at, m.expires_at
		FROM c LEFT JOIN m ON true ORDER BY m.tenant_id, m.room_id`
	// The connection and its live memberships, in one statement; the
	// memberships only if the connection was live. TouchConnection takes
	// the connection's row and its advisory lock (exclusive) first, as
	// DeleteConnection does: a join of the connection under way commits
	// before this statement's snapshot (which then sees its membership),
	// a later one reads the new expiry.
	qTouchConnection = `WITH c AS (
			UPDATE connections SET expires_at = $2 WHERE connection_id = $1 AND expires_at > $3 RETURNING 1),
		m AS (
			UPDATE memberships SET expires_at = $2
			WHERE connection_id = $1 AND expires_at > $3 AND EXISTS (SELECT 1 FROM c) RETURNING 1)
		SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM m)`
	qUserConnections = `SELECT ` + connCols + ` FROM connections
		WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY connection_id`
	// Reads at most $4 index entries, all live (expires_at > now is a
	// range of connections_by_user).
	qCountUserConnections = `SELECT count(*) FROM (SELECT 1 FROM connections
		WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3 LIMIT $4) AS live`
	// The ORDER BY is connections_by_user's: an ordered scan of the
	// tenant's range, which stops at the LIMIT (TestBoundedCountPlans:
	// without it, the generic plan scanned connections_by_expiry, every
	// tenant's connections, and a custom one built a bitmap of the whole
	// tenant).
	qCountTenantConnections = `SELECT count(*) FROM (SELECT 1 FROM connections
		WHERE tenant_id = $1 AND expires_at > $2 ORDER BY tenant_id, user_id, expires_at LIMIT $3) AS live`
	qTenantConnections = `SELECT ` + connCols + ` FROM connections
		WHERE tenant_id = $1 AND expires_at > $2 ORDER BY connection_id`
	// A concurrent caller waits for the row lock, then re-checks the WHERE
	// against the new row: of callers at the same instant one wins.
	qTakeTypingSlot = `INSERT INTO typing_slots AS s (connection_id, at, expires_at) VALUES ($1, $2::bigint, $2::bigint + $3::bigint)
		ON CONFLICT (connection_id) DO UPDATE SET at = excluded.at, expires_at = excluded.expires_at
		WHERE excluded.at - s.at >= $3::bigint`
	// A join's locks, its first statement (holds.go): its connection's,
	// shared (joins of one connection do not wait for each other;
	// DeleteConnection's waits for them) or, for a join with a cap on the
	// connection's rooms ($5), exclusive (the joins of one connection
	// wait for each other: each counts the rooms the one before it
	// committed), then (OFFSET 0 keeps the order: the inner query is
	// evaluated first) the user's holds in the room. $1 the connection, $2
	// to $4 tenant, room and user.
	qLockJoin = `SELECT pg_advisory_xact_lock(hashtextextended($2::text || '/' || $3::text || '/' || $4::text, 0))
		FROM (SELECT CASE WHEN $5::boolean
			THEN pg_advisory_xact_lock(` + connectionLockClass + `, hashtext($1))
			ELSE pg_advisory_xact_lock_shared(` + connectionLockClass + `, hashtext($1)) END OFFSET 0) AS c`
	// The connection, if it is there and live (c: read after qLockJoin),
	// then the membership only if it is: none of a connection deleted or
	// expired. A NULL $7 is the connection's expiry, read here: a
	// heartbeat (TouchConnection) takes the connection's lock exclusive,
	// so it is the current one. A membership that exists but has
	// expired counts as absent: joining again replaces it. Concurrent
	// joins: one inserts, the others wait and then find it live. $9 > 0
	// caps the connection's rooms (n.ok: under $9 live rooms besides this
	// one, at most $9 read, or in this one already; the exclusive lock of
	// qLockJoin orders the joins of one connection).
	qJoinRoom = `WITH c AS (SELECT expires_at FROM connections WHERE connection_id = $3 AND expires_at > $8),
		n AS (SELECT $9::int <= 0 OR count(*) < $9::int OR EXISTS (SELECT 1 FROM memberships
				WHERE tenant_id = $1 AND room_id = $2 AND connection_id = $3 AND expires_at > $8) AS ok
			FROM (SELECT 1 FROM memberships WHERE connection_id = $3 AND expires_at > $8
				AND (tenant_id, room_id) <> ($1, $2) LIMIT greatest($9::int, 0)) AS others),
		j AS (INSERT INTO memberships AS m (` + memberCols + `)
			SELECT $1, $2, $3, $4, $5, $6::bigint, COALESCE($7::bigint, c.expires_at) FROM c, n WHERE n.ok
			ON CONFLICT (tenant_id, room_id, connection_id) DO UPDATE SET
				user_id = excluded.user_id, username = excluded.username,
				joined_at = excluded.joined_at, expires_at = excluded.expires_at
			WHERE m.expires_at <= $8
			RETURNING 1)`
	qConnectionRooms = `SELECT ` + memberCols + ` FROM memberships
		WHERE connection_id = $1 AND expires_at > $2 ORDER BY tenant_id, room_id`
)

func scanConnection(r pgx.Row) (store.Connection, error) {
	var c store.Connection
	var connected, expires int64
	if err := r.Scan(&c.ConnectionID, &c.TenantID, &c.UserID, &c.Username, &connected, &expires, &c.SourceIP, &c.UserAgent); err != nil {
		return store.Connection{}, err
	}
	c.ConnectedAt, c.ExpiresAt = fromMs(connected), fromMs(expires)
	return c, nil
}

func scanMembership(r pgx.Row) (store.Membership, error) {
	var m store.Membership
	var joined, expires int64
	if err := r.Scan(&m.TenantID, &m.RoomID, &m.ConnectionID, &m.UserID, &m.Username, &joined, &expires); err != nil {
		return store.Membership{}, err
	}
	m.JoinedAt, m.ExpiresAt = fromMs(joined), fromMs(expires)
	return m, nil
}

// queryAll runs a query and scans every row with scan; no rows is nil.
func queryAll[T any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
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
	tag, err := s.db.Exec(ctx, qPutConnection,
		c.ConnectionID, c.TenantID, c.UserID, c.Username, ms(c.ConnectedAt), ms(c.ExpiresAt), c.SourceIP, c.UserAgent)
	if err != nil {
		return fmt.Errorf("postgres: put connection %q: %w", c.ConnectionID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: put connection %q: %w", c.ConnectionID, store.ErrExists)
	}
	return nil
}

// GetConnection returns a live connection; ErrNotFound if absent or expired.
func (s *Store) GetConnection(ctx context.Context, connectionID string) (store.Connection, error) {
	c, err := scanConnection(s.db.QueryRow(ctx, qGetConnection, connectionID, s.nowMs()))
	if noRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Connection{}, fmt.Errorf("postgres: get connection %q: %w", connectionID, err)
	}
	return c, nil
}

// DeleteConnection removes a connection, its memberships and its typing
// slot in one statement, and the memberships' holds, in one transaction,
// and returns the connection and memberships (expired or not: they had not
// been deleted yet).
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) (store.Connection, []store.Membership, error) {
	var c store.Connection
	var members []store.Membership
	found := false
	err := s.db.do(ctx, func() error {
		c, members, found = store.Connection{}, nil, false
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The connection's locks, then the holds' locks (holds.go),
			// then the rows: one round trip.
			b := &pgx.Batch{}
			b.Queue(qLockDeleteConnectionRow, connectionID)
			b.Queue(qLockDeleteConnection, connectionID)
			b.Queue(qLockConnectionHolds, connectionID)
			b.Queue(qDeleteConnection, connectionID)
			br := tx.SendBatch(ctx, b)
			for range 3 {
				if _, err := br.Exec(); err != nil {
					br.Close()
					return err
				}
			}
			rows, err := br.Query()
			if err != nil {
				br.Close()
				return err
			}
			for rows.Next() {
				var connected, expires int64
				var tenant, room, user, username *string
				var joined, mexpires *int64
				if err := rows.Scan(&c.ConnectionID, &c.TenantID, &c.UserID, &c.Username, &connected, &expires, &c.SourceIP, &c.UserAgent,
					&tenant, &room, &user, &username, &joined, &mexpires); err != nil {
					rows.Close()
					br.Close()
					return err
				}
				found = true
				c.ConnectedAt, c.ExpiresAt = fromMs(connected), fromMs(expires)
				if tenant != nil {
					members = append(members, store.Membership{
						TenantID: *tenant, RoomID: *room, ConnectionID: connectionID, UserID: *user, Username: *username,
						JoinedAt: fromMs(*joined), ExpiresAt: fromMs(*mexpires),
					})
				}
			}
			rows.Close()
			if err := errors.Join(rows.Err(), br.Close()); err != nil {
				return err
			}
			return releaseAll(ctx, tx, members)
		})
	})
	if err == nil && !found {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Connection{}, nil, fmt.Errorf("postgres: delete connection %q: %w", connectionID, err)
	}
	return c, members, nil
}

// TouchConnection moves the expiry of a live connection and of its live
// memberships to expiresAt, in one statement; ErrNotFound if absent or
// expired.
//
// It takes the connection's row and advisory lock first (one batch, an
// implicit transaction: one round trip), so that a join of the connection
// and the heartbeat are ordered: JoinRoom gives a membership the
// connection's current expiry, and no join slips between the read of the
// memberships to renew and its commit (holds.go has the lock order).
func (s *Store) TouchConnection(ctx context.Context, connectionID string, expiresAt time.Time) error {
	var conns, members int64
	err := s.db.do(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(qLockDeleteConnectionRow, connectionID)
		b.Queue(qLockDeleteConnection, connectionID)
		b.Queue(qTouchConnection, connectionID, ms(expiresAt), s.nowMs())
		br := s.pool.SendBatch(ctx, b)
		for range 2 {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		err := br.QueryRow().Scan(&conns, &members)
		return errors.Join(err, br.Close())
	})
	if err != nil {
		return fmt.Errorf("postgres: touch connection %q: %w", connectionID, err)
	}
	if conns == 0 {
		return fmt.Errorf("postgres: touch connection %q: %w", connectionID, store.ErrNotFound)
	}
	return nil
}

// UserConnections lists a user's live connections, by connection id.
func (s *Store) UserConnections(ctx context.Context, tenantID, userID string) ([]store.Connection, error) {
	cs, err := queryRows(ctx, s.db, scanConnection, qUserConnections, tenantID, userID, s.nowMs())
	if err != nil {
		return nil, fmt.Errorf("postgres: connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	return cs, nil
}

// CountUserConnections counts a user's live connections up to max, reading
// at most max index entries.
func (s *Store) CountUserConnections(ctx context.Context, tenantID, userID string, max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRow(ctx, qCountUserConnections, tenantID, userID, s.nowMs(), max).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	return n, nil
}

var _ store.TenantConnectionCounter = (*Store)(nil)

// CountTenantConnections counts a tenant's live connections up to max (one
// statement reading at most max rows of the tenant's index).
func (s *Store) CountTenantConnections(ctx context.Context, tenantID string, max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRow(ctx, qCountTenantConnections, tenantID, s.nowMs(), max).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count connections of tenant %q: %w", tenantID, err)
	}
	return n, nil
}

// TenantConnections lists a tenant's live connections, by connection id.
func (s *Store) TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error) {
	cs, err := queryRows(ctx, s.db, scanConnection, qTenantConnections, tenantID, s.nowMs())
	if err != nil {
		return nil, fmt.Errorf("postgres: connections of tenant %q: %w", tenantID, err)
	}
	return cs, nil
}

// TakeTypingSlot records a typing event of a connection at now, unless one
// was recorded less than interval before (one atomic upsert).
func (s *Store) TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error) {
	tag, err := s.db.Exec(ctx, qTakeTypingSlot, connectionID, ms(now), interval.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("postgres: typing slot of %q: %w", connectionID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RoomMembers lists the live memberships of a room, by connection id.
func (s *Store) RoomMembers(ctx context.Context, tenantID, roomID string) (store.Members, error) {
	ms, err := s.roomMembers(ctx, tenantID, roomID)
	if err != nil {
		return store.Members{}, fmt.Errorf("postgres: members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return store.MembersOf(ms), nil
}

// ConnectionRooms lists the live memberships of a connection, by tenant and
// room id.
func (s *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]store.Membership, error) {
	ms, err := queryRows(ctx, s.db, scanMembership, qConnectionRooms, connectionID, s.nowMs())
	if err != nil {
		return nil, fmt.Errorf("postgres: rooms of connection %q: %w", connectionID, err)
	}
	return ms, nil
}
