package sqlite

import (
	"cmp"
	"slices"
	"strings"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// The parts of the index the writes and the sweep use besides the reads:
// typing slots, lookups of items whatever their expiry, and the scans of
// DeleteExpired and DeleteNodeConnections.

// typingSlot is a connection's last typing event: at, in ms; it stops
// limiting anything at exp (at + the interval).
type typingSlot struct{ at, exp int64 }

// takeTyping records a typing event of connection id at now (ms) unless
// one was recorded less than interval (ms) before: one step under the
// connection's shard.
func (x *index) takeTyping(id string, now, interval int64) bool {
	sh := x.connShard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if t, ok := sh.typing[id]; ok && now-t.at < interval {
		return false
	}
	sh.typing[id] = typingSlot{at: now, exp: now + interval}
	return true
}

// connEntryOf returns connection id's entry, expired or not.
func (x *index) connEntryOf(id string) (*connEntry, bool) {
	sh := x.connShard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.conns[id]
	return e, ok
}

// memberOf returns connection id's membership of room k, expired or not.
func (x *index) memberOf(k roomKey, id string) (store.Membership, bool) {
	sh := x.roomShard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r := sh.rooms[k]; r != nil {
		return r.lookup(id)
	}
	return store.Membership{}, false
}

// removeConn removes connection id with its memberships (expired ones
// too) and its typing slot, and returns the connection and the
// memberships; false if there was no such connection.
func (x *index) removeConn(id string) (store.Connection, []store.Membership, bool) {
	sh := x.connShard(id)
	sh.mu.Lock()
	e, ok := sh.conns[id]
	if !ok {
		sh.mu.Unlock()
		return store.Connection{}, nil, false
	}
	rooms := sh.byConn[id]
	delete(sh.byConn, id)
	delete(sh.typing, id)
	sh.mu.Unlock()
	x.deleteConn(id)
	var members []store.Membership
	for _, k := range rooms {
		if m, ok := x.removeMember(k, id); ok {
			members = append(members, m)
		}
	}
	return e.conn(), members, true
}

// expiredMembers returns the memberships expired at now (ms), oldest
// expiry first, at most limit. A room none of whose memberships has
// expired costs a comparison (roomMembers.minExp).
func (x *index) expiredMembers(now int64, limit int) []store.Membership {
	out := oldest[store.Membership]{n: limit, cmp: func(a, b store.Membership) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.ConnectionID, b.ConnectionID),
			strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.RoomID, b.RoomID))
	}}
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for _, r := range sh.rooms {
			for _, m := range r.expired { // taken out of the list by a read
				if ms(m.ExpiresAt) <= now {
					out.add(m)
				}
			}
			if r.minExp > now {
				continue
			}
			r.exactMinExp()
			if r.minExp > now {
				continue
			}
			for i, e := range r.exps {
				if e <= now {
					out.add(r.at(i))
				}
			}
		}
		sh.mu.Unlock()
	}
	return out.sorted()
}

// expiredConns returns the connections expired at now (ms), oldest expiry
// first, at most limit.
func (x *index) expiredConns(now int64, limit int) []store.Connection {
	out := oldest[store.Connection]{n: limit, cmp: func(a, b store.Connection) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.ConnectionID, b.ConnectionID))
	}}
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for _, e := range sh.conns {
			if !e.live(now) {
				out.add(e.conn())
			}
		}
		sh.mu.Unlock()
	}
	return out.sorted()
}

// oldest keeps the n smallest items added, by cmp: O(log n) amortised per
// item, however many are added (a sort of all of them would make a sweep
// of many expired items, limit at a time, quadratic).
type oldest[T any] struct {
	n     int
	cmp   func(a, b T) int
	items []T
	full  bool // items holds n, sorted, since the last cut: its last bounds what is kept
}

func (o *oldest[T]) add(x T) {
	if o.n <= 0 || (o.full && o.cmp(x, o.items[o.n-1]) >= 0) {
		return
	}
	o.items = append(o.items, x)
	if len(o.items) >= 2*o.n {
		o.cut()
	}
}

// cut sorts the items and keeps the n smallest.
func (o *oldest[T]) cut() {
	slices.SortFunc(o.items, o.cmp)
	if len(o.items) >= o.n {
		clear(o.items[o.n:])
		o.items = o.items[:o.n]
		o.full = true
	}
}

// sorted returns the n smallest items, smallest first.
func (o *oldest[T]) sorted() []T {
	o.cut()
	return o.items
}

// sweepTyping deletes up to limit typing slots that limit nothing at now
// (ms) any more.
func (x *index) sweepTyping(now int64, limit int) {
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for id, t := range sh.typing {
			if limit <= 0 {
				break
			}
			if t.exp <= now {
				delete(sh.typing, id)
				limit--
			}
		}
		sh.mu.Unlock()
	}
}

// typingSlots counts the typing slots (tests).
func (x *index) typingSlots() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		n += len(sh.typing)
		sh.mu.Unlock()
	}
	return n
}

// connsInRange returns the ids of the connections in [lo, hi), expired or
// not, in order, at most limit.
func (x *index) connsInRange(lo, hi string, limit int) []string {
	var ids []string
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		for id := range sh.conns {
			if id >= lo && id < hi {
				ids = append(ids, id)
			}
		}
		sh.mu.Unlock()
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids
}
