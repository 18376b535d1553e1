package sqlite

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// index holds the connection-scoped state of the store — connections,
// memberships and typing slots, expired items included until the sweep
// (DeleteExpired) removes them — in memory only: none of it is written to
// SQLite. It belongs to the WebSocket connections of this process, which
// die with it; the next process on the data directory starts with none
// (Open holds the directory's lock: no other process shares it). Writes
// that change it are serialised by Store.cmu; reads filter expired items.
//
// The index is split into shards, each with its own mutex: every item
// lives in the shard its key hashes to (a connection by its id, a user's
// and a tenant's connections by user and tenant, a room's memberships by
// room), so that readers and writers only meet when they touch the same
// key, and no lock is held for work that grows with a user's connections.
// A write that changes several keys takes their shards one after another,
// never two at once: a concurrent reader may see one key changed and
// another not yet, as it would on DynamoDB.
type index struct {
	seed   maphash.Seed
	shards [indexShards]shard
}

// indexShards is the number of shards: a power of two, more than the cores
// of a machine `switchboard dev` runs on.
const indexShards = 64

type shard struct {
	mu      sync.Mutex
	conns   map[string]*connEntry    // by connection id
	users   map[userKey]*connSet     // by user
	tenants map[string]*connSet      // by tenant
	rooms   map[roomKey]*roomMembers // by room
	byConn  map[string][]roomKey     // the rooms a connection has a membership in, by tenant and room
	typing  map[string]typingSlot    // the last typing event of a connection, by connection id
	_       [64]byte                 // keeps shards' mutexes on separate cache lines
}

// connEntry is a connection: its fields never change once the entry is
// made, but exp, its expiry in ms, which heartbeats move. Times are kept
// as ms (what a read of the table gives): a store.Connection's two
// time.Time would make every entry 48 bytes larger.
type connEntry struct {
	id, tenant, user, username, sourceIP, userAgent string

	connectedAt int64 // ms
	exp         atomic.Int64
}

// newConnEntry makes the entry of c.
func newConnEntry(c store.Connection) *connEntry {
	e := &connEntry{id: c.ConnectionID, tenant: c.TenantID, user: c.UserID, username: c.Username,
		sourceIP: c.SourceIP, userAgent: c.UserAgent, connectedAt: ms(c.ConnectedAt)}
	e.exp.Store(ms(c.ExpiresAt))
	return e
}

// conn is the connection with its current expiry.
func (e *connEntry) conn() store.Connection {
	return store.Connection{ConnectionID: e.id, TenantID: e.tenant, UserID: e.user, Username: e.username,
		ConnectedAt: fromMs(e.connectedAt), ExpiresAt: fromMs(e.exp.Load()), SourceIP: e.sourceIP, UserAgent: e.userAgent}
}

func (e *connEntry) live(now int64) bool { return e.exp.Load() > now }

type userKey struct{ tenant, user string }

type roomKey struct{ tenant, room string }

func (k roomKey) compare(o roomKey) int {
	return cmp.Or(strings.Compare(k.tenant, o.tenant), strings.Compare(k.room, o.room))
}

func newIndex() *index {
	x := &index{seed: maphash.MakeSeed()}
	for i := range x.shards {
		sh := &x.shards[i]
		sh.conns = make(map[string]*connEntry)
		sh.users = make(map[userKey]*connSet)
		sh.tenants = make(map[string]*connSet)
		sh.rooms = make(map[roomKey]*roomMembers)
		sh.byConn = make(map[string][]roomKey)
		sh.typing = make(map[string]typingSlot)
	}
	return x
}

// The shard of each kind of key.
func (x *index) shard(h uint64) *shard { return &x.shards[h%indexShards] }

func (x *index) connShard(id string) *shard { return x.shard(maphash.String(x.seed, id)) }

func (x *index) tenantShard(t string) *shard { return x.shard(maphash.String(x.seed, t)) }

// A user's and a room's shard depend on the user or room id alone (one
// hash, not two, on the broadcast path): the same id in two tenants shares
// a shard, which costs nothing but the chance of meeting at its lock.
func (x *index) userShard(k userKey) *shard { return x.shard(maphash.String(x.seed, k.user)) }

func (x *index) roomShard(k roomKey) *shard { return x.shard(maphash.String(x.seed, k.room)) }

// normMember gives times the values a read of the table gives (whole
// milliseconds, UTC), so that reads from the index return exactly what the
// SQL queries returned (connEntry keeps a connection's times as ms).

func normMember(m store.Membership) store.Membership {
	m.JoinedAt, m.ExpiresAt = fromMs(ms(m.JoinedAt)), fromMs(ms(m.ExpiresAt))
	return m
}

