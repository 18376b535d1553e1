package sqlite

import (
	"slices"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// memberChunk is the number of memberships in each chunk of a room's list:
// a change of a list that a broadcast holds copies the chunk it changes
// (128 × 136 B = 17 KB) and, the first time after a broadcast, the room's
// spine (24 B per chunk: 1.9 KB at 10,000 members, 19 KB at 100,000),
// never the room. Smaller chunks would make the first cost smaller and
// the second larger.
const memberChunk = 128

// roomMembers is a room's memberships, in no particular order, kept in
// fixed-size chunks: membership p of the list is chunks[p/memberChunk][p%
// memberChunk], n in all. A join appends (O(1), whatever the room's size:
// filling a room of N is O(N), not the O(N²) of a sorted insert), a
// removal moves the last membership into the hole. pos finds a
// connection's membership.
//
// RoomMembers hands the chunks themselves to callers (a room of 10,000 is
// read for every message; store.Members is the view), so a membership a
// snapshot may hold is never changed in place again: a change of it first
// replaces its chunk by a copy (O(memberChunk)), and the spine (chunks) by
// a copy if it was handed out too (O(n/memberChunk)). A room's list is
// never copied whole: a leave, a disconnect or an expiry after a broadcast
// costs one chunk, not the room (issue 14). What may a snapshot hold? The
// memberships the chunks held when it was taken: gen counts snapshots,
// and a chunk (or the spine) made since the last one (its gen is r.gen)
// was never handed out; in one made before, the positions from its filled
// on were never written, so no snapshot holds them, and an append writes
// them in place.
//
// The expiries are kept apart, in exps (ms, exps[p] is membership p's),
// which is never handed out: a heartbeat renews an expiry there, O(1)
// whatever the room's size, without copying a chunk a broadcast holds.
// Everything that decides on expiry (liveness, minExp, the sweep) reads
// exps. A membership's ExpiresAt in a chunk is kept equal to its exps
// while the chunk was never handed out (a renewal writes both) and brought
// up to date by the copy of a chunk; in a chunk that has been handed out it
// may be an older expiry of the membership (see Store.RoomMembers). Reads
// that copy a membership out (at) take exps.
type roomMembers struct {
	chunks   [][]store.Membership // each of length memberChunk
	meta     []chunkMeta          // of chunks[k], at k; never handed out
	n        int
	gen      uint64           // snapshots taken
	spineGen uint64           // gen when chunks (the slice) was made
	exps     []int64          // membership p's expiry in ms, at p
	pos      map[string]int32 // position in the list, by connection id
	// minExp is at most the earliest expiry in exps (ms): a lower bound,
	// made exact again by the read that finds it not after now (a removal
	// or a renewed expiry can leave it below the true earliest).
	minExp int64
	// expired holds, by connection id, the memberships that a read found
	// expired and took out of the list (retire), each with its expiry, until
	// the sweep, a leave, a disconnect or a join again removes it: a
	// broadcast after an expiry still gets the list itself, not a copy of
	// its live memberships (1.37 MB at 10,000, per broadcast until the
	// sweep). Nil while none. The lookups of a membership whatever its
	// expiry (lookup) and the sweep see them.
	expired map[string]store.Membership
}

// chunkMeta is what the list knows of one of its chunks.
type chunkMeta struct {
	gen    uint64 // roomMembers.gen when the chunk was made
	filled int    // its positions written since it was made: [0, filled)
}

func newRoomMembers() *roomMembers { return &roomMembers{pos: make(map[string]int32, 1)} }

// len is the number of memberships in the list, live or expired (not
// those in expired).
func (r *roomMembers) len() int { return r.n }

// empty reports whether r holds no membership, in the list or expired.
func (r *roomMembers) empty() bool { return r.n == 0 && len(r.expired) == 0 }

// lookup returns connection id's membership with its current expiry,
// expired or not, in the list or taken out of it.
func (r *roomMembers) lookup(id string) (store.Membership, bool) {
	if p, ok := r.find(id); ok {
		return r.at(p), true
	}
	m, ok := r.expired[id]
	return m, ok
}

// forget removes connection id's membership from r, wherever it is, and
// returns it.
func (r *roomMembers) forget(id string) (store.Membership, bool) {
	if p, ok := r.find(id); ok {
		m := r.at(p)
		r.remove(p)
		return m, true
	}
	m, ok := r.expired[id]
	if ok {
		r.dropExpired(id)
	}
	return m, ok
}

// dropExpired removes connection id's membership from expired, if there.
func (r *roomMembers) dropExpired(id string) {
	if _, ok := r.expired[id]; ok {
		delete(r.expired, id)
		if len(r.expired) == 0 {
			r.expired = nil
		}
	}
}

// liveOnly makes the list hold exactly the memberships live at now (ms),
// for a read to hand it out: it moves those in expired that are live at
// now (a clock that went back: none on a real one) into the list, O(len
// (expired)), and, if minExp is not after now, those of the list expired
// at now into expired (retire). The caller holds the room's shard.
func (r *roomMembers) liveOnly(now int64) {
	for id, m := range r.expired {
		if ms(m.ExpiresAt) > now {
			r.dropExpired(id)
			r.add(m)
		}
	}
	if r.minExp <= now {
		r.retire(now)
	}
}

// retire moves the memberships of the list expired at now (ms) into
// expired (O(memberChunk) each at most, no copy of the list); then minExp
// is exact. O(n): called by a read that found minExp not after now.
func (r *roomMembers) retire(now int64) {
	for p := r.n - 1; p >= 0; p-- { // the last, moved into a hole, was seen
		if r.exps[p] <= now {
			m := r.at(p)
			if r.expired == nil {
				r.expired = make(map[string]store.Membership)
			}
			r.expired[m.ConnectionID] = m
			r.remove(p)
		}
	}
	r.exactMinExp()
}

// get returns membership p as its chunk holds it (ExpiresAt may be older
// than exps[p]).
func (r *roomMembers) get(p int) store.Membership {
	return r.chunks[p/memberChunk][p%memberChunk]
}

// at returns membership p with its current expiry.
func (r *roomMembers) at(p int) store.Membership {
	m := r.get(p)
	m.ExpiresAt = fromMs(r.exps[p])
	return m
}

// live reports whether membership p is live at now (ms).
func (r *roomMembers) live(p int, now int64) bool { return r.exps[p] > now }

// find returns the position of connection id's membership.
func (r *roomMembers) find(id string) (int, bool) {
	p, ok := r.pos[id]
	return int(p), ok
}

// handedOut reports whether chunk k may be held by a snapshot.
func (r *roomMembers) handedOut(k int) bool { return r.meta[k].gen != r.gen }

// snapshot returns the list as a store.Members that shares its chunks:
// from now on, what they hold is not changed in place.
func (r *roomMembers) snapshot() store.Members {
	r.gen++
	nc := (r.n + memberChunk - 1) / memberChunk
	return store.ChunkedMembers(r.chunks[:nc:nc], r.n)
}

// ownSpine makes the spine safe to change: a copy if it was handed out.
func (r *roomMembers) ownSpine() {
	if r.spineGen != r.gen {
		r.chunks = slices.Clone(r.chunks)
		r.spineGen = r.gen
	}
}

// set writes m at position p (< the number of chunks × memberChunk), first
// replacing p's chunk by a copy if a snapshot may hold p.
func (r *roomMembers) set(p int, m store.Membership) {
	k, o := p/memberChunk, p%memberChunk
	if o < r.meta[k].filled && r.handedOut(k) {
		r.copyChunk(k)
	}
	r.chunks[k][o] = m
	r.meta[k].filled = max(r.meta[k].filled, o+1)
}

// copyChunk replaces chunk k by a copy of its memberships in the list
// (those past the list's end are left behind), with their current
// expiries. O(memberChunk), and the spine's copy if it was handed out.
func (r *roomMembers) copyChunk(k int) {
	c := make([]store.Membership, memberChunk)
	used := min(memberChunk, max(0, r.n-k*memberChunk))
	copy(c, r.chunks[k][:used])
	for o := range used {
		if e := r.exps[k*memberChunk+o]; ms(c[o].ExpiresAt) != e {
			c[o].ExpiresAt = fromMs(e)
		}
	}
	r.ownSpine()
	r.chunks[k] = c
	r.meta[k] = chunkMeta{gen: r.gen, filled: used}
}

// add appends m (whose connection has no membership in r).
func (r *roomMembers) add(m store.Membership) {
	exp := ms(m.ExpiresAt)
	if r.n == 0 || exp < r.minExp {
		r.minExp = exp
	}
	p := r.n
	if p == len(r.chunks)*memberChunk {
		r.ownSpine()
		r.chunks = append(r.chunks, make([]store.Membership, memberChunk))
		r.meta = append(r.meta, chunkMeta{gen: r.gen})
	}
	r.set(p, m)
	r.n++
	r.pos[m.ConnectionID] = int32(p)
	r.exps = append(r.exps, exp)
}

// replace writes m over membership p, of the same connection.
func (r *roomMembers) replace(p int, m store.Membership) {
	r.set(p, m)
	r.exps[p] = ms(m.ExpiresAt)
	r.minExp = min(r.minExp, r.exps[p])
}

// remove deletes membership p, moving the last into its place: it changes
// two chunks at most, copying those a snapshot may hold.
func (r *roomMembers) remove(p int) {
	last := r.n - 1
	delete(r.pos, r.get(p).ConnectionID)
	if p != last {
		m := r.at(last) // its current expiry: its chunk may have been handed out
		r.set(p, m)
		r.exps[p] = r.exps[last]
		r.pos[m.ConnectionID] = int32(p)
	}
	if k := last / memberChunk; !r.handedOut(k) {
		r.chunks[k][last%memberChunk] = store.Membership{} // no strings kept alive past the end
	}
	r.n = last
	r.exps = r.exps[:last]
	// An emptied chunk stays as a spare for the next join; a second one
	// goes (a room at a chunk's boundary does not make one per join).
	if used := (r.n + memberChunk - 1) / memberChunk; len(r.chunks) > used+1 {
		r.chunks, r.meta = r.chunks[:used+1], r.meta[:used+1]
	}
}

// setExpiry moves the expiry of membership p to exp (ms): O(1), no copy of
// a chunk a snapshot may hold (whose membership keeps its older
// ExpiresAt).
func (r *roomMembers) setExpiry(p int, exp int64) {
	r.exps[p] = exp
	if k := p / memberChunk; !r.handedOut(k) {
		r.chunks[k][p%memberChunk].ExpiresAt = fromMs(exp)
	}
	r.minExp = min(r.minExp, exp)
}

// exactMinExp makes minExp the earliest expiry in exps again; the caller
// holds the room's shard. O(len(list)): called by a read that found
// minExp not after now, which filters the list anyway.
func (r *roomMembers) exactMinExp() { r.minExp = minExpiry(r.exps) }

func minExpiry(exps []int64) int64 {
	if len(exps) == 0 {
		return 0
	}
	return slices.Min(exps)
}
