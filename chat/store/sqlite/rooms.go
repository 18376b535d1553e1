package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/switchboard-ws/switchboard/chat/store"
)

const roomCols = `tenant_id, room_id, name, description, created_by, created_at, is_private, members`

// ListRooms queries: keyset pagination on (created_at, room_id), newest
// first. ?1 tenant, ?2 and ?3 the position after which to list, ?4 the
// number of rows, ?5 the user.
const (
	qPublicRooms = `SELECT ` + roomCols + ` FROM rooms
		WHERE tenant_id = ?1 AND is_private = 0 AND (created_at, room_id) < (?2, ?3)
		ORDER BY created_at DESC, room_id DESC LIMIT ?4`
	qPrivateRooms = `SELECT r.tenant_id, r.room_id, r.name, r.description, r.created_by, r.created_at, r.is_private, r.members
		FROM room_access a JOIN rooms r ON r.tenant_id = a.tenant_id AND r.room_id = a.room_id
		WHERE a.tenant_id = ?1 AND a.user_id = ?5 AND (a.created_at, a.room_id) < (?2, ?3)
		ORDER BY a.created_at DESC, a.room_id DESC LIMIT ?4`
	// Public rooms and the user's private rooms are disjoint: each part
	// reads at most ?4 rows from its index, the merge keeps ?4.
	qAllRooms = `SELECT * FROM (` + qPublicRooms + `)
		UNION ALL SELECT * FROM (` + qPrivateRooms + `)
		ORDER BY created_at DESC, room_id DESC LIMIT ?4`
	qCreateRoom = `INSERT INTO rooms (` + roomCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, room_id) DO NOTHING`
	qRoomAccess = `INSERT INTO room_access (tenant_id, user_id, created_at, room_id)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qGetRoom = `SELECT ` + roomCols + ` FROM rooms WHERE tenant_id = ?1 AND room_id = ?2`
)

func scanRoom(r scanner) (store.Room, error) {
	var room store.Room
	var created int64
	var private int
	var members string
	if err := r.Scan(&room.TenantID, &room.RoomID, &room.Name, &room.Description, &room.CreatedBy, &created, &private, &members); err != nil {
		return store.Room{}, err
	}
	room.CreatedAt, room.IsPrivate = fromMs(created), private != 0
	if err := json.Unmarshal([]byte(members), &room.Members); err != nil {
		return store.Room{}, fmt.Errorf("members of room %q: %w", room.RoomID, err)
	}
	if len(room.Members) == 0 {
		room.Members = nil
	}
	return room, nil
}

// CreateRoom stores a new room (ErrExists if the id is taken in its
// tenant) and, for a private room, the access rows of its members.
func (s *Store) CreateRoom(ctx context.Context, r store.Room) error {
	members := r.Members
	if members == nil {
		members = []string{}
	}
	mj, err := json.Marshal(members)
	if err != nil {
		return fmt.Errorf("sqlite: create room %q of tenant %q: %w", r.RoomID, r.TenantID, err)
	}
	err = s.inTx(ctx, func(tx txStmts) error {
		res, err := tx.exec(ctx, qCreateRoom,
			r.TenantID, r.RoomID, r.Name, r.Description, r.CreatedBy, ms(r.CreatedAt), boolInt(r.IsPrivate), string(mj))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrExists
		}
		if !r.IsPrivate {
			return nil
		}
		for _, u := range r.Members {
			if _, err := tx.exec(ctx, qRoomAccess, r.TenantID, u, ms(r.CreatedAt), r.RoomID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create room %q of tenant %q: %w", r.RoomID, r.TenantID, err)
	}
	return nil
}

// GetRoom returns a room of the tenant; ErrNotFound otherwise.
func (s *Store) GetRoom(ctx context.Context, tenantID, roomID string) (store.Room, error) {
	if r, ok := s.rooms.get(tenantID, roomID); ok {
		return r, nil
	}
	r, err := scanRoom(s.rs.queryRow(ctx, qGetRoom, tenantID, roomID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Room{}, fmt.Errorf("sqlite: get room %q of tenant %q: %w", roomID, tenantID, err)
	}
	s.rooms.put(r)
	return r, nil
}

// roomCacheSize is how many rooms GetRoom keeps in memory at most.
const roomCacheSize = 4096

// roomCache holds rooms GetRoom read: a room never changes once created
// (nor is deleted), so a copy never goes stale. Every join and every
// action on a room reads its room; a full cache forgets an arbitrary room.
type roomCache struct {
	mu sync.Mutex
	m  map[roomKey]store.Room
}

func (c *roomCache) get(tenantID, roomID string) (store.Room, bool) {
	c.mu.Lock()
	r, ok := c.m[roomKey{tenantID, roomID}]
	c.mu.Unlock()
	r.Members = slices.Clone(r.Members) // the caller's own
	return r, ok
}

func (c *roomCache) put(r store.Room) {
	r.Members = slices.Clone(r.Members)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[roomKey]store.Room)
	}
	if len(c.m) >= roomCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[roomKey{r.TenantID, r.RoomID}] = r
}

// ListRooms lists the rooms userID may see, newest first (by CreatedAt,
// then RoomID).
func (s *Store) ListRooms(ctx context.Context, tenantID, userID string, filter store.RoomFilter, page store.Page) ([]store.Room, string, error) {
	wrap := func(err error) error {
		return fmt.Errorf("sqlite: list rooms of tenant %q: %w", tenantID, err)
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
	rooms, err := queryAll(ctx, s.rs, scanRoom, q, args...)
	if err != nil {
		return nil, "", wrap(err)
	}
	rooms, next := store.NextPage(rooms, limit, store.RoomsCursor)
	return rooms, next, nil
}