// putConn adds a connection that was inserted.
func (x *index) putConn(c store.Connection) {
	e := newConnEntry(c)
	sh := x.connShard(c.ConnectionID)
	sh.mu.Lock()
	sh.conns[c.ConnectionID] = e
	sh.mu.Unlock()
	uk := userKey{c.TenantID, c.UserID}
	sh = x.userShard(uk)
	sh.mu.Lock()
	addTo(sh.users, uk, e)
	sh.mu.Unlock()
	sh = x.tenantShard(c.TenantID)
	sh.mu.Lock()
	addTo(sh.tenants, c.TenantID, e)
	sh.mu.Unlock()
}

// deleteConn removes a connection (not its memberships).
func (x *index) deleteConn(id string) {
	sh := x.connShard(id)
	sh.mu.Lock()
	e, ok := sh.conns[id]
	delete(sh.conns, id)
	sh.mu.Unlock()
	if !ok {
		return
	}
	uk := userKey{e.tenant, e.user}
	sh = x.userShard(uk)
	sh.mu.Lock()
	removeFrom(sh.users, uk, id)
	sh.mu.Unlock()
	sh = x.tenantShard(e.tenant)
	sh.mu.Lock()
	removeFrom(sh.tenants, e.tenant, id)
	sh.mu.Unlock()
}

// roomsOf returns a copy of the rooms connection id has a membership in.
func (x *index) roomsOf(id string) []roomKey {
	sh := x.connShard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return slices.Clone(sh.byConn[id])
}

// touch moves the expiry of a connection and of its memberships that are
// live at now (ms) to exp, as TouchConnection's statements do.
func (x *index) touch(id string, exp, now int64) {
	sh := x.connShard(id)
	sh.mu.Lock()
	if e, ok := sh.conns[id]; ok && e.live(now) {
		e.exp.Store(exp)
	}
	rooms := slices.Clone(sh.byConn[id])
	sh.mu.Unlock()
	for _, k := range rooms {
		sh := x.roomShard(k)
		sh.mu.Lock()
		if r := sh.rooms[k]; r != nil {
			if i, ok := r.find(id); ok && r.live(i, now) {
				r.setExpiry(i, exp)
			} else if m, ok := r.expired[id]; ok && ms(m.ExpiresAt) > now { // taken out by a later clock
				r.dropExpired(id)
				m.ExpiresAt = fromMs(exp)
				r.add(m)
			}
		}
		sh.mu.Unlock()
	}
}

// join adds or replaces a membership that was written: O(1) whatever the
// room's size (at most the copy of a chunk a broadcast holds: roomMembers).
func (x *index) join(m store.Membership) {
	m = normMember(m)
	k := roomKey{m.TenantID, m.RoomID}
	sh := x.roomShard(k)
	sh.mu.Lock()
	r := sh.rooms[k]
	if r == nil {
		r = newRoomMembers()
		sh.rooms[k] = r
	}
	if i, ok := r.find(m.ConnectionID); ok {
		r.replace(i, m)
	} else {
		r.dropExpired(m.ConnectionID) // joining again replaces an expired one
		r.add(m)
	}
	sh.mu.Unlock()
	sh = x.connShard(m.ConnectionID)
	sh.mu.Lock()
	rooms := sh.byConn[m.ConnectionID]
	if i, ok := slices.BinarySearchFunc(rooms, k, roomKey.compare); !ok {
		sh.byConn[m.ConnectionID] = slices.Insert(rooms, i, k)
	}
	sh.mu.Unlock()
}

// leave removes a membership that was deleted.
func (x *index) leave(tenantID, roomID, connectionID string) {
	k := roomKey{tenantID, roomID}
	x.removeMember(k, connectionID)
	sh := x.connShard(connectionID)
	sh.mu.Lock()
	rooms := sh.byConn[connectionID]
	if i, ok := slices.BinarySearchFunc(rooms, k, roomKey.compare); ok {
		if rooms = slices.Delete(rooms, i, i+1); len(rooms) == 0 {
			delete(sh.byConn, connectionID)
		} else {
			sh.byConn[connectionID] = rooms
		}
	}
	sh.mu.Unlock()
}

// removeMember removes connection id from room k's list and returns its
// membership.
func (x *index) removeMember(k roomKey, id string) (store.Membership, bool) {
	sh := x.roomShard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.rooms[k]
	if r == nil {
		return store.Membership{}, false
	}
	m, ok := r.forget(id)
	if ok && r.empty() {
		delete(sh.rooms, k)
	}
	return m, ok
}

// getConn returns a connection live at now.
func (x *index) getConn(id string, now int64) (store.Connection, bool) {
	sh := x.connShard(id)
	sh.mu.Lock()
	e, ok := sh.conns[id]
	sh.mu.Unlock()
	if ok && e.live(now) {
		return e.conn(), true
	}
	return store.Connection{}, false
}

