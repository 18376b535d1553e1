package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// index is an in-memory copy of the ephemeral tables, connections and
// memberships, expired rows included, loaded by Open and changed by every
// write of the store right after it commits (writes that change these
// tables are serialised by Store.wsem, so the index changes in commit
// order). Reads of these tables are answered from it, with expired items
// filtered on read exactly as the SQL queries filter them.
//
// Only this process writes the database (Open holds the data directory's
// lock), so the copy cannot go stale.
type index struct {
	mu      sync.Mutex
	conns   map[string]*connEntry    // by connection id
	users   map[userKey][]*connEntry // by connection id
	tenants map[string][]*connEntry  // by connection id
	rooms   map[roomKey]*roomMembers // by room
	byConn  map[string][]roomKey     // the rooms a connection has a membership in, by tenant and room
}

type connEntry struct {
	c   store.Connection
	exp int64 // c.ExpiresAt in ms
}

type userKey struct{ tenant, user string }

type roomKey struct{ tenant, room string }

func (k roomKey) compare(o roomKey) int {
	return cmp.Or(strings.Compare(k.tenant, o.tenant), strings.Compare(k.room, o.room))
}

// roomMembers is a room's memberships, by connection id. RoomMembers hands
// list itself to callers (a room of 10,000 members is read for every
// message): once shared, list is never changed again, but replaced by a
// changed copy.
type roomMembers struct {
	list   []store.Membership
	shared bool
	minExp int64 // the earliest expiry in list (ms)
}

func newIndex() *index {
	return &index{
		conns:   make(map[string]*connEntry),
		users:   make(map[userKey][]*connEntry),
		tenants: make(map[string][]*connEntry),
		rooms:   make(map[roomKey]*roomMembers),
		byConn:  make(map[string][]roomKey),
	}
}

// normConn and normMember give times the values a read of the table gives
// (whole milliseconds, UTC), so that reads from the index return exactly
// what the SQL queries returned.
func normConn(c store.Connection) store.Connection {
	c.ConnectedAt, c.ExpiresAt = fromMs(ms(c.ConnectedAt)), fromMs(ms(c.ExpiresAt))
	return c
}

func normMember(m store.Membership) store.Membership {
	m.JoinedAt, m.ExpiresAt = fromMs(ms(m.JoinedAt)), fromMs(ms(m.ExpiresAt))
	return m
}

func byConnID(e *connEntry, id string) int { return strings.Compare(e.c.ConnectionID, id) }

func memberByConnID(m store.Membership, id string) int { return strings.Compare(m.ConnectionID, id) }

// insertConn inserts e into a list by connection id.
func insertConn(list []*connEntry, e *connEntry) []*connEntry {
	i, _ := slices.BinarySearchFunc(list, e.c.ConnectionID, byConnID)
	return slices.Insert(list, i, e)
}

func removeConn(list []*connEntry, id string) []*connEntry {
	if i, ok := slices.BinarySearchFunc(list, id, byConnID); ok {
		list = slices.Delete(list, i, i+1)
	}
	return list
}

// putConn adds a connection that was inserted.
func (x *index) putConn(c store.Connection) {
	c = normConn(c)
	e := &connEntry{c: c, exp: ms(c.ExpiresAt)}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.conns[c.ConnectionID] = e
	uk := userKey{c.TenantID, c.UserID}
	x.users[uk] = insertConn(x.users[uk], e)
	x.tenants[c.TenantID] = insertConn(x.tenants[c.TenantID], e)
}

// deleteConn removes a connection (not its memberships).
func (x *index) deleteConn(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deleteConnLocked(id)
}

func (x *index) deleteConnLocked(id string) {
	e, ok := x.conns[id]
	if !ok {
		return
	}
	delete(x.conns, id)
	uk := userKey{e.c.TenantID, e.c.UserID}
	if l := removeConn(x.users[uk], id); len(l) == 0 {
		delete(x.users, uk)
	} else {
		x.users[uk] = l
	}
	if l := removeConn(x.tenants[e.c.TenantID], id); len(l) == 0 {
		delete(x.tenants, e.c.TenantID)
	} else {
		x.tenants[e.c.TenantID] = l
	}
}

// deleteConnAndMemberships removes a connection and all its memberships.
func (x *index) deleteConnAndMemberships(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deleteConnLocked(id)
	for _, k := range slices.Clone(x.byConn[id]) {
		x.leaveLocked(k, id)
	}
}

// touch moves the expiry of a connection and of its memberships that are
// live at now (ms) to exp, as TouchConnection's statements do.
func (x *index) touch(id string, exp, now int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e, ok := x.conns[id]; ok && e.exp > now {
		e.c.ExpiresAt, e.exp = fromMs(exp), exp
	}
	for _, k := range x.byConn[id] {
		r := x.rooms[k]
		i, ok := slices.BinarySearchFunc(r.list, id, memberByConnID)
		if !ok || ms(r.list[i].ExpiresAt) <= now {
			continue
		}
		r.own()
		r.list[i].ExpiresAt = fromMs(exp)
		r.minExp = minExpiry(r.list)
	}
}

// own makes r.list safe to change: a copy if it has been handed out.
func (r *roomMembers) own() {
	if r.shared {
		r.list = slices.Clone(r.list)
		r.shared = false
	}
}

