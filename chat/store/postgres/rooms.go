package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const roomCols = `tenant_id, room_id, name, description, created_by, created_at, is_private, members`

// ListRooms queries: keyset pagination on (created_at, room_id), newest
// first. $1 tenant, $2 and $3 the position after which to list, $4 the
// number of rows, $5 the user.
const (
	qPublicRooms = `SELECT ` + roomCols + ` FROM rooms
		WHERE tenant_id = $1 AND NOT is_private AND (created_at, room_id) < ($2, $3)
		ORDER BY created_at DESC, room_id DESC LIMIT $4`
	qPrivateRooms = `SELECT r.tenant_id, r.room_id, r.name, r.description, r.created_by, r.created_at, r.is_private, r.members
		FROM room_access a JOIN rooms r ON r.tenant_id = a.tenant_id AND r.room_id = a.room_id
		WHERE a.tenant_id = $1 AND a.user_id = $5 AND (a.created_at, a.room_id) < ($2, $3)
		ORDER BY a.created_at DESC, a.room_id DESC LIMIT $4`
	// Public rooms and the user's private rooms are disjoint: each part
	// reads at most $4 rows from its index, the merge keeps $4.
	qAllRooms = `(` + qPublicRooms + `) UNION ALL (` + qPrivateRooms + `)
		ORDER BY created_at DESC, room_id DESC LIMIT $4`
	// The room and, if it was new and is private, one access row per
	// distinct member: one statement.
	qCreateRoom = `WITH r AS (
			INSERT INTO rooms (` + roomCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (tenant_id, room_id) DO NOTHING RETURNING 1),
		a AS (
			INSERT INTO room_access (tenant_id, user_id, created_at, room_id)
			SELECT DISTINCT $1, u, $6::bigint, $2 FROM unnest($8::text[]) AS u
			WHERE $7 AND EXISTS (SELECT 1 FROM r)
			ON CONFLICT DO NOTHING)
		SELECT count(*) FROM r`
	qGetRoom = `SELECT ` + roomCols + ` FROM rooms WHERE tenant_id = $1 AND room_id = $2`
)

func scanRoom(r pgx.Row) (store.Room, error) {
	var room store.Room
	var created int64
	if err := r.Scan(&room.TenantID, &room.RoomID, &room.Name, &room.Description, &room.CreatedBy, &created, &room.IsPrivate, &room.Members); err != nil {
		return store.Room{}, err
	}
	room.CreatedAt = fromMs(created)
	if len(room.Members) == 0 {
		room.Members = nil
	}
	return room, nil
}

// CreateRoom stores a new room (ErrExists if the id is taken in its
// tenant) and, for a private room, the access rows of its members, in one
// statement.
func (s *Store) CreateRoom(ctx context.Context, r store.Room) error {
	members := r.Members
	if members == nil {
		members = []string{}
	}
	var n int
	err := s.db.QueryRow(ctx, qCreateRoom,
		r.TenantID, r.RoomID, r.Name, r.Description, r.CreatedBy, ms(r.CreatedAt), r.IsPrivate, members).Scan(&n)
	if err == nil && n == 0 {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: create room %q of tenant %q: %w", r.RoomID, r.TenantID, err)
	}
	return nil
}

// GetRoom returns a room of the tenant; ErrNotFound otherwise. A room
// once read is kept in memory (roomcache.go: rooms never change), so that
// the next GetRoom of it costs no round trip.
func (s *Store) GetRoom(ctx context.Context, tenantID, roomID string) (store.Room, error) {
	if r, ok := s.rooms.get(tenantID, roomID); ok {
		return r, nil
	}
	r, err := scanRoom(s.db.QueryRow(ctx, qGetRoom, tenantID, roomID))
	if err == nil {
		s.rooms.put(r)
	}
	if noRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Room{}, fmt.Errorf("postgres: get room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return r, nil
}

// ListRooms lists the rooms userID may see, newest first (by CreatedAt,
// then RoomID).
func (s *Store) ListRooms(ctx context.Context, tenantID, userID string, filter store.RoomFilter, page store.Page) ([]store.Room, string, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: list rooms of tenant %q: %w", tenantID, err)
	}
	var q string
	switch filter {
	case store.RoomsAll:
		q = qAllRooms
	case store.RoomsPublic:
		q = qPublicRooms
	case store.RoomsPrivate:
		q = qPrivateRooms
	default:
		return nil, "", wrap(fmt.Errorf("unknown room filter %d", filter))
	}
	afterAt, afterID, err := store.RoomsAfter(page.Cursor)
	if err != nil {
		return nil, "", wrap(err)
	}
	limit := page.Size()
	args := []any{tenantID, afterAt, afterID, limit + 1}
	if filter != store.RoomsPublic {
		args = append(args, userID)
	}
	rooms, err := queryRows(ctx, s.db, scanRoom, q, args...)
	if err != nil {
		return nil, "", wrap(err)
	}
	rooms, next := store.NextPage(rooms, limit, store.RoomsCursor)
	return rooms, next, nil
}
