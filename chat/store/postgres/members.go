package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// qRoomMemberRows is RoomMembers' query without the columns the caller
// already has (tenant and room): every broadcast reads it, for rooms of
// thousands of members, so its rows are decoded from their raw values
// (scanRoomMembers) rather than through Scan.
const qRoomMemberRows = `SELECT connection_id, user_id, username, joined_at, expires_at FROM memberships
	WHERE tenant_id = $1 AND room_id = $2 AND expires_at > $3 ORDER BY connection_id`

// roomMembers reads a room's live memberships: three strings per row,
// the tenant and room ids shared by all.
func (s *Store) roomMembers(ctx context.Context, tenantID, roomID string) ([]store.Membership, error) {
	var out []store.Membership
	err := s.db.do(ctx, func() error {
		out = nil
		rows, err := s.pool.Query(ctx, qRoomMemberRows, tenantID, roomID, s.nowMs())
		if err != nil {
			return err
		}
		defer rows.Close()
		fields := rows.FieldDescriptions()
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw) != 5 || len(fields) != 5 {
				return fmt.Errorf("room members: %d columns", len(raw))
			}
			joined, err := int8Value(raw[3], fields[3].Format)
			if err != nil {
				return err
			}
			expires, err := int8Value(raw[4], fields[4].Format)
			if err != nil {
				return err
			}
			out = append(out, store.Membership{
				TenantID: tenantID, RoomID: roomID,
				ConnectionID: string(raw[0]), UserID: string(raw[1]), Username: string(raw[2]),
				JoinedAt: fromMs(joined), ExpiresAt: fromMs(expires),
			})
		}
		return rows.Err()
	})
	return out, err
}

// int8Value decodes a bigint column in either wire format.
func int8Value(b []byte, format int16) (int64, error) {
	if format == pgtype.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("bigint of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}