func minExpiry(list []store.Membership) int64 {
	var m int64
	for i, x := range list {
		if e := ms(x.ExpiresAt); i == 0 || e < m {
			m = e
		}
	}
	return m
}

// join adds or replaces a membership that was written.
func (x *index) join(m store.Membership) {
	m = normMember(m)
	k := roomKey{m.TenantID, m.RoomID}
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.rooms[k]
	if r == nil {
		r = &roomMembers{}
		x.rooms[k] = r
	}
	r.own()
	exp := ms(m.ExpiresAt)
	if i, ok := slices.BinarySearchFunc(r.list, m.ConnectionID, memberByConnID); ok {
		r.list[i] = m
		r.minExp = minExpiry(r.list)
	} else {
		r.list = slices.Insert(r.list, i, m)
		if len(r.list) == 1 || exp < r.minExp {
			r.minExp = exp
		}
	}
	rooms := x.byConn[m.ConnectionID]
	if i, ok := slices.BinarySearchFunc(rooms, k, roomKey.compare); !ok {
		x.byConn[m.ConnectionID] = slices.Insert(rooms, i, k)
	}
}

// leave removes a membership that was deleted.
func (x *index) leave(tenantID, roomID, connectionID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.leaveLocked(roomKey{tenantID, roomID}, connectionID)
}

func (x *index) leaveLocked(k roomKey, id string) {
	if r := x.rooms[k]; r != nil {
		if i, ok := slices.BinarySearchFunc(r.list, id, memberByConnID); ok {
			if len(r.list) == 1 {
				delete(x.rooms, k)
			} else {
				exp := ms(r.list[i].ExpiresAt)
				if r.shared {
					// A new list: the shared one stays as it was.
					r.list = slices.Delete(slices.Clone(r.list), i, i+1)
					r.shared = false
				} else {
					r.list = slices.Delete(r.list, i, i+1)
				}
				if exp == r.minExp {
					r.minExp = minExpiry(r.list)
				}
			}
		}
	}
	rooms := x.byConn[id]
	if i, ok := slices.BinarySearchFunc(rooms, k, roomKey.compare); ok {
		if rooms = slices.Delete(rooms, i, i+1); len(rooms) == 0 {
			delete(x.byConn, id)
		} else {
			x.byConn[id] = rooms
		}
	}
}

// getConn returns a connection live at now.
func (x *index) getConn(id string, now int64) (store.Connection, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e, ok := x.conns[id]; ok && e.exp > now {
		return e.c, true
	}
	return store.Connection{}, false
}

// liveConns copies the connections of list live at now (nil if none).
func liveConns(list []*connEntry, now int64) []store.Connection {
	var out []store.Connection
	for _, e := range list {
		if e.exp > now {
			if out == nil {
				out = make([]store.Connection, 0, len(list))
			}
			out = append(out, e.c)
		}
	}
	return out
}

func (x *index) userConns(tenantID, userID string, now int64) []store.Connection {
	x.mu.Lock()
	defer x.mu.Unlock()
	return liveConns(x.users[userKey{tenantID, userID}], now)
}

func (x *index) tenantConns(tenantID string, now int64) []store.Connection {
	x.mu.Lock()
	defer x.mu.Unlock()
	return liveConns(x.tenants[tenantID], now)
}

// roomMembers returns the memberships of a room live at now. When none has
// expired, that is the room's list itself, shared: callers must not
// modify it.
func (x *index) roomMembers(tenantID, roomID string, now int64) []store.Membership {
	x.mu.Lock()
	r := x.rooms[roomKey{tenantID, roomID}]
	if r == nil {
		x.mu.Unlock()
		return nil
	}
	r.shared = true
	list, minExp := r.list, r.minExp
	x.mu.Unlock()
	if minExp > now {
		return list[:len(list):len(list)] // appending copies
	}
	var out []store.Membership
	for _, m := range list {
		if ms(m.ExpiresAt) > now {
			out = append(out, m)
		}
	}
	return out
}

// connRooms returns the memberships of a connection live at now, by tenant
// and room.
func (x *index) connRooms(id string, now int64) []store.Membership {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []store.Membership
	for _, k := range x.byConn[id] {
		r := x.rooms[k]
		if i, ok := slices.BinarySearchFunc(r.list, id, memberByConnID); ok && ms(r.list[i].ExpiresAt) > now {
			out = append(out, r.list[i])
		}
	}
	return out
}

// loadIndex reads the connections and memberships into the index, in key
// order (so that every insertion appends).
func (s *Store) loadIndex(ctx context.Context) error {
	conns, err := queryAll(ctx, s.ws, scanConnection, qAllConnections)
	if err != nil {
		return fmt.Errorf("loading connections: %w", err)
	}
	for _, c := range conns {
		s.idx.putConn(c)
	}
	members, err := queryAll(ctx, s.ws, scanMembership, qAllMemberships)
	if err != nil {
		return fmt.Errorf("loading memberships: %w", err)
	}
	for _, m := range members {
		s.idx.join(m)
	}
	return nil
}

// lockWrite takes the right to write the tables the index mirrors; the
// caller updates the index before unlockWrite.
func (s *Store) lockWrite(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWrite() { <-s.wsem }
