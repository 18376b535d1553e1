package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// The request paths' writes, each one statement (one round trip, one
// commit): $connect's count and insert, sendMessage's membership check,
// insert and read of the recipients. Parameters are cast where an INSERT …
// SELECT could not infer their types.
const (
	// $1–$8 the connection, $9 now, $10 how many to count at most, $11 the
	// limit (0: none). Row: the count before, whether the row was written.
	qAddConnection = `WITH live AS (
			SELECT count(*) AS n FROM (SELECT 1 FROM connections
				WHERE tenant_id = $2::text AND user_id = $3::text AND expires_at > $9::bigint LIMIT $10::int) AS l),
		ins AS (
			INSERT INTO connections (` + connCols + `)
			SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text, $8::text FROM live
			WHERE $11::int = 0 OR live.n < $11::int
			ON CONFLICT (connection_id) DO NOTHING RETURNING 1)
		SELECT live.n, EXISTS (SELECT 1 FROM ins) FROM live`
	// $1–$11 the message, $12 the sending connection, $13 now. Rows: one
	// per live member of the room, with whether the message was written
	// (an InitPlan, run once), if the sender is a live member; none if
	// not. Every part sees the same snapshot, so a member's rows include
	// the sender's. The rows come from the primary key in its order.
	qSendMessage = `WITH me AS (
			SELECT 1 FROM memberships
			WHERE tenant_id = $1::text AND room_id = $3::text AND connection_id = $12::text AND expires_at > $13::bigint),
		ins AS (
			INSERT INTO messages (` + msgCols + `)
			SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::text, $8::bigint, $9::bigint, $10::boolean, $11::text
			WHERE EXISTS (SELECT 1 FROM me)
			ON CONFLICT (tenant_id, message_id) DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM ins), connection_id, user_id, username, joined_at, expires_at FROM memberships
		WHERE EXISTS (SELECT 1 FROM me) AND tenant_id = $1::text AND room_id = $3::text AND expires_at > $13::bigint
		ORDER BY connection_id`
)

// AddConnection counts the user's live connections and stores c unless
// they are at limit, in one statement.
func (s *Store) AddConnection(ctx context.Context, c store.Connection, limit int) (int, error) {
	limit = max(limit, 0)
	var before int
	var stored bool
	err := s.db.QueryRow(ctx, qAddConnection,
		c.ConnectionID, c.TenantID, c.UserID, c.Username, ms(c.ConnectedAt), ms(c.ExpiresAt), c.SourceIP, c.UserAgent,
		s.nowMs(), max(limit, 1), limit).Scan(&before, &stored)
	switch {
	case err != nil:
	case limit > 0 && before >= limit:
		err = store.ErrConnectionLimit
	case !stored:
		err = store.ErrExists
	}
	if err != nil {
		return before, fmt.Errorf("postgres: add connection %q: %w", c.ConnectionID, err)
	}
	return before, nil
}

// SendMessage checks the membership, stores the message and reads the
// room's members in one statement.
func (s *Store) SendMessage(ctx context.Context, connectionID string, m store.Message) (store.Members, error) {
	args := []any{m.TenantID, m.MessageID, m.RoomID, m.UserID, m.Username, []byte(m.Content), m.MessageType,
		ms(m.CreatedAt), nullMs(m.EditedAt), m.Deleted, m.ReplyToMessageID, connectionID, s.nowMs()}
	var member, inserted bool
	var out []store.Membership
	attempt := func() error {
		member, inserted, out = false, false, nil
		rows, err := s.pool.Query(ctx, qSendMessage, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		fields := rows.FieldDescriptions()
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw) != 6 || len(fields) != 6 {
				return fmt.Errorf("send message: %d columns", len(raw))
			}
			member = true // rows come only if the sender is a member
			if inserted, err = boolValue(raw[0], fields[0].Format); err != nil {
				return err
			}
			joined, err := int8Value(raw[4], fields[4].Format)
			if err != nil {
				return err
			}
			expires, err := int8Value(raw[5], fields[5].Format)
			if err != nil {
				return err
			}
			out = append(out, store.Membership{
				TenantID: m.TenantID, RoomID: m.RoomID,
				ConnectionID: string(raw[1]), UserID: string(raw[2]), Username: string(raw[3]),
				JoinedAt: fromMs(joined), ExpiresAt: fromMs(expires),
			})
		}
		return rows.Err()
	}
	err := attempt()
	retried := s.db.again(ctx, err)
	if retried {
		err = attempt()
	}
	switch {
	case err != nil:
	case !member:
		err = store.ErrNotMember
	// A retry that finds the id taken found this message: the first
	// attempt committed before its connection was cut (message ids are
	// ULIDs, made once per message).
	case !inserted && !retried:
		err = store.ErrExists
	}
	if err != nil {
		return store.Members{}, fmt.Errorf("postgres: send message %q to room %q of tenant %q: %w", m.MessageID, m.RoomID, m.TenantID, err)
	}
	return store.MembersOf(out), nil
}

// boolValue decodes a boolean column in either wire format.
func boolValue(b []byte, format int16) (bool, error) {
	if format == pgtype.BinaryFormatCode {
		if len(b) != 1 {
			return false, fmt.Errorf("boolean of %d bytes", len(b))
		}
		return b[0] != 0, nil
	}
	switch string(b) {
	case "t":
		return true, nil
	case "f":
		return false, nil
	}
	return false, fmt.Errorf("boolean %q", b)
}