// liveConns copies the connections of set live at now, by connection id
// (nil if none). The caller holds the set's shard.
func liveConns(set *connSet, now int64) []store.Connection {
	if set == nil {
		return nil
	}
	var out []store.Connection
	for e := range set.all() {
		if e.live(now) {
			if out == nil {
				out = make([]store.Connection, 0, set.len())
			}
			out = append(out, e.conn())
		}
	}
	return out
}

func sortConns(cs []store.Connection) []store.Connection {
	slices.SortFunc(cs, func(a, b store.Connection) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	return cs
}

func (x *index) userConns(tenantID, userID string, now int64) []store.Connection {
	k := userKey{tenantID, userID}
	sh := x.userShard(k)
	sh.mu.Lock()
	out := liveConns(sh.users[k], now)
	sh.mu.Unlock()
	return sortConns(out)
}

// countUserConns counts the user's connections live at now, up to max: it
// looks at no more than max live connections (and the expired ones it
// meets on the way, which the sweeper deletes).
func (x *index) countUserConns(tenantID, userID string, now int64, max int) int {
	k := userKey{tenantID, userID}
	sh := x.userShard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return countLive(sh.users[k], now, max)
}

// countTenantConns counts the tenant's connections live at now, up to max,
// as countUserConns does.
func (x *index) countTenantConns(tenantID string, now int64, max int) int {
	sh := x.tenantShard(tenantID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return countLive(sh.tenants[tenantID], now, max)
}

// countLive counts the connections of set live at now, up to max. The
// caller holds the set's shard.
func countLive(set *connSet, now int64, max int) int {
	if set == nil {
		return 0
	}
	n := 0
	for e := range set.all() {
		if n >= max {
			break
		}
		if e.live(now) {
			n++
		}
	}
	return n
}

func (x *index) tenantConns(tenantID string, now int64) []store.Connection {
	sh := x.tenantShard(tenantID)
	sh.mu.Lock()
	out := liveConns(sh.tenants[tenantID], now)
	sh.mu.Unlock()
	return sortConns(out)
}

// roomMembers returns the memberships of a room live at now: the room's
// list itself, its chunks shared (O(1), no copy: see roomMembers), once
// the memberships expired at now are out of it (retire: O(n) when one has
// expired since the last read, and O(memberChunk) for each that has).
func (x *index) roomMembers(tenantID, roomID string, now int64) store.Members {
	k := roomKey{tenantID, roomID}
	sh := x.roomShard(k)
	sh.mu.Lock()
	r := sh.rooms[k]
	if r == nil {
		sh.mu.Unlock()
		return store.Members{}
	}
	if r.minExp <= now || r.expired != nil { // else all are live: no call
		r.liveOnly(now)
	}
	ms := r.snapshot()
	sh.mu.Unlock()
	return ms
}

// connRooms returns the memberships of a connection live at now, by tenant
// and room.
func (x *index) connRooms(id string, now int64) []store.Membership {
	var out []store.Membership
	for _, k := range x.roomsOf(id) {
		sh := x.roomShard(k)
		sh.mu.Lock()
		if r := sh.rooms[k]; r != nil {
			if m, ok := r.lookup(id); ok && ms(m.ExpiresAt) > now {
				out = append(out, m)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// countOtherRooms counts the rooms but except that connection id has a
// membership live at now in, up to max.
func (x *index) countOtherRooms(id string, except roomKey, now int64, max int) int {
	n := 0
	for _, k := range x.roomsOf(id) {
		if n >= max {
			break
		}
		if k == except {
			continue
		}
		sh := x.roomShard(k)
		sh.mu.Lock()
		if r := sh.rooms[k]; r != nil {
			if m, ok := r.lookup(id); ok && ms(m.ExpiresAt) > now {
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// countRoomMembers counts the memberships of a room live at now, up to
// max: when none has expired, the length of its list; otherwise it looks
// at the list until it has counted max.
func (x *index) countRoomMembers(tenantID, roomID string, now int64, max int) int {
	k := roomKey{tenantID, roomID}
	sh := x.roomShard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.rooms[k]
	if r == nil {
		return 0
	}
	n := 0
	if r.minExp > now {
		n = min(r.len(), max)
	} else {
		for _, e := range r.exps {
			if n >= max {
				break
			}
			if e > now {
				n++
			}
		}
	}
	for _, m := range r.expired { // taken out of the list: live again only on a clock that went back
		if n >= max {
			break
		}
		if ms(m.ExpiresAt) > now {
			n++
		}
	}
	return n
}
