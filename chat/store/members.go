package store

import "iter"

// Members is a room's live memberships as RoomMembers and SendMessage
// return them: a read-only view, in no particular order, that a broadcast
// ranges over. It may share memory with the store and with other callers
// (the embedded store hands out its own chunks of a room's list rather
// than copy a room of 10,000 per broadcast): callers must not modify the
// memberships Chunk returns, and nothing a store does later changes what
// a Members lists (a membership removed afterwards stays in it; the next
// RoomMembers no longer lists it). Slice copies it for a caller that
// wants a slice of its own.
//
// It is a list of chunks of one length, all full but the last, n
// memberships in all: the embedded store keeps a room's list in fixed-size
// chunks so that a removal copies (at most) the one chunk it changes,
// never the room; the other stores wrap the one slice they read
// (MembersOf). The zero Members is empty.
type Members struct {
	chunks [][]Membership
	n      int
}

// MembersOf is a Members of ms, which the caller must not modify
// afterwards.
func MembersOf(ms []Membership) Members {
	if len(ms) == 0 {
		return Members{}
	}
	return Members{chunks: [][]Membership{ms}, n: len(ms)}
}

// ChunkedMembers is a Members of the first n memberships of chunks, in
// order. The chunks are all of one length, enough for n, and n needs the
// last one (0 < n - (len(chunks)-1)*len(chunks[0]) <= len(chunks[0])): all
// of each chunk but the last counts, and the first memberships of the last
// up to n (those after them are ignored and may change). The caller must
// not modify the memberships that count afterwards.
func ChunkedMembers(chunks [][]Membership, n int) Members {
	if n == 0 {
		return Members{}
	}
	return Members{chunks: chunks, n: n}
}

// Len is the number of memberships.
func (m Members) Len() int { return m.n }

// NumChunks is the number of chunks the memberships are in. Chunk(k) for
// k in [0, NumChunks) ranges over them all without a closure (what a
// broadcast to a large room does: All's body is a closure, and a variable
// it changes, such as the list of recipients it appends to, is reached
// through a pointer, which makes the loop ~2.5x slower).
func (m Members) NumChunks() int { return len(m.chunks) }

// Chunk returns the memberships of chunk k, sharing memory with the
// store: the caller must not modify them. Its capacity is its length, so
// that an append copies it rather than write into the store's chunk (the
// last one's room to spare is where the store's next join goes).
func (m Members) Chunk(k int) []Membership {
	c := m.chunks[k]
	if k == len(m.chunks)-1 {
		n := m.n - k*len(m.chunks[0])
		return c[:n:n]
	}
	return c[:len(c):len(c)]
}

// All yields the memberships, in the order of the list.
func (m Members) All() iter.Seq[Membership] {
	return func(yield func(Membership) bool) {
		for k := range m.chunks {
			for _, x := range m.Chunk(k) {
				if !yield(x) {
					return
				}
			}
		}
	}
}

// Slice returns a copy of the memberships, in order (nil if none).
func (m Members) Slice() []Membership {
	if m.n == 0 {
		return nil
	}
	out := make([]Membership, 0, m.n)
	for x := range m.All() {
		out = append(out, x)
	}
	return out
}
