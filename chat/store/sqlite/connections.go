package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Connections, memberships and typing slots live in the index only
// (index.go): every method here is a few map operations, the writes under
// Store.cmu.

// lockConns takes the right to change the connection-scoped state; the
// caller calls s.cmu.Unlock. It fails once the store is closed or ctx
// has ended.
func (s *Store) lockConns(ctx context.Context) error {
	if err := s.readable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cmu.Lock()
	return nil
}

// putConn adds c unless its id is taken (by a connection expired or not,
// until the sweep deletes it); the caller holds cmu.
func (s *Store) putConn(c store.Connection) error {
	if _, ok := s.idx.connEntryOf(c.ConnectionID); ok {
		return store.ErrExists
	}
	s.idx.putConn(c)
	return nil
}

// PutConnection stores a new connection (ErrExists if the id is taken).
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	err := s.lockConns(ctx)
	if err == nil {
		err = s.putConn(c)
		s.cmu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("sqlite: put connection %q: %w", c.ConnectionID, err)
	}
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
// slot in one step, and returns the connection and memberships (expired or
// not: they had not been deleted yet), each membership's Last saying
// whether its hold was its user's last in the room.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) (store.Connection, []store.Membership, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite: delete connection %q: %w", connectionID, err) }
	if err := s.lockConns(ctx); err != nil {
		return store.Connection{}, nil, wrap(err)
	}
	c, members, ok := s.idx.removeConn(connectionID)
	for i, m := range members {
		members[i].Last = s.release(m)
	}
	s.cmu.Unlock()
	if !ok {
		return store.Connection{}, nil, wrap(store.ErrNotFound)
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
	if err := s.lockConns(ctx); err != nil {
		return fmt.Errorf("sqlite: touch connection %q: %w", connectionID, err)
	}
	defer s.cmu.Unlock()
	now := s.nowMs()
	if e, ok := s.idx.connEntryOf(connectionID); !ok || !e.live(now) {
		return fmt.Errorf("sqlite: touch connection %q: %w", connectionID, store.ErrNotFound)
	}
	s.idx.touch(connectionID, ms(expiresAt), now)
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
// was recorded less than interval before (one step under the connection's
// shard of the index).
func (s *Store) TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error) {
	if err := s.readable(); err != nil {
		return false, fmt.Errorf("sqlite: typing slot of %q: %w", connectionID, err)
	}
	return s.idx.takeTyping(connectionID, ms(now), interval.Milliseconds()), nil
}

// JoinRoom adds a membership and its hold (holds.go); joined=false if it
// was already there and live. A membership that exists but has expired
// counts as absent: joining again replaces it (its hold continues).
// ErrNotFound, nothing added, if the connection is not there (deleted
// since the caller read it) or has expired: under cmu, the join and
// DeleteConnection are ordered, so that no membership outlives its
// connection as a ghost that receives the room's broadcasts and holds its
// user in the room. A zero m.ExpiresAt is the connection's expiry, read
// under cmu, which TouchConnection holds to move both. With maxRooms > 0,
// the connection's other live rooms are counted under cmu too (at most
// maxRooms looked at): ErrRoomLimit if there are maxRooms.
func (s *Store) JoinRoom(ctx context.Context, m store.Membership, maxRooms int) (store.Join, error) {
	if err := s.lockConns(ctx); err != nil {
		return store.Join{}, fmt.Errorf("sqlite: join room %q of tenant %q: %w", m.RoomID, m.TenantID, err)
	}
	defer s.cmu.Unlock()
	c, ok := s.idx.connEntryOf(m.ConnectionID)
	if !ok || c.exp.Load() <= s.nowMs() {
		return store.Join{}, fmt.Errorf("sqlite: join room %q of tenant %q: connection %q: %w", m.RoomID, m.TenantID, m.ConnectionID, store.ErrNotFound)
	}
	if m.ExpiresAt.IsZero() {
		m.ExpiresAt = fromMs(c.exp.Load())
	}
	k := roomKey{m.TenantID, m.RoomID}
	old, found := s.idx.memberOf(k, m.ConnectionID)
	if found && ms(old.ExpiresAt) > s.nowMs() {
		return store.Join{}, nil
	}
	if maxRooms > 0 && s.idx.countOtherRooms(m.ConnectionID, k, s.nowMs(), maxRooms) >= maxRooms {
		return store.Join{}, fmt.Errorf("sqlite: join room %q of tenant %q: connection %q: %w", m.RoomID, m.TenantID, m.ConnectionID, store.ErrRoomLimit)
	}
	hk := holdKeyOf(m)
	j := store.Join{Joined: true, First: s.holds[hk] == 0}
	if !found && !s.adoptPending(m) {
		s.holds[hk]++ // a new membership, a new hold
	}
	s.idx.join(m)
	return j, nil
}

// LeaveRoom removes a membership and its hold and reports whether it
// existed (an expired one is removed, but did not exist any more) and was
// the user's last in the room.
func (s *Store) LeaveRoom(ctx context.Context, tenantID, roomID, connectionID string) (store.Leave, error) {
	if err := s.lockConns(ctx); err != nil {
		return store.Leave{}, fmt.Errorf("sqlite: leave room %q of tenant %q: %w", roomID, tenantID, err)
	}
	m, found := s.idx.memberOf(roomKey{tenantID, roomID}, connectionID)
	last := false
	if found {
		s.idx.leave(tenantID, roomID, connectionID)
		last = s.release(m)
	}
	s.cmu.Unlock()
	if !found {
		return store.Leave{}, nil
	}
	return store.Leave{Left: ms(m.ExpiresAt) > s.nowMs(), Last: last}, nil
}

// RoomMembers lists the live memberships of a room, in no order: the
// chunks of the room's own list, shared with other callers, not a copy
// (roomMembers). A membership's ExpiresAt in it may be older than its
// current expiry: a heartbeat renews the expiry apart from the shared list
// (roomMembers.exps) rather than copy a chunk, O(1) whatever the room's
// size.
func (s *Store) RoomMembers(ctx context.Context, tenantID, roomID string) (store.Members, error) {
	if err := s.readable(); err != nil {
		return store.Members{}, fmt.Errorf("sqlite: members of room %q of tenant %q: %w", roomID, tenantID, err)
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
